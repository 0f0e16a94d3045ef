"""Who spoke when, offline: the GE2E speaker encoder of resemblyzer (a 3-layer LSTM over 40 mel
bands, 256-d voice embeddings) run with numpy, its weights extracted at set-up
(`audiodas models speakers`) and loaded by path.

A voice embedding is taken of 1.6 s of audio every 0.5 s inside each segment of speech the
transcription found (of a shorter segment, one of it whole); the embeddings are clustered
(average linkage on cosine distance, to the count given or until the closest voices are
further apart than a threshold), and each transcript segment and word takes the voice of the
windows it overlaps (domain.speakers). A recording is diarized
window by window as it is transcribed, so memory stays bounded: what is kept is 1 KiB per
embedding, and at most MAX_CLUSTERED of them are clustered (the rest join the nearest voice).

Imports numpy: it runs in the inference processes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiodas.domain.speakers import Turn
from audiodas.domain.transcript import Segment
from audiodas.inference.models.pcm import (
    SAMPLE_RATE,  # the samples it is fed: inference.models.pcm's windows
)

_HOP = 160  # 10 ms
_FFT = 400  # 25 ms
_BANDS = 40
_WINDOW = 160  # frames per embedding: 1.6 s, as the encoder was trained
_STEP = 50  # frames between embeddings: 0.5 s
_SHORTEST = 50  # frames embedded at least: 0.5 s
_MEL_CHUNK = 6000  # frames: a minute
_TARGET_DBFS = -30.0  # resemblyzer's volume normalisation (raised only)
MAX_CLUSTERED = 400  # embeddings clustered at most (their distances: 400² floats)
# Average cosine distance between two voices' embeddings above which they are two speakers.
# Measured on this encoder (bench/speakers.py's clips): one voice's windows 0.17-0.25 apart on
# average, its short answers against its long lines 0.35; two voices 0.44-0.51.
SAME_VOICE = 0.4
# Without a count, a voice needs this many windows (about 2 s of speech): a lone window is
# more often two voices at a turn change than a third speaker.
MIN_VOICE_WINDOWS = 3


class SpeakerEncoder:
    def __init__(self, weights: Path) -> None:
        if not weights.exists():
            raise FileNotFoundError(
                f"no speaker encoder at {weights}: run `audiodas models speakers` "
                "(or set AUDIODAS_DIARIZE=false)"
            )
        with np.load(weights) as w:
            # Per layer: input and hidden weights transposed for row vectors, one bias.
            self.layers = [
                (
                    np.ascontiguousarray(w[f"lstm.weight_ih_l{n}"].T),
                    np.ascontiguousarray(w[f"lstm.weight_hh_l{n}"].T),
                    w[f"lstm.bias_ih_l{n}"] + w[f"lstm.bias_hh_l{n}"],
                )
                for n in range(3)
            ]
            self.linear = (np.ascontiguousarray(w["linear.weight"].T), w["linear.bias"])
        self.filters = _mel_filters().astype(np.float32)
        self.window = np.hanning(_FFT + 1)[:-1].astype(np.float32)  # periodic Hann

    def mel(self, samples: np.ndarray) -> np.ndarray:
        """Mel power frames (frames x 40), as resemblyzer computes them; the spectrum is made
        a minute at a time (a 5-minute block at once would take 200 MiB)."""
        padded = np.pad(np.asarray(samples, np.float32), _FFT // 2, mode="reflect")
        count = 1 + (len(padded) - _FFT) // _HOP
        frames = np.lib.stride_tricks.as_strided(
            padded, (count, _FFT), (padded.strides[0] * _HOP, padded.strides[0])
        )
        mel = np.empty((count, _BANDS), np.float32)
        for at in range(0, count, _MEL_CHUNK):
            spectrum = np.fft.rfft(frames[at : at + _MEL_CHUNK] * self.window, axis=1)
            power = np.square(np.abs(spectrum)).astype(np.float32)
            mel[at : at + _MEL_CHUNK] = power @ self.filters.T
        return mel

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """Unit-length voice embeddings (batch x 256) of mel windows (batch x frames x 40)."""
        x = mels
        batch, steps, _ = x.shape
        for w_ih, w_hh, bias in self.layers:
            inputs = x @ w_ih + bias  # every step's input term at once
            h = np.zeros((batch, w_hh.shape[0]), np.float32)
            c = np.zeros_like(h)
            out = np.empty((batch, steps, h.shape[1]), np.float32)
            for t in range(steps):
                i, f, g, o = np.split(inputs[:, t] + h @ w_hh, 4, axis=1)  # PyTorch's order
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                out[:, t] = h
            x = out
        weight, bias = self.linear
        raw = np.maximum(h @ weight + bias, 0)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)


@dataclass
class Diarizer:
    """Collects embeddings window by window (`add`), then clusters them (`turns`)."""

    encoder: SpeakerEncoder

    def __post_init__(self) -> None:
        self._times: list[tuple[float, float]] = []
        self._embeddings: list[np.ndarray] = []

    def add(self, samples: np.ndarray, start_s: float, segments: list[Segment]) -> None:
        """A block of 16 kHz audio starting at `start_s`, and the speech found in it."""
        spans = [(s.start - start_s, s.end - start_s) for s in segments]
        if not spans:
            return
        samples = _louder(samples, spans)
        mel = self.encoder.mel(samples)
        if len(mel) < _WINDOW:  # a recording shorter than one window: silence after it
            mel = np.pad(mel, ((0, _WINDOW - len(mel)), (0, 0)))
        windows, times = [], []
        for begin, end in spans:
            first, last = int(begin * 100), min(int(end * 100), len(mel))
            if last - first >= _WINDOW:  # windows inside the segment
                for frame in range(first, last - _WINDOW + 1, _STEP):
                    windows.append(mel[frame : frame + _WINDOW])
                    times.append((start_s + frame / 100, start_s + (frame + _WINDOW) / 100))
            else:
                # A short segment ("Yes.") is embedded whole, on its own: a full window would
                # hold its neighbours too, and many such mixtures make a voice of their own.
                if last - first < _SHORTEST:
                    first = max(0, min((first + last - _SHORTEST) // 2, len(mel) - _SHORTEST))
                    last = first + _SHORTEST
                self._embeddings.extend(self.encoder.embed(mel[None, first:last]))
                self._times.append((start_s + first / 100, start_s + last / 100))
        for chunk in range(0, len(windows), 32):  # bounded working memory per call
            self._embeddings.extend(self.encoder.embed(np.stack(windows[chunk : chunk + 32])))
        self._times.extend(times)

    def turns(self, speakers: int | None = None) -> list[Turn]:
        """Each embedding's window with its voice (0, 1, ... in no particular order)."""
        if not self._embeddings:
            return []
        embeddings = np.stack(self._embeddings)
        voices = np.argmax(embeddings @ cluster(embeddings, speakers).T, axis=1)
        return [Turn(s, e, int(v)) for (s, e), v in zip(self._times, voices, strict=True)]


