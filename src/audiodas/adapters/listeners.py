"""The subscriber list every EventBus keeps: subscribe, and deliver to each in turn."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("audiodas.bus")


class Listeners:
    def __init__(self) -> None:
        self._listeners: list[Callable[[dict], None]] = []

    def subscribe(self, listener: Callable[[dict], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def deliver(self, event: dict) -> None:
        # One failing listener must not starve the others.
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
