"""Where the API runs its database reads (list, read one, the events' snapshots, health).

On SQLite a read is a call into the process's own library, cheaper than handing it to a thread
(profiled: the hand-offs were the largest share of the API's CPU), so it runs on the event loop.
On PostgreSQL it is a round trip to a server process that needs a core of its own to answer:
while the engine kept both cores busy, an HTTP process's event loop spent ~45 % of its time
waiting on those round trips (py-spy, 1000 listeners and a short upload a second), and every
other request on it waited too. There each read runs in a worker thread and the loop goes on
serving meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from anyio import CapacityLimiter, to_thread

P = ParamSpec("P")
T = TypeVar("T")


class Reads:
    def __init__(self, *, in_threads: bool, at_once: int = 8) -> None:
        """`at_once`: reads in flight per process, fewer than the pool's connections (10), so a
        read never waits for one behind the uploads' and deletes' writes."""
        self.in_threads = in_threads
        self._limiter = CapacityLimiter(at_once) if in_threads else None

    async def __call__(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._limiter is None:
            return read(*args, **kwargs)
        return await to_thread.run_sync(
            functools.partial(read, *args, **kwargs), limiter=self._limiter
        )
