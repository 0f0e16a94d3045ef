"""The audit trail's chain (domain/audit.py) on the AuditLog twin: intact, then each way a row
can be tampered with is found, at the first bad entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from audiodas.domain.audit import Action, AuditEntry, first_break
from audiodas.testing import InMemoryAuditLog

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def filled(count: int = 5) -> InMemoryAuditLog:
    log = InMemoryAuditLog()
    for n in range(count):
        log.append(AuditEntry(T0 + timedelta(seconds=n), "ops", Action.UPLOAD, f"r{n}",
                              {"filename": f"talk{n}.mp3", "size_bytes": 1000 + n}))  # fmt: skip
    return log


def test_an_untouched_trail_verifies_and_each_entry_follows_the_one_before() -> None:
    log = filled()
    assert first_break(log.entries, log.head()) is None
    assert [e.seq for e in log.entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(log.entries, log.entries[1:], strict=False))


def test_a_changed_field_is_found_at_its_entry() -> None:
    log = filled()
    log.entries[2] = replace(
        log.entries[2], detail_text=log.entries[2].detail_text.replace("1002", "9")
    )
    assert first_break(log.entries, log.head()) == (
        3,
        "its contents were changed after it was written",
    )
    log = filled()
    log.entries[1] = replace(log.entries[1], actor="someone else")
    assert first_break(log.entries, log.head())[0] == 2


def test_an_entry_taken_out_or_replaced_whole_is_found() -> None:
    log = filled()
    del log.entries[3]
    assert first_break(log.entries, log.head())[0] == 4
    log = filled()
    forged = filled()  # a chain of its own: hashes right, but not this chain's
    log.entries[2] = replace(forged.entries[2], prev_hash="f" * 64)
    assert first_break(log.entries, log.head())[0] == 3


def test_entries_cut_from_the_end_are_found_by_the_head() -> None:
    log = filled()
    head = log.head()
    del log.entries[-2:]
    assert first_break(log.entries, head) == (4, "entries 4 to 5 are missing from the end")
