"""Speaker labels: accuracy on the clips, and the diarization's own CPU and memory per minute.

For each clip: the labels Whisper tiny.en + the speaker encoder give (counted, and with the
count given where there are two voices), scored against an answer key (turn changes found,
share of speech confused); the one-voice clips must give one speaker. The endgame key's lines
are printed with their pitch, the measure the key was made with (tests/support.ENDGAME_KEY).

Then the diarization alone (embeddings and clustering, Whisper's segments computed first) on
a long recording (endgame_nagg_nell.wav looped, 10 minutes by default): CPU seconds per audio
minute, and the memory it allocates at its peak (tracemalloc, which numpy reports to).

Usage: python bench/speakers.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import (  # noqa: E402
    ENDGAME_KEY,
    espeak_dialogue,
    ffmpeg,
    score_speakers,
    speech_assets,
)

from audiodas.inference.models.pcm import windows  # noqa: E402
from audiodas.inference.models.speakers import Diarizer  # noqa: E402
from audiodas.inference.models.whisper import WhisperTranscriber  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pitch_hz(samples: np.ndarray, rate: int = 16_000) -> float:
    """Median F0 of the voiced 40 ms frames (autocorrelation, 70-400 Hz)."""
    found = []
    for i in range(0, len(samples) - 640, 160):
        frame = samples[i : i + 640] * np.hanning(640)
        if np.sqrt(np.mean(frame**2)) < 0.01:
            continue
        corr = np.correlate(frame, frame, "full")[639:]
        low, high = rate // 400, rate // 70
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] > 0.4 * corr[0]:
            found.append(rate / lag)
    return float(np.median(found)) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10, help="length of the long recording")
    args = parser.parse_args()
    assets = speech_assets()
    model = WhisperTranscriber()
    work = Path(tempfile.mkdtemp(prefix="speakers-"))
    dialogue_key = espeak_dialogue(work / "dialogue.wav")

    print("the endgame key, line by line (pitch: how it was made)")
    samples = next(windows(assets / "endgame_nagg_nell.wav", 300)).samples
    for start, end, who in ENDGAME_KEY:
        f0 = pitch_hz(samples[int(start * 16_000) : int(end * 16_000)])
        print(f"  {start:6.2f}-{end:6.2f} s  {who:<5} {f0:4.0f} Hz")

    print("\naccuracy (Whisper tiny.en segments, labelled)")
    print(f"{'clip':<28}{'count':>6}{'speakers':>9}{'changes found':>15}{'confused':>9}")
    cases = [
        ("endgame_nagg_nell.wav", assets / "endgame_nagg_nell.wav", ENDGAME_KEY, None),
        ("endgame_nagg_nell.wav", assets / "endgame_nagg_nell.wav", ENDGAME_KEY, 2),
        ("espeak dialogue", work / "dialogue.wav", dialogue_key, None),
        ("espeak dialogue", work / "dialogue.wav", dialogue_key, 2),
    ]
    cases += [
        (c, assets / c, None, None) for c in ("two_cities.wav", "beckett.wav", "clone-test.wav")
    ]
    for name, path, key, count in cases:
        transcript = model.transcribe(path, word_timestamps=True, diarize=True, speakers=count)
        segments = [asdict(s) for s in transcript.segments]
        found = len({s["speaker"] for s in segments})
        if key:
            score = score_speakers(key, segments)
            changes, confused = f"{score.found}/{score.changes}", f"{score.confusion:.3f}"
        else:
            changes, confused = "-", "-"
        given = str(count) if count else "auto"
        print(f"{name:<28}{given:>6}{found:>9}{changes:>15}{confused:>9}")

    # The dialogue again and again, a second's pause between (no turn without a pause).
    long, once = work / "long.wav", work / "once.wav"
    ffmpeg("-i", str(assets / "endgame_nagg_nell.wav"), "-af", "apad=pad_dur=1", "-ar", "16000",
           "-ac", "1", str(once))  # fmt: skip
    loops = max(1, round(args.minutes * 60 / 29.3))
    ffmpeg("-stream_loop", str(loops - 1), "-i", str(once), "-c", "copy", str(long))
    segments = model.transcribe(long).segments
    minutes = sum(len(w.samples) for w in windows(long, 300)) / 16_000 / 60
    encoder = model.speaker_encoder()
    tracemalloc.start()  # numpy reports its arrays to it: the diarization's own memory
    before, started, wall = rss_mib(), cpu(), time.perf_counter()
    diarizer = Diarizer(encoder)
    for window in windows(long, 300):
        inside = [s for s in segments if window.start_s <= s.start < window.end_s]
        diarizer.add(window.samples, window.start_s, inside)
    turns = diarizer.turns()
    spent, wall = cpu() - started, time.perf_counter() - wall
    _, peak = tracemalloc.get_traced_memory()
    voices = len({t.voice for t in turns})
    print(f"\ndiarization alone, {minutes:.1f} min of a two-voice dialogue ({len(turns)} windows):")
    print(f"  {spent / minutes:.2f} CPU s per audio minute ({wall / minutes:.2f} s wall; decoding included), "
          f"{voices} voices found")  # fmt: skip
    print(f"  its own allocations at their peak: {peak / 2**20:.0f} MiB; the process's resident "
          f"memory {before:.0f} MiB before it (Whisper loaded), {rss_mib():.0f} MiB after")  # fmt: skip


if __name__ == "__main__":
    main()
