"""Wiring: builds the adapters and services from Settings, once per process.
The API, the engine and the CLI all start from here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy

from audiodas.adapters import engine_reports, secret_file
from audiodas.adapters.database import (
    SqlRecordingRepository,
    SqlWebhookOutbox,
    SqlWorkQueue,
    open_database,
)
from audiodas.adapters.database.audit import SqlAuditLog
from audiodas.adapters.database.awaited import awaited_reads
from audiodas.adapters.database.connect import libpq_url
from audiodas.adapters.database.keys import SqlApiKeyRepository
from audiodas.adapters.database.pg_bus import PostgresBus
from audiodas.adapters.database.procrastinate_queue import ProcrastinateWorkQueue
from audiodas.adapters.engine_reports import StateFile
from audiodas.adapters.ffmpeg import FFmpegEncoder, ffmpeg_binary
from audiodas.adapters.local_bus import LocalBus
from audiodas.adapters.media import probe
from audiodas.adapters.storage import LocalBlobStore
from audiodas.adapters.topics_file import load_topics
from audiodas.adapters.webhook_sender import WebhookSender
from audiodas.config import Settings
from audiodas.domain import RecordingRepository
from audiodas.domain.topics import Topic
from audiodas.engine import Engine, Pipeline
from audiodas.inference import InferencePool, InferenceServer
from audiodas.inference.waveforms import measure_waveform
from audiodas.metrics import Metrics
from audiodas.services import RecordingService
from audiodas.services.access import AccessControl
from audiodas.services.ports import (
    AuditLog,
    BlobStore,
    Clock,
    EventBus,
    SystemClock,
    WebhookOutbox,
    WorkQueue,
)
from audiodas.services.retention import OriginalRetention
from audiodas.slots import Slots

if TYPE_CHECKING:  # imported only when configured: boto3 is the s3 extra's
    from audiodas.adapters.object_storage import S3BlobStore


@dataclass
class Runtime:
    settings: Settings
    database: sqlalchemy.Engine  # the connections' pool
    repository: RecordingRepository
    store: BlobStore
    events: EventBus
    work: WorkQueue
    service: RecordingService
    metrics: Metrics
    topics: dict[str, Topic]
    access: AccessControl
    webhooks: WebhookOutbox
    clock: Clock
    audit: AuditLog

    async def start(self) -> None:
        """Start listening to the event bus (needs the running event loop)."""
        await self.events.start()

    async def close(self) -> None:
        await self.events.close()
        await self.service.reads.close()
        self.store.close()
        self.database.dispose()


def open_store(settings: Settings) -> LocalBlobStore | S3BlobStore:
    """The recordings' files: a folder (the default), or S3-compatible object storage."""
    url = settings.storage_url or ""
    if url.startswith("s3://"):
        from audiodas.adapters.object_storage import S3BlobStore

        return S3BlobStore(
            url,
            settings.data_path,
            scratch_mb=settings.scratch_mb,
            endpoint_url=settings.s3_endpoint_url,
            region=os.environ.get("AWS_REGION"),
            redirect_to=(settings.s3_public_url or settings.s3_endpoint_url)
            if settings.s3_stream == "redirect"
            else None,
        )
    if url and not url.startswith("file://"):
        raise ValueError(f"AUDIODAS_STORAGE_URL must be file://PATH or s3://bucket/prefix: {url!r}")
    return LocalBlobStore(Path(url.removeprefix("file://")) if url else settings.data_path)


