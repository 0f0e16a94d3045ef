"""GET /api/v1/recordings/{id}/waveform: the transcription's peaks, or for a recording
transcribed before waveforms were kept, measured from its original on the first request."""

from __future__ import annotations

import shutil
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from audiodas.domain import Stage, StageName, StageStatus, Transcript, Variant, VariantName
from audiodas.domain.audit import Action, AuditEntry
from audiodas.domain.transcript import Waveform
from tests.api.conftest import API, store_transcript, upload
from tests.support import assert_error
from tests.unit.test_waveform import tone_burst


def tone_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((tone_burst(1.0, 0.5, 1.0) * 32767).astype(np.int16).tobytes())
    return path


def transcribed(client, rid: str, waveform: Waveform | None) -> None:  # type: ignore[no-untyped-def]
    store_transcript(client, rid, Transcript.from_parts([], "en", waveform=waveform))


def test_an_untranscribed_or_unknown_recording_has_none(client, audio_files) -> None:
    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    r = client.get(f"{API}/{rid}/waveform")
    assert_error(r, 409, "variant_not_ready")
    assert "transcribe stage: pending" in r.json()["detail"]
    assert_error(client.get(f"{API}/{'0' * 32}/waveform"), 404, "not_found")


def test_the_transcriptions_waveform_is_served(client, audio_files) -> None:
    rid = upload(client, audio_files["short_mp3"]).json()["id"]
    transcribed(client, rid, Waveform(20, bytes([0, 9, 255])))
    r = client.get(f"{API}/{rid}/waveform")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": rid, "peaks_per_s": 20, "peaks": [0, 9, 255]}
    assert "max-age" in r.headers["cache-control"]


def test_an_older_recording_gets_its_waveform_on_first_request(client, tmp_path) -> None:
    rid = upload(client, tone_wav(tmp_path / "burst.wav")).json()["id"]
    transcribed(client, rid, None)  # as before waveforms were kept
    first = client.get(f"{API}/{rid}/waveform").json()
    loud = [i / first["peaks_per_s"] for i, p in enumerate(first["peaks"]) if p > 100]
    assert loud and 1.0 <= loud[0] < 1.1 and 1.4 <= loud[-1] < 1.5  # where the tone is
    assert len(first["peaks"]) / first["peaks_per_s"] == 2.5
    stored = client.app.state.runtime.repository.waveform(rid)
    assert stored is not None and list(stored.peaks) == first["peaks"]  # kept, not re-measured


def test_an_older_recording_whose_original_is_gone_is_measured_from_its_archive(
    client, tmp_path
) -> None:
    rid = upload(client, tone_wav(tmp_path / "burst.wav")).json()["id"]
    runtime = client.app.state.runtime
    original = runtime.repository.get(rid).variants[VariantName.ORIGINAL]
    copy = tmp_path / "archive.wav"  # the archive copy, as the engine keeps one: the same sound
    shutil.copyfile(runtime.store.local_path(original.path), copy)
    archive = Variant(VariantName.ARCHIVE, runtime.store.put(copy, rid, "archive.wav"),
                      "audio/wav", original.size_bytes, original.sha256)  # fmt: skip
    now = datetime.now(UTC)
    runtime.repository.save_stage(
        rid, Stage(StageName.ARCHIVE, StageStatus.DONE, now, now, None, 1), variant=archive, now=now
    )
    transcribed(client, rid, None)  # as before waveforms were kept
    audit = AuditEntry(now, "local", Action.ORIGINAL_REMOVED, rid, {})
    runtime.store.delete(runtime.repository.remove_original(rid, now, audit=audit))
    peaks = client.get(f"{API}/{rid}/waveform").json()
    loud = [i / peaks["peaks_per_s"] for i, p in enumerate(peaks["peaks"]) if p > 100]
    assert loud and 1.0 <= loud[0] < 1.1 and 1.4 <= loud[-1] < 1.5
