"""The original upload's own retention (AUDIODAS_ORIGINAL_RETENTION_DAYS), run by the engine
beside its work: every `original_sweep_s`, the originals past it are removed
(RecordingService.remove_due_originals); the archive copies stay for their legal retention."""

from __future__ import annotations

import asyncio
import logging

from audiodas.domain import Unavailable
from audiodas.services.recordings import RecordingService

log = logging.getLogger("audiodas.retention")


class OriginalRetention:  # a Service
    def __init__(self, service: RecordingService, every_s: float) -> None:
        self.service = service
        self.every_s = every_s

    async def run(self) -> None:
        while True:
            try:
                removed = await asyncio.to_thread(self.service.remove_due_originals)
            except Unavailable as exc:  # the database or store is out of reach: next time
                log.warning("originals past their retention not removed now: %s", exc)
            else:
                if removed:
                    log.info("%d originals past AUDIODAS_ORIGINAL_RETENTION_DAYS removed", removed)
            await asyncio.sleep(self.every_s)
