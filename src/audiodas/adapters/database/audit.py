"""The audit trail on SQLAlchemy (domain/audit.py): entries appended under the chain's head row,
which every appender updates first, so that appends from any number of processes and machines
take turns and form one chain; an entry is appended in the transaction of what it records (the
upload, the delete), or in one of its own."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC

from sqlalchemy import Connection, Engine, select, update

from audiodas.adapters.database.connect import reads
from audiodas.adapters.database.tables import AuditHeadRow, AuditRow
from audiodas.adapters.failures import at_the_edge
from audiodas.domain.audit import Action, AuditEntry, StoredEntry, canonical, entry_hash

_HEAD = AuditHeadRow.__table__
_LOG = AuditRow.__table__


def append_in(connection: Connection, entry: AuditEntry) -> AuditEntry:
    """Append `entry` in `connection`'s transaction; the entry as appended."""
    seq, previous = connection.execute(
        update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1)
        .returning(_HEAD.c.seq, _HEAD.c.hash)
    ).one()  # fmt: skip
    detail = canonical(entry.detail)
    at = entry.at.astimezone(UTC)  # as it reads back, to the microsecond
    digest = entry_hash(
        previous, seq, at, entry.actor, str(entry.action), entry.recording_id, detail
    )
    connection.execute(update(_HEAD).where(_HEAD.c.id == 1).values(hash=digest))
    connection.execute(
        _LOG.insert(),
        {
            "seq": seq, "at": at, "actor": entry.actor, "action": str(entry.action),
            "recording_id": entry.recording_id, "detail": detail,
            "prev_hash": previous, "hash": digest,
        },
    )  # fmt: skip
    return replace(entry, seq=seq, prev_hash=previous, hash=digest)


@at_the_edge
class SqlAuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = reads(engine)

    def append(self, entry: AuditEntry) -> AuditEntry:
        with self.engine.begin() as connection:
            return append_in(connection, entry)

    def page(
        self,
        *,
        limit: int,
        before: int | None = None,
        recording_id: str | None = None,
        action: Action | None = None,
    ) -> list[AuditEntry]:
        """Newest first: entries numbered below `before`, of the recording and action asked."""
        query = select(_LOG).order_by(_LOG.c.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(_LOG.c.seq < before)
        if recording_id is not None:
            query = query.where(_LOG.c.recording_id == recording_id)
        if action is not None:
            query = query.where(_LOG.c.action == str(action))
        with self._reads.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def stored(self, *, after: int = 0, limit: int = 1000) -> list[StoredEntry]:
        """Entries as stored, in order, numbered above `after` (to verify the chain)."""
        query = select(_LOG).where(_LOG.c.seq > after).order_by(_LOG.c.seq).limit(limit)
        with self._reads.connect() as connection:
            return [
                StoredEntry(r.seq, r.at, r.actor, r.action, r.recording_id, r.detail,
                            r.prev_hash, r.hash)
                for r in connection.execute(query)
            ]  # fmt: skip

    def head(self) -> tuple[int, str]:
        with self._reads.connect() as connection:
            row = connection.execute(select(_HEAD.c.seq, _HEAD.c.hash)).one()
            return row.seq, row.hash


def _entry(row) -> AuditEntry:  # type: ignore[no-untyped-def]
    return AuditEntry(
        row.at, row.actor, Action(row.action), row.recording_id, json.loads(row.detail),
        row.seq, row.prev_hash, row.hash,
    )  # fmt: skip
