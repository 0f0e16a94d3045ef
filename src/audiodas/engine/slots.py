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
    async def hold(self) -> AsyncIterator[None]:
        async with self._semaphore:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
            try:
                yield
            finally:
                self.in_use -= 1
