"""Inference in its own processes: a hung model is killed and replaced, its slot returned and
its stage retried; the OpenAI endpoint answers 503/504 instead of hanging; long recordings are
transcribed window by window."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from audiodas.config import Settings
from audiodas.inference import InferencePool, ModelError
from audiodas.inference.models.whisper import WhisperTranscriber
from tests.support import word_error_rate
from tests.test_engine import stages, upload, wait_finished, wait_for
from tests.test_speech import REFERENCES


def inference_processes(server) -> list[psutil.Process]:
    return [
        p
        for p in server.processes()
        if p.is_running() and "audiodas.inference.child" in " ".join(p.cmdline())
    ]


def engine_health(server, until=lambda engine: True, timeout: float = 5) -> dict:
    """The engine's report once `until` holds: it writes one every 2 s and after each recording."""
    deadline = time.monotonic() + timeout
    while not until(engine := httpx.get(f"{server.url}/healthz").json()["engine"]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return engine


def test_a_hung_inference_is_killed_replaced_and_its_stage_retried(start_server, assets) -> None:
    # One AI slot: the retry can only run if the hung call gave its slot back.
    server = start_server(
        audiodas_embedded_worker="true",
        audiodas_ai_slots="1",
        audiodas_inference_timeout_s="3",
        # 36 s for this 44 s clip. It needs ~4 s alone, but heavy work runs under SCHED_IDLE
        # and the retry took 14 s while the suite's other worker kept both cores busy.
        audiodas_inference_timeout_factor="0.75",
        audiodas_retry_backoff_s="0.1",
    )
    rec = upload(server, assets / "two_cities.wav")
    wait_for(server, rec["id"], lambda r: stages(r)["transcribe"]["status"] == "running")
    [hung] = inference_processes(server)
    hung.send_signal(signal.SIGSTOP)  # a real process that stops answering mid-inference

    done = wait_finished(server, rec["id"], timeout=120)
    transcribe = stages(done)["transcribe"]
    assert done["status"] == "done"
    assert transcribe["attempts"] == 2 and transcribe["error"] is None
    assert word_error_rate(REFERENCES["two_cities.wav"], done["transcript"]) <= 0.05
    assert not hung.is_running() or hung.status() == psutil.STATUS_ZOMBIE  # killed
    [fresh] = inference_processes(server)
    assert fresh.pid != hung.pid
    health = engine_health(server, until=lambda e: e["slots"]["ai"]["in_use"] == 0)
    assert health["inference"] | {"processes": 1} == {
        "processes": 1,
        "stuck": 0,
        "timeouts": 1,
        "deaths": 0,
        "restarts": 1,
    }
    assert health["slots"]["ai"]["in_use"] == 0


@pytest.fixture(scope="module")
def three_minutes(tmp_path_factory, assets: Path) -> Path:
    """About 10 s of work for the model: two_cities.wav four times over."""
    from tests.support import ffmpeg

    path = tmp_path_factory.mktemp("three") / "four_times.wav"
    ffmpeg("-stream_loop", "3", "-i", str(assets / "two_cities.wav"), "-c", "copy", str(path))
    return path


@pytest.fixture(scope="module")
def past_the_limit(tmp_path_factory, three_minutes: Path) -> Path:
    """Well past a 5 s limit on any machine: `three_minutes` twice over (once alone it finished
    within 5 s on a fast host)."""
    from tests.support import ffmpeg

    path = tmp_path_factory.mktemp("six") / "six_minutes.wav"
    ffmpeg("-stream_loop", "1", "-i", str(three_minutes), "-c", "copy", str(path))
    return path


def test_openai_endpoint_answers_busy_and_timeout_with_json(
    start_server, assets, past_the_limit
) -> None:
    # API-only server: its engine process serves inference only, one slot, 5 s per call (a
    # 10 s clip takes about 1 s; under a loaded CI, 3 s was once too little for it).
    server = start_server(
        audiodas_ai_slots="1",
        audiodas_inference_timeout_s="5",
        audiodas_inference_timeout_factor="0",
        audiodas_inference_wait_s="0.5",
    )
    url = f"{server.url}/v1/audio/transcriptions"

    def transcribe(clip: Path) -> httpx.Response:
        with clip.open("rb") as f:
            return httpx.post(url, files={"file": f}, data={"model": "whisper-1"}, timeout=60)

    ok = transcribe(assets / "beckett.wav")
    assert ok.status_code == 200 and "fail better" in ok.json()["text"].lower()

    started = time.monotonic()
    late = transcribe(past_the_limit)
    assert late.status_code == 504, late.text
    assert late.json()["error"]["code"] == "inference_timeout"
    assert time.monotonic() - started < 10  # answered at the timeout, not when the model finished

    holder: dict = {}
    engine_health(server, until=lambda e: e["slots"]["ai"]["in_use"] == 0)  # a fresh report
    slow = threading.Thread(target=lambda: holder.setdefault("r", transcribe(past_the_limit)))
    slow.start()
    # The slow one holds the only slot, for 5 s (its 11 MB upload can take a while under load).
    engine_health(server, until=lambda e: e["slots"]["ai"]["in_use"] == 1)
    busy = transcribe(assets / "beckett.wav")
    slow.join()
    assert busy.status_code == 503, busy.text
    assert busy.json()["error"]["code"] == "inference_busy" and busy.headers["retry-after"]
    assert holder["r"].status_code == 504

    again = transcribe(assets / "beckett.wav")  # the replacement process answers
    assert again.status_code == 200 and again.json()["text"] == ok.json()["text"]
    health = engine_health(server, until=lambda e: e["inference"]["timeouts"] >= 2)
    assert health["inference"]["timeouts"] == 2


def test_windows_cover_a_long_recording_without_losing_words(three_minutes) -> None:
    """Three minutes in one-minute windows: every window's words, in order, at the right times."""
    windowed = WhisperTranscriber(window_s=60).transcribe(three_minutes)
    reference = " ".join([REFERENCES["two_cities.wav"]] * 4)
    assert word_error_rate(reference, windowed.text) <= 0.05
    starts = [s.start for s in windowed.segments]
    assert starts == sorted(starts) and windowed.segments[-1].end > 170  # times are offset
    assert windowed.text.lower().count("best of times") == 4


def test_a_resumed_transcription_equals_an_uninterrupted_one(assets) -> None:
    """A two-voice dialogue in 10 s windows: given what an interrupted run stored (its first
    window), the rest is transcribed once, and the result (text, times, words, speakers settled
    over the whole) is the uninterrupted run's."""
    dialogue = assets / "endgame_nagg_nell.wav"
    transcriber = WhisperTranscriber(window_s=10)
    options = {"word_timestamps": True, "diarize": True}
    made: list = []
    whole = transcriber.transcribe(dialogue, **options, on_window=made.append)
    assert len(made) >= 3 and made[0].start_s == 0 and made[-1].end_s == pytest.approx(28, abs=1)
    assert all(s.speaker is None for w in made for s in w.segments)  # settled at the end only
    assert {s.speaker for s in whole.segments} == {"S1", "S2"}
    remade: list = []
    resumed = transcriber.transcribe(dialogue, **options, done=made[0], on_window=remade.append)
    assert [w.start_s for w in remade] == [w.start_s for w in made[1:]]  # the first not redone
    assert resumed.text == whole.text and resumed.segments == whole.segments
    assert resumed.words == whole.words and resumed.language == whole.language


@pytest.mark.slow
def test_a_four_hour_recording_is_processed_in_bounded_memory(start_server, tmp_path) -> None:
    from tests.support import ffmpeg

    four_hours = tmp_path / "four_hours.flac"
    # As reported: a silent FLAC of 3 h 59 min (a few MB) drove the server to 3.3 GB.
    ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=channel_layout=mono:sample_rate=16000:nb_samples=16000",
        "-t", str(4 * 3600 - 60), "-c:a", "flac", str(four_hours),
    )  # fmt: skip
    server = start_server(audiodas_embedded_worker="true")
    idle = server.peak_rss()  # the engine loads its models before it reports healthy
    rec = wait_finished(server, upload(server, four_hours)["id"], timeout=900)
    growth = server.peak_rss() - idle
    assert rec["status"] == "done", rec
    assert rec["duration_s"] == pytest.approx(4 * 3600 - 60, abs=1)
    print(f"4-hour recording: peak memory {growth >> 20} MiB above idle")
    # Issue 48's bound (it was +578 MiB with 5-minute windows; bench/long_memory.py: +38 MiB).
    assert growth <= 300 << 20, f"peak memory grew by {growth >> 20} MiB for a 4-hour recording"
    # Its waveform came from the same decode, within that memory: a few thousand points.
    waveform = httpx.get(f"{server.url}/api/v1/recordings/{rec['id']}/waveform").json()
    assert 2000 <= len(waveform["peaks"]) <= 4000 and set(waveform["peaks"]) == {0}
    assert len(waveform["peaks"]) / waveform["peaks_per_s"] == pytest.approx(4 * 3600 - 60, abs=5)


