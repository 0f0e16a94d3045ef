"""Engines and migrations."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text

from audiodas.config import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x617564696F646173  # "audiodas"


def create_engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def open_database(settings: Settings) -> Engine:
    """The deployment's database, migrated to the newest revision (the data folder, where the
    SQLite file lives, made first). Every entry point opens it this way."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.sqlalchemy_url)
    migrate(engine)
    return engine


def libpq_url(engine: Engine) -> str:
    """The PostgreSQL engine's address as psycopg takes it (for procrastinate and LISTEN)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers run beside the writer; foreign keys make ON DELETE CASCADE work.
    cursor = dbapi_connection.cursor()
    _enter_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _enter_wal(cursor, wait_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    # Switching a new file to WAL takes an exclusive lock without SQLite's busy handler, so
    # processes opening a fresh database together get "database is locked": wait it out.
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (run at start-up)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        # Processes and nodes start together: one migrates, the others wait for its commit,
        # then find nothing left to do.
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        else:
            # sqlite3 would run the DDL outside any transaction, unlocked.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
