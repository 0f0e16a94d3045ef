"""The audit trail on both databases: appended by many processes at once, it stays one chain."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from audiodas.adapters.database import create_engine_for
from audiodas.adapters.database.audit import SqlAuditLog
from audiodas.config import Settings
from audiodas.domain.audit import Action, AuditEntry, first_break

WRITER = """
import sys
from datetime import UTC, datetime
from audiodas.adapters.database import create_engine_for
from audiodas.adapters.database.audit import SqlAuditLog
from audiodas.config import Settings
from audiodas.domain.audit import Action, AuditEntry
url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = SqlAuditLog(create_engine_for(Settings(database_url=url).sqlalchemy_url))
sys.stdin.readline()  # all start together
for n in range(count):
    log.append(AuditEntry(datetime.now(UTC), name, Action.UPLOAD, None, {"n": n}))
"""


def test_four_processes_appending_at_once_leave_one_unbroken_chain(migrated_url) -> None:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, migrated_url, f"worker-{i}", "40"],
            stdin=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(4)
    ]
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    assert [writer.wait(120) for writer in writers] == [0, 0, 0, 0]
    log = SqlAuditLog(create_engine_for(Settings(database_url=migrated_url).sqlalchemy_url))
    entries = log.stored(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 161)) and log.head()[0] == 160
    assert first_break(entries, log.head()) is None
    for i in range(4):  # each writer's entries, in its own order, none lost
        assert [int(e.detail_text[5:-1]) for e in entries if e.actor == f"worker-{i}"] == list(
            range(40)
        )


def test_entries_read_back_newest_first_by_recording_and_action(migrated_url) -> None:
    log = SqlAuditLog(create_engine_for(Settings(database_url=migrated_url).sqlalchemy_url))
    now = datetime.now(UTC)
    for action, recording in [(Action.UPLOAD, "a"), (Action.HOLD, "a"), (Action.UPLOAD, "b")]:
        log.append(AuditEntry(now, "ops", action, recording * 32, {"why": "ü ✓"}))
    assert [e.seq for e in log.page(limit=10)] == [3, 2, 1]
    assert [e.seq for e in log.page(limit=10, recording_id="a" * 32)] == [2, 1]
    assert [e.seq for e in log.page(limit=10, action=Action.UPLOAD, before=3)] == [1]
    assert log.page(limit=1)[0].detail == {"why": "ü ✓"}
    assert first_break(log.stored(), log.head()) is None
