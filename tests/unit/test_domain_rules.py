"""The domain's rules on their own: how stages add up to a status, what retention protects,
how input is quoted back in errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audiodas.domain import (
    STAGE_NAMES,
    AudioInfo,
    Recording,
    RecordingStatus,
    StageName,
    StageStatus,
    Variant,
    VariantName,
    quoted,
)

NOW = datetime(2026, 11, 29, tzinfo=UTC)
INFO = AudioInfo("wav", "audio/wav", "wav", "pcm_s16le", 10.0, 16000, 1)


def recording(**stages: StageStatus) -> Recording:
    rec = Recording.new(
        id="0" * 32,
        filename="a.wav",
        info=INFO,
        size_bytes=100,
        sha256="0" * 64,
        now=NOW,
        retention_days=1826,
        original_path="recordings/0/original.wav",
    )
    for name, status in stages.items():
        rec.stages[StageName(name)].status = status
    return rec


D, F, P, R = StageStatus.DONE, StageStatus.FAILED, StageStatus.PENDING, StageStatus.RUNNING


@pytest.mark.parametrize(
    ("stages", "settled"),
    [
        ({}, RecordingStatus.QUEUED),
        ({"archive": R}, RecordingStatus.PROCESSING),
        ({"archive": D}, RecordingStatus.PROCESSING),
        ({name: D for name in STAGE_NAMES}, RecordingStatus.DONE),
        ({"archive": F, "echo": D, "transcribe": D, "summarize": D}, RecordingStatus.FAILED),
        ({"archive": F, "echo": R}, RecordingStatus.PROCESSING),  # something still runs
        ({"archive": F, "echo": D, "transcribe": P}, RecordingStatus.PROCESSING),
    ],
)
def test_stages_add_up_to_a_status(stages: dict, settled: RecordingStatus) -> None:
    assert recording(**stages).settled_status() == settled


def test_off_topic_is_rejected_only_under_the_reject_policy() -> None:
    rec = recording(**{name: D for name in STAGE_NAMES})
    rec.topic = {"on_topic": False}
    assert rec.settled_status(reject_off_topic=False) == RecordingStatus.DONE
    assert rec.settled_status(reject_off_topic=True) == RecordingStatus.REJECTED


def test_retention_protects_an_archive_copy_made_or_coming() -> None:
    later = NOW + timedelta(days=1826)
    assert recording().under_retention(NOW)  # queued: its archive is still to be made
    assert recording(archive=R).under_retention(NOW)
    assert not recording().under_retention(later)  # five years on
    failed = recording(archive=F)
    assert not failed.under_retention(NOW)  # no copy was made and none is coming
    failed.variants[VariantName.ARCHIVE] = Variant(
        VariantName.ARCHIVE, "recordings/0/archive.m4a", "audio/mp4", 10, "0" * 64
    )
    assert failed.under_retention(NOW)  # an earlier attempt's copy is kept


def test_input_is_quoted_short_and_escaped() -> None:
    assert quoted("plain") == "'plain'"
    assert quoted("x" * 100) == "'" + "x" * 64 + "'…"
    assert quoted("a\x00b\x1b[31m\nc") == "'a\\x00b\\x1b[31m\\nc'"
    assert quoted("née ünïcode") == "'née ünïcode'"


def test_a_reason_for_a_hold_or_a_shorter_retention_is_real_text_of_bounded_length() -> None:
    from audiodas.domain import Rejected
    from audiodas.domain.recording import MAX_REASON, check_reason

    assert check_reason("  dispute\n2026-114 ") == "dispute 2026-114"
    for empty in ("", "   ", "\x05\x00", None, 17):
        with pytest.raises(Rejected) as refused:
            check_reason(empty)
        assert refused.value.code == Rejected.INVALID_REQUEST
    # Counted as sent: a long run of blanks or control characters is refused, not shortened.
    for long in ("x" * (MAX_REASON + 1), "a" + "\x01" * MAX_REASON, "a" + " " * MAX_REASON):
        with pytest.raises(Rejected) as refused:
            check_reason(long)
        assert refused.value.code == Rejected.INVALID_FIELD
    assert len(check_reason("y" * MAX_REASON)) == MAX_REASON
