"""Legal holds, deletion receipts and the audit trail's API, in process on both databases."""

from __future__ import annotations

from audiodas.domain import Scope
from audiodas.testing import FakeClock
from tests.api.conftest import API, upload
from tests.support import assert_error


def test_a_hold_stops_a_delete_until_it_is_released_with_a_reason(make_client, audio_files):
    client = make_client(retention_days=0)
    rid = upload(client, audio_files["short_mp3"], "talk.mp3").json()["id"]
    assert client.patch(f"{API}/{rid}", json={"title": "Board, March"}).status_code == 200
    assert_error(client.put(f"{API}/{rid}/hold", json={}), 422, "invalid_request")
    assert_error(client.put(f"{API}/{rid}/hold", json={"reason": "  "}), 422, "invalid_request")
    held = client.put(f"{API}/{rid}/hold", json={"reason": "subpoena 17"}).json()
    assert held["hold"]["reason"] == "subpoena 17" and held["hold"]["by"] == "local"
    assert client.get(f"{API}/{rid}").json()["hold"]["reason"] == "subpoena 17"
    assert_error(client.delete(f"{API}/{rid}"), 409, "legal_hold")
    assert client.get(f"{API}/{rid}").status_code == 200
    released = client.request("DELETE", f"{API}/{rid}/hold", json={"reason": "case closed"})
    assert released.status_code == 200 and released.json()["hold"] is None
    again = client.request("DELETE", f"{API}/{rid}/hold", json={"reason": "twice"})
    assert_error(again, 409, "not_held")
    receipt = client.delete(f"{API}/{rid}").json()
    assert receipt["recording"]["id"] == rid and receipt["by"] == "local"
    assert [f["variant"] for f in receipt["files"]] == ["original"]
    assert_error(client.put(f"{API}/{'0' * 32}/hold", json={"reason": "x"}), 404, "not_found")

    trail = client.get("/api/v1/audit", params={"recording_id": rid}).json()
    assert [e["action"] for e in trail["items"]] == ["delete", "release", "hold", "title", "upload"]
    assert trail["items"][3]["detail"] == {"title": "Board, March"}
    assert trail["items"][0]["detail"] == receipt
    assert trail["items"][1]["detail"] == {"reason": "case closed", "held_for": "subpoena 17"}
    pairs = zip(trail["items"], trail["items"][1:], strict=False)  # one after the other
    assert all(a["prev_hash"] == b["hash"] for a, b in pairs)


def test_the_trail_pages_newest_first_and_is_for_admins(make_client, audio_files):
    client = make_client(auth="required")
    access = client.app.state.runtime.access
    admin = {"Authorization": f"Bearer {access.create(Scope.ADMIN, 'boss')[1]}"}
    uploader = {"Authorization": f"Bearer {access.create(Scope.UPLOAD, 'clerk')[1]}"}
    for n in range(3):
        with audio_files["short_mp3"].open("rb") as f:
            client.post(API, files={"file": (f"t{n}.mp3", f)}, headers=uploader)
    assert_error(client.get("/api/v1/audit", headers=uploader), 403, "forbidden")
    rid = client.get(API, headers=admin).json()["items"][0]["id"]
    assert_error(client.put(f"{API}/{rid}/hold", json={"reason": "x"}, headers=uploader), 403,
                 "forbidden")  # fmt: skip
    client.get(API, headers={"Authorization": "Bearer wrong"})  # a refused key, recorded
    first = client.get("/api/v1/audit", params={"limit": 2}, headers=admin).json()
    rest = client.get("/api/v1/audit", params={"limit": 10, "cursor": first["next_cursor"]},
                      headers=admin).json()  # fmt: skip
    actions = [e["action"] for e in first["items"] + rest["items"]]
    assert actions == ["sign_in_refused", "upload", "upload", "upload", "key_created",
                       "key_created"]  # fmt: skip
    assert rest["next_cursor"] is None
    uploads = [e for e in first["items"] + rest["items"] if e["action"] == "upload"]
    assert {e["actor"] for e in uploads} == {"clerk"}
    assert_error(client.get("/api/v1/audit", params={"cursor": "x"}, headers=admin), 400,
                 "invalid_cursor")  # fmt: skip
    assert_error(client.get("/api/v1/audit", params={"action": "dance"}, headers=admin), 422,
                 "invalid_request")  # fmt: skip


def test_retention_is_extended_as_asked_and_shortened_only_with_a_reason(make_client, audio_files):
    clock = FakeClock()
    client = make_client(clock=clock, retention_days=30)
    rid = upload(client, audio_files["short_mp3"], "talk.mp3").json()["id"]
    url = f"{API}/{rid}/retention"
    longer = client.put(url, json={"until": "2033-06-30T00:00:00+00:00"})
    assert longer.status_code == 200 and longer.json()["retention_until"].startswith("2033-06-30")
    assert_error(client.put(url, json={"until": "2026-01-20T00:00:00+00:00"}), 422,
                 "invalid_request")  # earlier, no reason  # fmt: skip
    assert_error(client.put(url, json={"until": "2020-01-01", "reason": "error"}), 400,
                 "invalid_field")  # in the past  # fmt: skip
    assert_error(client.put(url, json={"until": "soon"}), 400, "invalid_field")
    shorter = client.put(url, json={"until": "2026-01-20T00:00:00+00:00",
                                    "reason": "consent withdrawn"})  # fmt: skip
    assert shorter.status_code == 200
    clock.advance(20 * 86_400)  # past the new end
    assert client.delete(f"{API}/{rid}").status_code == 200
    trail = client.get("/api/v1/audit", params={"action": "retention"}).json()["items"]
    assert [e["detail"].get("reason") for e in trail] == ["consent withdrawn", None]
    assert trail[0]["detail"]["to"].startswith("2026-01-20")
