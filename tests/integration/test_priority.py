"""Heavy work below the API: FFmpeg runs at the configured nice, and under SCHED_IDLE when asked
(the inference processes: tests/test_processes.py)."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from audiodas.adapters.ffmpeg import run_ffmpeg


@pytest.mark.skipif(not shutil.which("chrt"), reason="chrt (util-linux) is not installed")
@pytest.mark.parametrize("idle_policy", [True, False])
def test_ffmpeg_runs_at_the_heavy_work_priority(tmp_path, idle_policy) -> None:
    # A stand-in for FFmpeg that writes down how it was scheduled.
    seen = tmp_path / "seen"
    binary = tmp_path / "ffmpeg"
    binary.write_text(f"#!/bin/sh\nchrt -p $$ > {seen}\nnice >> {seen}\n")
    binary.chmod(0o755)
    asyncio.run(run_ffmpeg(str(binary), [], timeout=10, nice=19, idle_policy=idle_policy))
    policy, _, nice = seen.read_text().splitlines()  # chrt: policy, then its priority
    assert ("SCHED_IDLE" in policy) is idle_policy
    assert ("SCHED_OTHER" in policy) is not idle_policy
    assert int(nice) == 19 + os.nice(0)
