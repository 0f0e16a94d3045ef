"""SQL storage (SQLite or PostgreSQL) through SQLAlchemy 2, schema managed by Alembic."""

from audiodas.adapters.database.connect import create_engine_for, migrate, open_database
from audiodas.adapters.database.repository import SqlRecordingRepository
from audiodas.adapters.database.webhooks import SqlWebhookOutbox
from audiodas.adapters.database.work_queue import SqlWorkQueue

__all__ = [
    "SqlRecordingRepository",
    "SqlWebhookOutbox",
    "SqlWorkQueue",
    "create_engine_for",
    "migrate",
    "open_database",
]
