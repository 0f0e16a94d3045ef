"""Audio decoded to 16 kHz mono float32 in windows, so that transcribing a 4-hour recording
holds about as much audio in memory as a 1-minute one.

Decodes exactly as faster-whisper's `decode_audio` does (PyAV, s16 mono resampling, /32768),
so a recording shorter than one window gives the very samples, and transcript, that
faster-whisper gives for the whole file. Longer recordings are cut at the quietest 20 ms in the
last seconds of each window, so that a cut rarely falls inside a word.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from audiodas.domain.transcript import Waveform

SAMPLE_RATE = 16000
_FRAME = SAMPLE_RATE // 50  # 20 ms
_SEARCH_S = 15.0  # where a cut may fall: the last seconds of a window


@dataclass(frozen=True)
class Window:
    start_s: float
    samples: np.ndarray  # float32, mono, 16 kHz

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / SAMPLE_RATE


def windows(path: Path, window_s: float) -> Iterator[Window]:
    """Consecutive windows of at most `window_s` seconds covering the whole file."""
    size = int(window_s * SAMPLE_RATE)
    search = min(int(_SEARCH_S * SAMPLE_RATE), size // 2)
    pending: list[np.ndarray] = []
    held, offset = 0, 0
    for chunk in _decode_s16(path):
        pending.append(chunk)
        held += len(chunk)
        while held > size:
            data = np.concatenate(pending)
            cut = _quietest(data, size - search, size)
            yield Window(offset / SAMPLE_RATE, data[:cut].astype(np.float32) / 32768.0)
            pending, held, offset = [data[cut:]], len(data) - cut, offset + cut
    if held:
        data = np.concatenate(pending)
        yield Window(offset / SAMPLE_RATE, data.astype(np.float32) / 32768.0)


def _quietest(data: np.ndarray, start: int, end: int) -> int:
    """The middle of the 20 ms frame with the least energy between start and end."""
    frames = data[start:end].astype(np.float32)
    frames = frames[: len(frames) // _FRAME * _FRAME].reshape(-1, _FRAME)
    energy = np.einsum("ij,ij->i", frames, frames)
    return start + int(np.argmin(energy)) * _FRAME + _FRAME // 2


def _decode_s16(path: Path) -> Iterator[np.ndarray]:
    """int16 mono 16 kHz arrays, as faster_whisper.audio.decode_audio makes them."""
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        frames = _group(_valid(container.decode(audio=0)), 500000)
        for group in itertools.chain(frames, [None]):  # None flushes the resampler
            for frame in resampler.resample(group):
                yield frame.to_ndarray().reshape(-1)


def _valid(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _group(frames: Iterator[av.AudioFrame], samples: int) -> Iterator[av.AudioFrame]:
    fifo = av.audio.fifo.AudioFifo()
    for frame in frames:
        frame.pts = None  # as faster-whisper does: no timestamp checks
        fifo.write(frame)
        if fifo.samples >= samples:
            yield fifo.read()
    if fifo.samples > 0:
        yield fifo.read()


PEAKS_PER_S = 20  # measured, then reduced to Waveform's few thousand points


class PeakMeter:
    """The waveform of the windows it is given, in order: the loudest sample of each
    1/PEAKS_PER_S second, 0-255. Holds one byte per peak, so four hours cost 288 KB."""

    def __init__(self) -> None:
        self.block = SAMPLE_RATE // PEAKS_PER_S
        self._rest = np.zeros(0, dtype=np.float32)
        self._peaks = bytearray()

    def add(self, samples: np.ndarray) -> None:
        data = np.concatenate([self._rest, samples]) if len(self._rest) else samples
        whole = len(data) // self.block * self.block
        self._levels(data[:whole].reshape(-1, self.block))
        self._rest = data[whole:]

    def waveform(self) -> Waveform:
        if len(self._rest):
            self._levels(self._rest.reshape(1, -1))
            self._rest = np.zeros(0, dtype=np.float32)
        return Waveform(PEAKS_PER_S, bytes(self._peaks)).reduced()

    def _levels(self, blocks: np.ndarray) -> None:
        if blocks.size:
            levels = np.minimum(255, np.round(np.abs(blocks).max(axis=1) * 255))
            self._peaks += levels.astype(np.uint8).tobytes()


def waveform_of(path: Path) -> Waveform:
    """A file's waveform on its own (for recordings transcribed before waveforms were kept)."""
    meter = PeakMeter()
    for window in windows(path, 300.0):
        meter.add(window.samples)
    return meter.waveform()


if __name__ == "__main__":  # inference/waveforms.py: `python -m audiodas.inference.models.pcm FILE`
    import json
    import sys

    print(json.dumps(waveform_of(Path(sys.argv[1])).as_dict()))
