"""Many machines without a shared folder: an API node and a worker with data folders of their
own, sharing only PostgreSQL and a real S3-compatible store (SeaweedFS). An upload reaches
`done`, every variant streams with 206 as from a folder, and DELETE leaves no object."""

from __future__ import annotations

import uuid

import httpx

from tests.support import Server, assert_error
from tests.test_engine import API, upload, wait_finished
from tests.test_many_workers import Worker


def test_an_api_node_and_a_worker_share_only_the_database_and_the_store(
    start_server, postgres, seaweedfs, assets, tmp_path
) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    env = {
        "AUDIODAS_DATABASE_URL": postgres.create_database(f"s3_{uuid.uuid4().hex[:10]}"),
        **seaweedfs.env(prefix),
        "AUDIODAS_RETENTION_DAYS": "0",  # deletable at once
    }
    api = start_server(**env)  # API only, its own data folder
    worker_data = tmp_path / "worker-data"
    worker = Worker("worker", {**env, "AUDIODAS_DATA_DIR": str(worker_data)}, tmp_path)
    try:
        clip = assets / "two_cities.wav"
        rec = upload(api, clip)
        # The original is in the store (named before it was probed: no extension), not kept
        # whole on the API node's disk.
        assert seaweedfs.keys(f"{prefix}/recordings/{rec['id']}/") == [
            f"{prefix}/recordings/{rec['id']}/original"
        ]
        assert not [p for p in api.data_dir.rglob("*") if p.is_file() and p.stat().st_size > 1000]
        done = wait_finished(api, rec["id"], timeout=240)
        assert done["status"] == "done", done
        assert "best of times" in done["transcript"].lower()
        stored = seaweedfs.keys(f"{prefix}/recordings/{rec['id']}/")
        assert [k.rsplit("/", 1)[1] for k in stored] == ["archive.m4a", "echo.mp3", "original"]

        for name, variant in done["variants"].items():
            url = f"{api.url}{API}/{rec['id']}/stream?variant={name}"
            whole = httpx.get(url)
            assert whole.status_code == 200 and len(whole.content) == variant["size_bytes"]
            part = httpx.get(url, headers={"Range": "bytes=100-1099"})
            assert part.status_code == 206, (name, part.text)
            assert part.headers["content-range"] == f"bytes 100-1099/{variant['size_bytes']}"
            assert part.content == whole.content[100:1100]
        original = httpx.get(f"{api.url}{API}/{rec['id']}/stream?variant=original")
        assert original.content == clip.read_bytes()
        assert 'filename="two_cities-original.wav"' in original.headers["content-disposition"]

        gone = httpx.delete(f"{api.url}{API}/{rec['id']}")
        assert gone.status_code == 200, gone.text
        assert seaweedfs.keys(f"{prefix}/recordings/{rec['id']}/") == []  # no object left
        assert httpx.get(f"{api.url}{API}/{rec['id']}").status_code == 404
    finally:
        worker.stop()
    assert "recording" in worker.log_text()


def test_players_can_be_sent_to_the_store_after_the_api_checked_their_link(
    seaweedfs, audio_files, tmp_path
) -> None:
    """AUDIODAS_S3_STREAM=redirect: a signed link (or key) is checked by the API, which answers
    307 to a presigned URL of the store; the store then answers the player's Range requests
    with the bytes and the type and file name the API would have sent. A bad link is refused
    by the API, as before: no presigned URL leaves it."""
    server = Server(
        tmp_path / "data",
        env={
            **seaweedfs.env(f"redirect-{uuid.uuid4().hex[:8]}"),
            "AUDIODAS_S3_STREAM": "redirect",
            "AUDIODAS_AUTH": "required",
        },
    ).start()
    try:
        key = server.create_key("upload", "uploader")
        source = audio_files["short_mp3"]
        with source.open("rb") as f:
            added = httpx.post(
                f"{server.url}{API}", files={"file": f}, headers={"Authorization": f"Bearer {key}"}
            )
        assert added.status_code == 202, added.text
        link = f"{server.url}{added.json()['variants']['original']['signed_url']}"

        sent = httpx.get(link, headers={"Range": "bytes=0-9"})
        assert sent.status_code == 307 and sent.headers["location"].startswith(seaweedfs.endpoint)
        part = httpx.get(link, headers={"Range": "bytes=0-9"}, follow_redirects=True)
        assert part.status_code == 206 and part.content == source.read_bytes()[:10]
        assert part.headers["content-range"] == f"bytes 0-9/{source.stat().st_size}"
        assert part.headers["content-type"] == "audio/mpeg"
        assert (
            part.headers["content-disposition"] == f'inline; filename="{source.stem}-original.mp3"'
        )

        assert_error(httpx.get(link.replace("sig=", "sig=0")), 403, "link_invalid")
        assert_error(httpx.get(link.split("?")[0]), 401, "unauthenticated")
    finally:
        server.stop()
