"""Sends the outbox's webhook deliveries: signed POSTs, retried with back-off, given up after
`webhook_max_attempts`. Run by every engine; the outbox's leases keep two engines from sending
the same delivery at once. A crash between a receiver's answer and its recording means one
repeat: receivers drop repeats by the `AudioDAS-Delivery` id. The secret is never logged."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import httpcore
import httpx

from audiodas import __version__
from audiodas.config import Settings
from audiodas.domain.webhooks import Delivery, backoff, private, shown
from audiodas.services.ports import WebhookOutbox
from audiodas.services.signing import webhook_signature

log = logging.getLogger("audiodas.webhooks")

POLL_S = 1.0  # how often an idle sender looks for due deliveries (one indexed query)
MAX_ANSWER_BYTES = 4096  # of a receiver's answer body: read for its error, never more


class Refused(Exception):
    """The target is not one this server may call: no retry can help."""


class AnswerError(Exception):
    """The receiver answered, with something other than a 2xx."""


async def _start_of(answer: httpx.Response) -> str:
    """The beginning of an answer's body, for its error (a receiver may send gigabytes)."""
    read = b""
    async for chunk in answer.aiter_raw():
        read += chunk
        if len(read) >= MAX_ANSWER_BYTES:
            break
    text = read[:200].decode(errors="replace").strip().splitlines()
    return f": {text[0]}" if text else ""


class WebhookSender:
    def __init__(self, settings: Settings, outbox: WebhookOutbox, secret: bytes) -> None:
        self.settings = settings
        self.outbox = outbox
        self.secret = secret
        self._lease_s = settings.webhook_timeout_s * 3

    def client(self) -> httpx.AsyncClient:
        """The client deliveries are sent with: it connects only to public addresses unless
        private ones are allowed, follows no redirect (one could lead to a private one) and
        takes no proxy from the environment (a proxy would connect wherever it is asked)."""
        return httpx.AsyncClient(
            transport=None if self.settings.webhook_allow_private else PublicTransport(),
            timeout=self.settings.webhook_timeout_s,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"AudioDAS/{__version__}"},
        )

    async def run(self) -> None:
        """Send due deliveries, `webhook_concurrency` at once, until cancelled (a delivery cut
        short is sent again when its lease runs out)."""
        async with self.client() as client, asyncio.TaskGroup() as senders:
            for _ in range(self.settings.webhook_concurrency):
                senders.create_task(self._send_forever(client))

    async def _send_forever(self, client: httpx.AsyncClient) -> None:
        while True:
            try:
                delivery = await asyncio.to_thread(self.outbox.claim, self._lease_s)
                if delivery is not None:
                    await self.send(client, delivery)
                    continue
            except Exception:  # the database is away: its lease brings the delivery back
                log.exception("webhook outbox unavailable")
            await asyncio.sleep(POLL_S)

    async def send(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "AudioDAS-Event": delivery.event,
            "AudioDAS-Delivery": delivery.id,
            "AudioDAS-Signature": webhook_signature(delivery.body, int(time.time()), self.secret),
        }
        limit = self.settings.webhook_timeout_s
        try:
            # httpx's timeout is per read: a receiver dripping bytes would never reach it.
            async with (
                asyncio.timeout(limit),
                client.stream(
                    "POST", delivery.url, content=delivery.body, headers=headers
                ) as answer,
            ):
                if not answer.is_success:
                    said = await _start_of(answer)
                    raise AnswerError(f"answered {answer.status_code}{said}")
        except TimeoutError:
            await self._failed(delivery, f"no answer within {limit:g} s")
            return
        except Refused as exc:
            await asyncio.to_thread(self.outbox.give_up, delivery.id, str(exc))
            log.warning("webhook %s to %s refused: %s", delivery.event, shown(delivery.url), exc)
            return
        except Exception as exc:  # no answer, a non-2xx one, a URL httpx cannot use
            await self._failed(delivery, str(exc) or type(exc).__name__)
            return
        await asyncio.to_thread(self.outbox.delivered, delivery.id)
        log.info("webhook %s delivered to %s", delivery.event, shown(delivery.url))

    async def _failed(self, delivery: Delivery, error: str) -> None:
        if delivery.attempts >= self.settings.webhook_max_attempts:
            await asyncio.to_thread(self.outbox.give_up, delivery.id, error)
            log.warning("webhook %s to %s given up after %d attempts: %s",
                        delivery.event, shown(delivery.url), delivery.attempts, error)  # fmt: skip
        else:
            at = datetime.now(UTC) + backoff(delivery.attempts, self.settings.webhook_backoff_s)
            await asyncio.to_thread(self.outbox.retry, delivery.id, error, at)
            log.info("webhook %s to %s failed (attempt %d), next at %s: %s",
                     delivery.event, shown(delivery.url), delivery.attempts, at, error)  # fmt: skip


class PublicAddresses(httpcore.AsyncNetworkBackend):
    """Connects only if every address the host resolves to is public, and then to the first of
    those checked addresses that answers: resolving again to connect would let a name be
    re-pointed at a private address in between (DNS rebinding). TLS still verifies the host's
    name, not the address."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [str(info[4][0]) for info in found]
        if not addresses or any(private(address) for address in addresses):
            raise Refused(f"{host} resolves to a loopback or private address")
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in dict.fromkeys(addresses):  # in the resolver's order
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # e.g. an IPv6 address on a machine with no IPv6 route
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class PublicTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over `PublicAddresses`. httpx takes no network backend, so its
    connection pool is rebuilt with one (the pool is what httpx's transport sends through).
    Environment proxies are not used: a proxy would resolve and connect unchecked."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=PublicAddresses()
        )