def test_a_model_error_leaves_its_process_serving(tmp_path, assets) -> None:
    """The model raising on an input (here: a file it cannot open) is that call's error; the
    process answered, so it is kept, not counted as a death, and serves the next call."""

    async def run() -> None:
        pool = InferencePool(Settings(data_dir=tmp_path, ai_slots=1))
        try:
            await pool.start()
            [process] = pool.processes
            with pytest.raises(ModelError):
                await pool.transcribe(tmp_path / "missing.wav", timeout=30)
            assert pool.processes == [process] and pool.deaths == 0 and pool.restarts == 0
            assert psutil.Process(process.pid).is_running()
            heard = await pool.transcribe(assets / "beckett.wav", timeout=60)
            assert "tried" in heard.text.lower() and pool.processes == [process]
        finally:
            await pool.close()

    asyncio.run(run())


def test_a_warm_inference_process_reuses_its_memory(tmp_path, assets) -> None:
    """A transcription once faulted in ~57,000 fresh pages (glibc returning each large buffer to
    the kernel and mapping it again), kernel time the API waited behind; freed memory is now
    kept for the next call, in the process's one heap: a thread's own arena is capped at
    64 MiB, and the model's thread filled 48 MiB of one in a single call (the engine's call,
    with word times and speakers), mapping and unmapping past it under the stream."""

    async def run() -> None:
        pool = InferencePool(Settings(data_dir=tmp_path, ai_slots=1))
        try:
            await pool.start()
            [process] = pool.processes
            # As the engine asks, so the buffers reach their size.
            await pool.transcribe(
                assets / "beckett.wav", timeout=60, word_timestamps=True, diarize=True
            )
            faults = []
            for _ in range(3):  # the fewest of three: a busy machine faulted 13,000 once
                before = minor_faults(process.pid)
                heard = await pool.transcribe(assets / "beckett.wav", timeout=60)
                faults.append(minor_faults(process.pid) - before)
                assert "tried" in heard.text.lower()
            assert min(faults) < 5_000, faults  # glibc giving buffers back: ~57,000 every call
            assert thread_arenas(process.pid) == []
        finally:
            await pool.close()

    asyncio.run(run())


_ARENA = 64 << 20  # glibc's largest arena of a thread other than the first (64-bit)


def thread_arenas(pid: int) -> list[str]:
    """glibc's arenas of threads other than the first, as /proc/PID/maps shows them: each a
    reservation of 64 MiB at a 64 MiB boundary, its used part readable and writable, the rest not
    (the first thread's arena is the `[heap]`)."""
    maps = [line.split() for line in Path(f"/proc/{pid}/maps").read_text().splitlines()]
    spans = [(*(int(x, 16) for x in m[0].split("-")), m[1], len(m) == 5) for m in maps]
    found = []
    for (start, end, mode, anonymous), after in zip(spans, [*spans[1:], None], strict=True):
        if after and after[0] == end and after[2] == "---p":
            end = after[1]
        if anonymous and mode == "rw-p" and start % _ARENA == 0 and end - start == _ARENA:
            found.append(f"{start:x}")
    return found


def minor_faults(pid: int) -> int:
    """Pages the process has faulted in without reading a disk (/proc/PID/stat, field 10)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])
