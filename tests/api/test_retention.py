"""Legal retention as the service's clock tells it (a FakeClock moved, never slept): the archive
is kept until its last day, then the recording may be deleted."""

from __future__ import annotations

from datetime import datetime

from audiodas.testing import FakeClock
from tests.api.conftest import upload
from tests.support import assert_error

DAY_S = 86_400


def test_a_recording_may_be_deleted_once_its_retention_has_run_out(make_client, audio_files):
    clock = FakeClock()
    client = make_client(clock=clock, retention_days=1826)  # five years
    accepted = upload(client, audio_files["short_mp3"], "talk.mp3")
    location = accepted.headers["location"]
    until = datetime.fromisoformat(client.get(location).json()["retention_until"])
    assert (until - clock.now()).days == 1826

    clock.advance(1826 * DAY_S - 1)  # its last second
    refused = client.delete(location)
    assert_error(refused, 409, "under_retention")
    assert until.isoformat()[:10] in refused.json()["detail"]
    assert client.get(location).status_code == 200  # kept, whole

    clock.advance(2)
    assert client.delete(location).status_code == 200
    assert client.get(location).status_code == 404
