"""Wiring: builds the adapters and services from Settings, once per process.
The API, the worker and the CLI all start from here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from audiodas.adapters.database import SqlRecordingRepository, create_engine_for, migrate
from audiodas.adapters.media import probe
from audiodas.adapters.storage import FileStore
from audiodas.config import Settings
from audiodas.metrics import Metrics
from audiodas.services import RecordingService


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    repository: SqlRecordingRepository
    store: FileStore
    service: RecordingService
    metrics: Metrics

    def close(self) -> None:
        self.engine.dispose()


def open_runtime(settings: Settings) -> Runtime:
    settings.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.sqlalchemy_url)
    migrate(engine)
    repository = SqlRecordingRepository(engine)
    store = FileStore(settings.data_path)
    store.clean_tmp()
    service = RecordingService(settings, repository, store, probe)
    metrics = Metrics()
    metrics.gauge_from(
        "audiodas_recordings",
        "Recordings by status.",
        "status",
        lambda: {s.value: n for s, n in repository.count_by_status().items()},
    )
    return Runtime(settings, engine, repository, store, service, metrics)
