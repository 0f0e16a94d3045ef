"""A 1 GB upload streams to disk: the server's peak memory stays flat."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from tests.support import silent_wav

GIB = 1 << 30


@pytest.mark.slow
def test_one_gigabyte_upload_keeps_memory_flat(start_server, tmp_path: Path) -> None:
    server = start_server(audiodas_max_upload_mb=1100, audiodas_max_duration_s=6 * 3600)
    small, big = tmp_path / "small.wav", tmp_path / "big.wav"
    silent_wav(small, 4 << 20)
    silent_wav(big, GIB)

    def send(path: Path) -> dict:
        with path.open("rb") as f:
            r = httpx.post(f"{server.url}/api/v1/recordings", files={"file": f}, timeout=600)
        assert r.status_code == 202, r.text
        return r.json()

    send(small)  # warm up: imports, first request, SQLite
    baseline = server.peak_rss()
    rec = send(big)
    growth = server.peak_rss() - baseline

    expected = hashlib.sha256()
    with big.open("rb") as f:
        while chunk := f.read(8 << 20):
            expected.update(chunk)
    assert rec["size_bytes"] == GIB
    assert rec["sha256"] == expected.hexdigest()
    assert rec["duration_s"] == pytest.approx(GIB / (48000 * 4), abs=0.1)
    stored = server.data_dir / "recordings" / rec["id"] / "original.wav"
    assert os.path.getsize(stored) == GIB
    # Reading the body keeps at most a few MiB in flight; 1 GiB in memory would show here.
    assert growth < 64 << 20, f"peak RSS grew by {growth >> 20} MiB during a 1 GiB upload"