def cluster(embeddings: np.ndarray, speakers: int | None = None) -> np.ndarray:
    """The voices' centres (unit vectors, voices x 256): average-linkage clustering of an
    evenly spread subset of at most MAX_CLUSTERED embeddings, to `speakers` clusters or until
    the closest two are SAME_VOICE apart (then without voices of fewer than
    MIN_VOICE_WINDOWS). An embedding's voice is the centre nearest to it."""
    count = len(embeddings)
    chosen = np.linspace(0, count - 1, min(count, MAX_CLUSTERED)).round().astype(int)
    sample = embeddings[chosen]
    members = [[i] for i in range(len(sample))]
    distance = (1.0 - sample @ sample.T).astype(np.float64)
    np.fill_diagonal(distance, np.inf)
    alive = np.ones(len(sample), bool)
    target = max(1, speakers or 1)
    while alive.sum() > target:
        masked = np.where(alive[:, None] & alive[None, :], distance, np.inf)
        a, b = np.unravel_index(np.argmin(masked), masked.shape)
        if speakers is None and masked[a, b] > SAME_VOICE:
            break
        # Lance-Williams for average linkage: the merged cluster's mean distance to each other.
        na, nb = len(members[a]), len(members[b])
        merged = (na * distance[a] + nb * distance[b]) / (na + nb)
        distance[a], distance[:, a] = merged, merged
        distance[a, a] = np.inf
        members[a] += members[b]
        members[b] = []
        alive[b] = False
    groups = [m for m in members if m]
    if speakers is None:
        groups = [m for m in groups if len(m) >= MIN_VOICE_WINDOWS] or groups
    centres = np.stack([sample[m].mean(axis=0) for m in groups])
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def _louder(samples: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """Raised (never lowered) to -30 dBFS over its speech: the encoder reads mel power, not
    its logarithm, so a quiet recording would sound like another voice."""
    parts = [samples[int(b * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for b, e in spans]
    count = sum(len(p) for p in parts)
    rms = np.sqrt(sum(float(np.dot(p, p)) for p in parts) / count) if count else 0.0
    gain = 10 ** ((_TARGET_DBFS - 20 * np.log10(rms)) / 20) if rms > 0 else 1.0
    return samples if gain <= 1.0 else (samples * gain).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _mel_filters() -> np.ndarray:
    """Slaney-style mel filters (librosa's default, which the encoder was trained with)."""
    from faster_whisper.feature_extractor import FeatureExtractor

    return FeatureExtractor.get_mel_filters(SAMPLE_RATE, _FFT, n_mels=_BANDS)