def open_runtime(
    settings: Settings,
    *,
    events: EventBus | None = None,
    work: WorkQueue | None = None,
    clock: Clock | None = None,
) -> Runtime:
    """The adapters `settings` describe; `events`, `work` and `clock` replace the bus, the queue
    and the system's clock (`audiodas.testing` has in-memory ones)."""
    clock = clock or SystemClock()
    database = open_database(settings)
    repository = SqlRecordingRepository(database)
    store = open_store(settings)
    store.clean_tmp()
    # PostgreSQL deployments may span machines: events and work go through the database.
    postgresql = database.dialect.name == "postgresql"
    if events is None:
        events = PostgresBus(libpq_url(database)) if postgresql else LocalBus(settings.run_path)
    if work is None:
        work = (
            ProcrastinateWorkQueue(database, settings)
            if postgresql
            else SqlWorkQueue(database, events, settings, clock)
        )
    topics = load_topics(settings.topics_file)
    webhooks = SqlWebhookOutbox(database, clock)
    service = RecordingService(
        settings, repository, store, probe, topics, work, measure_waveform, webhooks,
        awaited_reads(repository), clock,
    )  # fmt: skip
    metrics = Metrics()
    metrics.gauge_from(
        "audiodas_webhooks_pending",
        "Webhook deliveries neither delivered nor given up yet.",
        None,
        webhooks.pending,
    )
    metrics.gauge_from(
        "audiodas_recordings",
        "Recordings by status.",
        "status",
        lambda: {s.value: n for s, n in repository.count_by_status().items()},
    )
    for key, what in [
        ("in_use", "Heavy-work slots held now, by kind (all engines)."),
        ("capacity", "Heavy-work slots, by kind (all engines)."),
        ("peak", "Most slots held at once since start, by kind (the busiest engine)."),
    ]:
        metrics.gauge_from(
            f"audiodas_slots_{key}",
            what,
            "kind",
            lambda key=key: _engine_slots(settings, key),
        )
    audit = SqlAuditLog(database)
    access = open_access(settings, database, audit)
    return Runtime(
        settings, database, repository, store, events, work, service, metrics, topics, access,
        webhooks, clock, audit,
    )  # fmt: skip


def open_access(
    settings: Settings, database: sqlalchemy.Engine, audit: AuditLog | None = None
) -> AccessControl:
    """Keys and signed links on the deployment's database and secret (also for the CLI)."""
    return AccessControl(
        settings, SqlApiKeyRepository(database), signing_secret(settings),
        audit=audit or SqlAuditLog(database),
    )  # fmt: skip


def signing_secret(settings: Settings) -> bytes:
    """AUDIODAS_SIGNING_SECRET, or the one generated into the data folder every node shares."""
    if settings.signing_secret is not None:
        return settings.signing_secret.get_secret_value().encode()
    return secret_file.load_or_create(settings.data_path / "secret")


def _engine_slots(settings: Settings, key: str) -> dict[str, float]:
    """Slots as the engines running on this machine last reported them."""
    totals = engine_reports.slot_totals(engine_reports.live_states(settings.run_path))
    return {kind: slots[key] for kind, slots in totals.items()}


def open_engine(runtime: Runtime, *, consume: bool = True) -> Engine:
    """The engine from its parts: the inference processes (one per AI slot) and their service
    to the API's processes, the slots, FFmpeg, the pipeline, the state file and, when webhooks
    are configured, their sender. `consume=False`: inference only (an API node)."""
    settings = runtime.settings
    ai = InferencePool(settings)
    slots = {
        "ai": ai.slots,
        "recordings": Slots("recordings", settings.recording_slots),
        "ffmpeg": Slots("ffmpeg", settings.ffmpeg_slots),
    }
    encoder = FFmpegEncoder(
        ffmpeg_binary(settings.ffmpeg),
        nice=settings.heavy_work_nice,
        idle_policy=settings.heavy_work_idle_policy,
    )
    pipeline = Pipeline(
        settings, runtime.repository, runtime.store, ai, encoder, runtime.topics,
        runtime.metrics, slots["ffmpeg"], runtime.events, runtime.clock,
    )  # fmt: skip
    secret = settings.webhook_secret
    webhooks = (
        WebhookSender(settings, runtime.webhooks, secret.get_secret_value().encode())
        if secret is not None
        else None
    )
    # Live sessions' decoding: a process of its own (started with the first session), after the
    # API but before batch work, which keeps its AI slots.
    live = InferencePool(
        settings,
        Slots("live", 1),
        env={"AUDIODAS_HEAVY_WORK_NICE": str(settings.live_nice),
             "AUDIODAS_HEAVY_WORK_IDLE_POLICY": "false"},
    ) if settings.live_sessions else None  # fmt: skip
    server = InferenceServer(ai, settings.run_path, live, settings.live_sessions)
    originals = (
        (OriginalRetention(runtime.service, settings.original_sweep_s),)
        if settings.original_retention_days is not None
        else ()
    )
    return Engine(
        settings, runtime.work, runtime.repository, pipeline, ai, server, slots,
        StateFile(settings.run_path), webhooks, consume=consume, services=originals,
    )  # fmt: skip
