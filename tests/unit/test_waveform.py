"""The waveform: peaks where the sound is, a few thousand points whatever the length."""

from __future__ import annotations

import numpy as np

from audiodas.domain.transcript import WAVEFORM_POINTS, Waveform
from audiodas.inference.models.pcm import PEAKS_PER_S, SAMPLE_RATE, PeakMeter


def tone_burst(seconds_before: float, tone_s: float, seconds_after: float) -> np.ndarray:
    t = np.arange(int(tone_s * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    silence = [np.zeros(int(s * SAMPLE_RATE)) for s in (seconds_before, seconds_after)]
    return np.concatenate([silence[0], tone, silence[1]]).astype(np.float32)


def test_the_peaks_are_where_the_tone_is_across_windows() -> None:
    audio = tone_burst(1.0, 0.5, 1.0)
    meter = PeakMeter()
    for chunk in np.array_split(audio, 7):  # windows of any length, not block-aligned
        meter.add(chunk)
    waveform = meter.waveform()
    assert waveform.peaks_per_s == PEAKS_PER_S and len(waveform.peaks) == 50  # 2.5 s
    loud = [i for i, p in enumerate(waveform.peaks) if p > 100]
    assert loud == list(range(20, 30))  # 1.0 s to 1.5 s
    assert max(waveform.peaks) == 128  # half scale
    assert all(p == 0 for i, p in enumerate(waveform.peaks) if i not in loud)


def test_four_hours_are_reduced_to_a_few_thousand_points_keeping_the_loudest() -> None:
    peaks = bytearray(4 * 3600 * PEAKS_PER_S)
    peaks[123_456] = 200  # one loud moment at 1 h 42 min 52.8 s
    waveform = Waveform(PEAKS_PER_S, bytes(peaks)).reduced()
    assert len(waveform.peaks) <= WAVEFORM_POINTS and len(waveform.peaks) > WAVEFORM_POINTS // 2
    seconds = len(waveform.peaks) / waveform.peaks_per_s
    assert abs(seconds - 4 * 3600) < 1 / waveform.peaks_per_s  # still the whole length
    at = waveform.peaks.index(200) / waveform.peaks_per_s
    assert abs(at - 123_456 / PEAKS_PER_S) < 1 / waveform.peaks_per_s
    short = Waveform(PEAKS_PER_S, bytes(100))
    assert short.reduced() == short  # a short one keeps its resolution


def test_words_go_to_the_segment_they_are_said_in() -> None:
    from audiodas.domain.transcript import Segment, Word, words_by_segment

    segments = [Segment(0.0, 2.0, "Ever tried."), Segment(2.5, 4.0, "Ever failed.")]
    words = [Word("Ever", 0.0, 0.4), Word("tried.", 0.5, 1.9), Word("Ever", 2.49, 2.9),
             Word("failed.", 3.0, 3.9)]  # fmt: skip
    assert words_by_segment(segments, words) == [words[:2], words[2:]]
    assert words_by_segment(segments, []) == [[], []]
