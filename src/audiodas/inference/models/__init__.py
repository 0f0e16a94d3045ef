"""What only an inference process runs (`inference/child.py` builds them): speech recognition
(`whisper.py`), audio decoded in windows and the waveform measured on the way (`pcm.py`),
speaker labels (`speakers.py`), summaries (`summarizers.py`, `t5.py`). numpy, PyAV,
CTranslate2 and faster-whisper are imported here and nowhere else of the package: no process
that serves HTTP or forks FFmpeg imports this package (import-linter checks it)."""
