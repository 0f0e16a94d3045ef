"""The JSON of recordings as the API serves it, rendered once per version and reused.

Every change to a recording moves its `updated_at` (stage saves, status changes), so a cached
rendering is checked with one small indexed query of versions and rebuilt only when it moved:
never stale, and a list of 50 finished recordings costs one query instead of three plus fifty
object graphs (profiled: that was a third of the API's CPU under load). The bytes sent are kept
too, with the links they carry, until those links' expiry moves on: a list is then its items'
bytes joined (adding the links and encoding them was half of a list's CPU).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from datetime import datetime

from audiodas.api.schemas import match_body, recording_body, render_json
from audiodas.domain import Order, RecordingStatus
from audiodas.services import RecordingService
from audiodas.services.access import OPEN, AccessControl, Grant

_SIZE = 10_000  # renderings kept per process, least recently used first out


class RecordingViews:
    def __init__(
        self, service: RecordingService, access: AccessControl, grant: Grant = OPEN
    ) -> None:
        self.service = service
        self.access = access
        self.grant = grant  # what the links in these renderings may carry
        self._items: _Renderings = _Renderings()  # as listed: no transcript
        self._full: _Renderings = _Renderings()  # as read one by one
        # Signed links by (recording, its variants): the same until their expiry moves on (a
        # step of at most a minute), so a list of 50 is not 200 HMACs on every read.
        self._links: dict[tuple, tuple[int, dict[str, str], str]] = {}
        # The bytes of a rendering with its links, by (recording, key): (the rendering, the
        # links' expiry, the bytes).
        self._bytes: dict[tuple, tuple[dict, int, bytes]] = {}

    def granted(self, grant: Grant) -> RecordingViews:
        """These views (the same caches) for a request whose links carry `grant`."""
        if grant == self.grant:
            return self
        views = copy.copy(self)
        views.grant = grant
        return views

    async def page_json(
        self,
        *,
        limit: int,
        cursor: str | None,
        status: RecordingStatus | None,
        order: Order = Order.NEWEST,
    ) -> bytes:
        """A page of recordings in `order`, as listed (no transcript), as JSON."""
        page = await self.service.versions(limit=limit, cursor=cursor, status=status, order=order)
        items = await self._listed(page.items)
        expires = self.access.link_expiry(self.grant)
        rendered = b",".join(self._rendered(item, expires) for item in items if item is not None)
        return b'{"items":[%b],"next_cursor":%b}' % (rendered, render_json(page.next_cursor))

    async def one_json(self, recording_id: str) -> bytes:
        """`one`, as the bytes it renders to."""
        return self._rendered(await self._one(recording_id), self.access.link_expiry(self.grant))

    async def search(
        self, query: str, *, limit: int, cursor: str | None, status: RecordingStatus | None
    ) -> dict:
        """As `page`, best match first, each item with its `match`."""
        page = self.service.search(query, limit=limit, cursor=cursor, status=status)
        items = await self._listed([(hit.recording_id, hit.updated_at) for hit in page.items])
        return {
            "items": [
                {**self.linked(item), "match": match_body(hit.match)}
                for hit, item in zip(page.items, items, strict=True)
                if item is not None
            ],
            "next_cursor": page.next_cursor,
        }

    async def _listed(self, versions: list[tuple[str, datetime]]) -> list[dict | None]:
        """Renderings as listed, for (id, updated_at) pairs; None for one deleted meanwhile."""
        missing = [i for i, version in versions if self._items.get(i, version) is None]
        if missing:
            for recording in await self.service.reads.get_many(missing):
                self._items.put(
                    recording.id, recording.updated_at, recording_body(recording, transcript=False)
                )
        return [self._items.get(i, v) or self._items.latest(i) for i, v in versions]

    async def one(self, recording_id: str) -> dict:
        return self.linked(await self._one(recording_id))

    async def _one(self, recording_id: str) -> dict:
        """The recording's rendering as read one by one, without links."""
        version = await self.service.version(recording_id)  # 404 for an unknown id
        body = self._full.get(recording_id, version)
        if body is None:
            recording = await self.service.read(recording_id)
            body = recording_body(recording)
            self._full.put(recording_id, recording.updated_at, body)
        return body

    def _rendered(self, body: dict, expires: int) -> bytes:
        """`linked(body)` as bytes, kept while the rendering and its links' expiry stay."""
        key = (body["id"], self.grant.key_id)
        cached = self._bytes.get(key)
        if cached is not None and cached[0] is body and cached[1] == expires:
            return cached[2]
        rendered = render_json(self.linked(body))
        if len(self._bytes) >= 2 * _SIZE:
            self._bytes.clear()
        self._bytes[key] = (body, expires, rendered)
        return rendered

    def linked(self, body: dict) -> dict:
        """The body with signed links (they expire, so they are added to a cached rendering,
        never kept in it): each variant's stream and the events stream, usable without a key
        by an <audio> element and an EventSource."""
        grant = self.grant
        expires = self.access.link_expiry(grant)
        variants = tuple(body["variants"])
        key = (body["id"], variants, grant.key_id)
        cached = self._links.get(key)
        if cached is None or cached[0] != expires:
            base = f"/api/v1/recordings/{body['id']}"
            sign = self.access.sign
            streams = {
                name: sign(f"{base}/stream", expires, grant, variant=name) for name in variants
            }
            cached = (expires, streams, sign(f"{base}/events", expires, grant))
            if len(self._links) >= _SIZE:
                self._links.clear()
            self._links[key] = cached
        _, streams, events_url = cached
        variants = {
            name: {**about, "signed_url": streams[name]} for name, about in body["variants"].items()
        }
        return {**body, "variants": variants, "events_url": events_url}


class _Renderings:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[datetime, dict]] = OrderedDict()

    def get(self, recording_id: str, version: datetime) -> dict | None:
        entry = self._entries.get(recording_id)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(recording_id)
        return entry[1]

    def latest(self, recording_id: str) -> dict | None:
        """Whatever is held (a recording that changed between the two queries of a page)."""
        entry = self._entries.get(recording_id)
        return entry[1] if entry else None

    def put(self, recording_id: str, version: datetime, body: dict) -> None:
        self._entries[recording_id] = (version, body)
        self._entries.move_to_end(recording_id)
        if len(self._entries) > _SIZE:
            self._entries.popitem(last=False)
