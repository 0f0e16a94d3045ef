"""How the database is opened: SQLAlchemy's engine (its pool, the pings of idle connections,
autocommit reads) and the schema's migrations."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, text

from audiodas.config import Settings

log = logging.getLogger("audiodas.database")

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x617564696F646173  # "audiodas"
PING_AFTER_S = 10.0  # a pooled connection unused this long may have gone with its server


def create_engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Not pool_pre_ping: a SELECT 1 before every use was the API's largest cost on PostgreSQL
    # (profiled at 1000 users: more than the queries). A connection in steady use is not
    # pinged; one that failed anyway invalidates the pool, and the request gets a 503.
    return ping_if_idle(create_engine(url, pool_size=10, max_overflow=20))


def ping_if_idle(engine: Engine) -> Engine:
    """Ping a pooled connection before use only if it sat unused past `PING_AFTER_S`."""
    event.listen(engine.pool, "checkin", _note_idle)
    event.listen(engine.pool, "checkout", lambda *args: _ping_if_idle(engine, *args))
    return engine


def reads(engine: Engine) -> Engine:
    """The same pool for reads, each statement on its own (autocommit): one round trip to
    PostgreSQL per query, instead of BEGIN, the query and ROLLBACK. Reads see the same as in a
    READ COMMITTED transaction (a snapshot per statement), SQLite's as before."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def open_database(settings: Settings) -> Engine:
    """The deployment's database, migrated to the newest revision (the data folder, where the
    SQLite file lives, made first). Every entry point opens it this way."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.sqlalchemy_url)
    wait_until_reachable(engine, settings.database_wait_s)
    migrate(engine)
    return engine


def wait_until_reachable(engine: Engine, wait_s: float) -> None:
    """Return once PostgreSQL accepts a connection, trying again for up to `wait_s`: services
    that start together (compose, a reboot) find the database a moment later, and a container
    network's name server can fail a lookup while containers join it (seen with podman). The
    last error is raised if it never answers. SQLite is a file: nothing to wait for."""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + wait_s
    delay = 0.25
    while True:
        try:
            with engine.connect():
                return
        except exc.OperationalError as error:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            log.warning("database not reachable yet (%s); trying again", error.orig)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)


def libpq_url(engine: Engine) -> str:
    """The PostgreSQL engine's address as psycopg takes it (for procrastinate and LISTEN)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _note_idle(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine, dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_S:
        return
    try:
        engine.dialect.do_ping(dbapi_connection)
    except engine.dialect.loaded_dbapi.Error as error:
        # The pool drops this connection and checks out another (a new one if need be).
        raise exc.DisconnectionError(str(error)) from error


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
