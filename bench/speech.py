"""Transcription real-time factor and summarization latency, one row per configuration.

Transcribes the same ~3 minutes of human speech (two_cities.wav, four times over) with each
faster-whisper configuration on the bundled tiny.en, and reports x real time, CPU seconds and
word error rate against the source text; then times each summarizer on the transcript (the T5
row uses a tiny random T5: it measures the decoding machinery, not a real model's quality).

Usage: python bench/speech.py [--repeat 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import ffmpeg, normalized_words, speech_assets, word_error_rate  # noqa: E402
from tests.tiny_t5 import build_tiny_t5  # noqa: E402

from audiodas.inference.models.summarizers import ExtractiveSummarizer  # noqa: E402
from audiodas.inference.models.t5 import T5Summarizer  # noqa: E402
from audiodas.inference.models.whisper import WhisperTranscriber  # noqa: E402

CONFIGS = [  # (compute_type, cpu_threads, beam_size)
    ("int8", 1, 1),
    ("int8", 1, 5),
    ("int8", 2, 5),
    ("float32", 1, 5),
    ("float32", 2, 5),
]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=4, help="copies of the 44 s clip")
    args = parser.parse_args()
    reference_one = json.loads(
        (Path(__file__).parent.parent / "tests/data/speech/references.json").read_text()
    )["two_cities.wav"]
    reference = " ".join([reference_one] * args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "speech.wav"
        ffmpeg(
            "-stream_loop",
            str(args.repeat - 1),
            "-i",
            str(speech_assets() / "two_cities.wav"),
            "-c",
            "copy",
            str(clip),
        )
        seconds = 44.374 * args.repeat
        print(f"transcription of {seconds:.0f} s of human speech, Whisper tiny.en (faster-whisper)")
        print(
            f"{'compute':>8} {'threads':>7} {'beam':>4} {'x real time':>11} {'CPU s':>6} {'WER':>6}"
        )
        transcript = ""
        for compute, threads, beam in CONFIGS:
            model = WhisperTranscriber(
                compute_type=compute, cpu_threads=threads, num_workers=1, beam_size=beam
            )
            model.load()
            c0, t0 = cpu(), time.perf_counter()
            result = model.transcribe(clip)
            wall, used = time.perf_counter() - t0, cpu() - c0
            wer = word_error_rate(reference, result.text)
            transcript = transcript or result.text
            print(
                f"{compute:>8} {threads:>7} {beam:>4} {seconds / wall:>10.1f}x {used:>6.1f} {wer:>6.3f}"
            )

        t5 = T5Summarizer(
            build_tiny_t5(Path(tmp) / "t5", normalized_words(transcript) + ["summarize", ":"])
        )
        t5.load()
        print(f"\nsummarization of a {len(transcript.split())}-word transcript")
        print(f"{'engine':>22} {'ms':>8} summary")
        for name, summarizer in [("extractive", ExtractiveSummarizer()), ("t5 (tiny random)", t5)]:
            summarizer.summarize(transcript)
            t0 = time.perf_counter()
            for _ in range(5):
                summary = summarizer.summarize(transcript)
            print(f"{name:>22} {(time.perf_counter() - t0) / 5 * 1000:>8.1f} {summary!r}")


if __name__ == "__main__":
    main()
