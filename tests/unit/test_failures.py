"""The adapters' edge: a driver's failure of the machine leaves an adapter as the application's
own (StorageFull, DatabaseUnavailable), its cause kept for the log; any other error passes
unchanged. What the API answers 507 and 503 and the engine waits out."""

from __future__ import annotations

import asyncio
import errno
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from audiodas.adapters.failures import at_the_edge
from audiodas.domain import DatabaseUnavailable, Rejected, StorageFull, unavailable_in


@at_the_edge
class Adapter:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def call(self) -> None:
        raise self.error

    async def awaited(self) -> None:
        raise self.error


def sqlite_error(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    ("error", "becomes"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), StorageFull),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), StorageFull),
        (sqlite_error("database or disk is full"), StorageFull),
        (sqlite_error("unable to open database file"), DatabaseUnavailable),
        (sqlite_error("database is locked"), DatabaseUnavailable),
    ],
)
def test_a_failure_of_the_machine_leaves_as_the_apps_own(error, becomes) -> None:
    for call in (Adapter(error).call, lambda: asyncio.run(Adapter(error).awaited())):
        with pytest.raises(becomes) as raised:
            call()
        assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    "error",
    [
        sqlite_error("no such table: recordings"),  # a bug, not an outage: a 500 to look at
        OSError(errno.ENOENT, "No such file or directory"),
        Rejected(Rejected.NOT_FOUND, "no recording 'x'"),
        ValueError("anything else"),
    ],
)
def test_any_other_error_passes_unchanged(error) -> None:
    with pytest.raises(type(error)) as raised:
        Adapter(error).call()
    assert raised.value is error


def test_a_failure_is_found_inside_a_task_group_and_behind_a_cause() -> None:
    full = StorageFull("No space left on device")
    try:
        try:
            raise full
        except StorageFull as exc:
            raise RuntimeError("the branch failed") from exc
    except RuntimeError as wrapped:
        group = ExceptionGroup("branches", [ValueError("other"), wrapped])
    assert unavailable_in(group) is full
    assert unavailable_in(ValueError("nothing of the machine")) is None
