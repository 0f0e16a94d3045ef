"""Slots: a semaphore per kind of heavy work that also counts what it lets through, so limits
are observed (metrics, tests), not assumed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Slots:
    def __init__(self, kind: str, capacity: int) -> None:
        self.kind = kind
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self._semaphore = asyncio.Semaphore(capacity)

    @asynccontextmanager
    async def hold(self, wait: float | None = None) -> AsyncIterator[None]:
        """Hold a slot; with `wait`, raise TimeoutError if none frees up within that many seconds."""
        await asyncio.wait_for(self._semaphore.acquire(), wait)
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            self.in_use -= 1
            self._semaphore.release()

    def as_dict(self) -> dict:
        return {"in_use": self.in_use, "capacity": self.capacity, "peak": self.peak}
