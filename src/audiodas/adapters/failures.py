"""Failures of the machine rather than of the request: a full disk, a database out of reach.

They are answered 507 and 503 (worth trying again later), and the engine waits them out
instead of failing stages. Recognised wherever they surface: an OSError from a write, or the
database driver's own error wrapped by SQLAlchemy.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full
_SQLITE_OUTAGES = ("database is locked", "unable to open database", "disk i/o error")


def storage_full(exc: BaseException) -> bool:
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in _FULL_ERRNOS:
            return True
        if isinstance(cause, sa.DBAPIError):
            orig = cause.orig
            if "database or disk is full" in str(orig):  # SQLite: SQLITE_FULL
                return True
            if getattr(orig, "sqlstate", None) == _PG_DISK_FULL:
                return True
    return False


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or is not answering (not: the query or schema is wrong)."""
    for cause in _causes(exc):
        if isinstance(cause, sa.DBAPIError) and (
            cause.connection_invalidated
            or isinstance(cause, sa.OperationalError | sa.InterfaceError)
        ):
            if isinstance(cause.orig, sqlite3.Error):
                # SQLite says OperationalError for "no such table" too: only these are outages.
                message = str(cause.orig).lower()
                return any(outage in message for outage in _SQLITE_OUTAGES)
            return not storage_full(cause)
        if isinstance(cause, sa.TimeoutError | sa.DisconnectionError):  # pool exhausted, lost
            return True
    return False


def machine_failure(exc: BaseException) -> bool:
    return storage_full(exc) or database_unavailable(exc)


def log_requeued(log: logging.Logger, recording_id: str, exc: BaseException) -> None:
    """A recording's run failed and goes back to the queue: the machine's failure in one line
    (it is not a bug), anything else with its trace."""
    if machine_failure(exc):
        log.warning("recording %s: %s; retried later", recording_id, describe(exc))
    else:
        log.exception("recording %s: engine error; retried later", recording_id)


def describe(exc: BaseException) -> str:
    """One line for a log: the first member of a group, the first line of its message."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return (str(exc).splitlines() or [exc.__class__.__name__])[0]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what caused it, and the members of exception groups (task groups)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)
