"""Wiring: builds the adapters and services from Settings, once per process.
The API, the worker and the CLI all start from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from audiodas.adapters.database import SqlRecordingRepository, create_engine_for, migrate
from audiodas.adapters.media import probe
from audiodas.adapters.storage import FileStore
from audiodas.adapters.topics_file import load_topics
from audiodas.config import Settings
from audiodas.domain.topics import Topic
from audiodas.metrics import Metrics
from audiodas.services import RecordingService

if TYPE_CHECKING:
    from audiodas.engine.ai import SpeechAI
    from audiodas.engine.slots import Slots


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    repository: SqlRecordingRepository
    store: FileStore
    service: RecordingService
    metrics: Metrics
    topics: dict[str, Topic]
    # Heavy-work slots by kind, as the parts that use them add them (AI, engine), for /metrics.
    slots: dict[str, Slots] = field(default_factory=dict)
    _ai: SpeechAI | None = field(default=None, repr=False)

    @property
    def ai(self) -> SpeechAI:
        """The process's models and AI slots, created on first use (API-only processes that
        never transcribe never load a model)."""
        if self._ai is None:
            from audiodas.engine.ai import SpeechAI

            self._ai = SpeechAI(self.settings)
            self.slots["ai"] = self._ai.slots
        return self._ai

    def close(self) -> None:
        if self._ai is not None:
            self._ai.close()
        self.engine.dispose()


def open_runtime(settings: Settings) -> Runtime:
    settings.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.sqlalchemy_url)
    migrate(engine)
    repository = SqlRecordingRepository(engine)
    store = FileStore(settings.data_path)
    store.clean_tmp()
    topics = load_topics(settings.topics_file)
    service = RecordingService(settings, repository, store, probe, topics)
    metrics = Metrics()
    metrics.gauge_from(
        "audiodas_recordings",
        "Recordings by status.",
        "status",
        lambda: {s.value: n for s, n in repository.count_by_status().items()},
    )
    runtime = Runtime(settings, engine, repository, store, service, metrics, topics)
    for name, what, read in [
        ("audiodas_slots_in_use", "Heavy-work slots held now, by kind.", lambda s: s.in_use),
        ("audiodas_slots_capacity", "Heavy-work slots, by kind.", lambda s: s.capacity),
        (
            "audiodas_slots_peak",
            "Most slots ever held at once since start, by kind.",
            lambda s: s.peak,
        ),
    ]:
        metrics.gauge_from(
            name, what, "kind", lambda read=read: {k: read(s) for k, s in runtime.slots.items()}
        )
    return runtime
