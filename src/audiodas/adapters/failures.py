"""Failures of the machine rather than of the request: a full disk, a database or an object
store out of reach, translated once, at the adapters' edge (`at_the_edge`), into the
application's own `StorageFull`, `DatabaseUnavailable` and `StoreUnavailable`
(domain/errors.py), as httpx's transports map their network errors. Recognised here from an
OSError of a write, the database driver's error as SQLAlchemy wraps it, or botocore's
connection errors; the API answers them 507 and 503, the engine waits them out instead of
failing stages.
"""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import sqlite3
import sys

from sqlalchemy import exc as sa

from audiodas.domain import (
    DatabaseUnavailable,
    StorageFull,
    StoreUnavailable,
    Unavailable,
    unavailable_in,
)
from audiodas.domain.errors import causes

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full
_SQLITE_OUTAGES = ("database is locked", "unable to open database", "disk i/o error")


def storage_full(exc: BaseException) -> bool:
    for cause in causes(exc):
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
    for cause in causes(exc):
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


def store_unavailable(exc: BaseException) -> bool:
    """The object store could not be reached (not: it refused the request). botocore is
    imported only where s3:// storage is configured, so it is looked for, not imported."""
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is None:
        return False
    outages = (
        botocore.EndpointConnectionError,
        botocore.ConnectionClosedError,
        botocore.ConnectTimeoutError,
        botocore.ReadTimeoutError,
    )
    return any(isinstance(cause, outages) for cause in causes(exc))


def machine_failure(exc: BaseException) -> bool:
    return (
        unavailable_in(exc) is not None
        or storage_full(exc)
        or database_unavailable(exc)
        or store_unavailable(exc)
    )


def translated(exc: BaseException) -> Unavailable | None:
    """The application's failure for a driver's error of the machine, if it is one."""
    if isinstance(exc, Unavailable):
        return None  # already translated (an adapter calling another)
    if storage_full(exc):
        return StorageFull(describe(exc))
    if database_unavailable(exc):
        return DatabaseUnavailable(describe(exc))
    if store_unavailable(exc):
        return StoreUnavailable(f"the object store is unreachable: {describe(exc)}")
    return None


def at_the_edge(cls: type) -> type:
    """Every public method of an adapter class raises `StorageFull`, `DatabaseUnavailable` or
    `StoreUnavailable` (with the driver's error as its cause) where its driver raised a
    failure of the machine;
    any other error passes unchanged."""
    for name, method in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(method):
            continue
        setattr(cls, name, _translating(method))
    return cls


def _translating(method):  # type: ignore[no-untyped-def]
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def awaited(*args, **kwargs):  # type: ignore[no-untyped-def]
            try:
                return await method(*args, **kwargs)
            except Exception as exc:
                if (failure := translated(exc)) is not None:
                    raise failure from exc
                raise

        return awaited

    @functools.wraps(method)
    def called(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            if (failure := translated(exc)) is not None:
                raise failure from exc
            raise

    return called


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
