"""`make compose-check`: the container deployment, for real, with podman.

Builds the images (Dockerfile, deploy/postgres, deploy/seaweedfs), brings compose.yaml up
(PostgreSQL, SeaweedFS for the files, one API and two workers sharing no volume), runs every
container's health check, uploads a speech clip through the API container, waits until a worker container has processed it, reads a range
of each variant as a browser would, and tears everything down again (images stay cached).

As root it installs podman, runc, debootstrap and podman-compose with apt when they are absent,
and makes the `debian:bookworm-slim` base image with debootstrap from the Debian mirror apt
already uses when no registry can supply it. Podman's settings come from
deploy/podman/containers.conf (the machine's own configuration is left alone).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "audiodas-check"
BASE_IMAGE = "debian:bookworm-slim"
PORT = int(os.environ.get("AUDIODAS_PORT", "18000"))
API = f"http://127.0.0.1:{PORT}/api/v1/recordings"
ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy/podman/containers.conf")}
ENV["AUDIODAS_PORT"] = str(PORT)
STARTED = time.monotonic()
SERVICES = ("postgres", "seaweedfs", "api", "worker-1", "worker-2")
LOGS = ROOT / "artifacts/compose-logs"


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def run(*args: str, quiet: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    output = subprocess.DEVNULL if quiet else None
    return subprocess.run(args, env=ENV, cwd=ROOT, check=check, stdout=output, stderr=output)


def capture(*args: str) -> str:
    return subprocess.run(
        args, env=ENV, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def compose(*args: str, quiet: bool = False, check: bool = True) -> subprocess.CompletedProcess:
    return run(
        "podman-compose", "-p", PROJECT, "-f", "compose.yaml", *args, quiet=quiet, check=check
    )


def install_podman() -> None:
    missing = [
        t for t in ("podman", "runc", "debootstrap", "podman-compose") if not shutil.which(t)
    ]
    if missing:
        say(f"installing {', '.join(missing)} with apt")
        run(
            "apt-get",
            "install",
            "-y",
            "-q",
            "podman",
            "runc",
            "debootstrap",
            "podman-compose",
            quiet=True,
        )


def debian_mirror() -> str:
    """The Debian bookworm mirror of this machine's apt sources (read now, written nowhere)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file() or path.suffix not in ("", ".list", ".sources"):
            continue
        text = path.read_text()
        for line in text.splitlines():  # one-line style: deb URI SUITE COMPONENTS
            words = line.split()
            if words[:1] == ["deb"] and "bookworm" in words:
                return next(w for w in words if "://" in w)
        for stanza in text.split("\n\n"):  # deb822 style
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[0] != "#"
            )
            suites = fields.get("Suites", "").split()
            if fields.get("Types", "").strip() == "deb" and "bookworm" in suites:
                return fields["URIs"].split()[0]
    raise SystemExit("no Debian bookworm source in apt's configuration")


def base_image() -> None:
    if run("podman", "image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return
    say(f"no {BASE_IMAGE} image: building one with debootstrap (about a minute)")
    with tempfile.TemporaryDirectory() as rootfs:
        run("debootstrap", "--variant=minbase", "bookworm", rootfs, debian_mirror(), quiet=True)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "-", BASE_IMAGE],
            env=ENV,
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tar.wait()


def host_build_settings() -> list[str]:
    """This machine's package-client settings, handed to the image build: the CA file of a
    TLS-inspecting proxy and a local wheel folder (the Dockerfile declares them as ARGs)."""
    options: list[str] = []
    ca = os.environ.get("PIP_CERT") or os.environ.get("NODE_EXTRA_CA_CERTS")
    if ca and Path(ca).is_file():
        options += ["--volume", f"{ca}:/run/build-ca.crt:ro"]
        options += ["--build-arg", "PIP_CERT=/run/build-ca.crt"]
        options += ["--build-arg", "NODE_EXTRA_CA_CERTS=/run/build-ca.crt"]
    links = [d for d in os.environ.get("PIP_FIND_LINKS", "").split() if Path(d).is_dir()]
    for folder in links:
        options += ["--volume", f"{folder}:{folder}:ro"]
    if links:
        options += ["--build-arg", f"PIP_FIND_LINKS={' '.join(links)}"]
    return options


def build() -> None:
    images = [
        ("localhost/audiodas-postgres:15", "deploy/postgres"),
        ("localhost/audiodas-seaweedfs:4.48", "deploy/seaweedfs"),
        ("localhost/audiodas:latest", "."),
    ]
    for tag, context in images:
        say(f"building {tag}")
        started = time.monotonic()
        log = Path(tempfile.gettempdir()) / f"{PROJECT}-build.log"
        with log.open("w") as out:
            built = subprocess.run(
                ["podman", "build", "--format", "docker", "--network", "host",
                 *host_build_settings(), "-t", tag, context],
                env=ENV, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        if built.returncode:
            print("\n".join(log.read_text().splitlines()[-40:]))
            raise SystemExit(f"building {tag} failed (whole output: {log})")
        say(f"built {tag} in {time.monotonic() - started:.0f} s, {image_size(tag)}")


def image_size(tag: str) -> str:
    size = int(capture("podman", "image", "inspect", "--format", "{{.Size}}", tag))
    return f"{size / 2**20:.0f} MiB"


def container(service: str) -> str:
    return f"{PROJECT}_{service}_1"


def wait_healthy(service: str, timeout: float = 120) -> None:
    """Run the service's own health check (compose.yaml) until it passes."""
    deadline = time.monotonic() + timeout
    while run(
        "podman", "healthcheck", "run", container(service), quiet=True, check=False
    ).returncode:
        if time.monotonic() > deadline:
            run("podman", "logs", "--tail", "40", container(service), check=False)
            raise SystemExit(f"{service} is not healthy after {timeout:.0f} s")
        time.sleep(2)
    say(f"{service}: healthy")


def speech_clip() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("moonshine_voice")
    assert spec and spec.origin, "moonshine-voice (a test dependency) ships the speech clip"
    return Path(spec.origin).parent / "assets" / "two_cities.wav"


KEY: dict[str, str] = {}  # the Authorization header, once a key is made in the api container


def upload(clip: Path) -> dict:
    with clip.open("rb") as f:
        answer = httpx.post(
            API, files={"file": (clip.name, f, "audio/wav")}, headers=KEY, timeout=60
        )
    assert answer.status_code == 202, answer.text
    return answer.json()


def wait_finished(rec: dict, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while rec["status"] not in ("done", "failed", "rejected"):
        if time.monotonic() > deadline:
            raise SystemExit(f"not processed after {timeout:.0f} s: {rec}")
        time.sleep(1)
        rec = httpx.get(f"{API}/{rec['id']}", headers=KEY, timeout=10).json()
    return rec


def processed_by(rec: dict) -> str:
    [worker] = [w for w in ("worker-1", "worker-2") if f"recording {rec['id']} done" in logs(w)]
    return worker


def check_access() -> None:
    refused = httpx.get(API)
    assert refused.status_code == 401, refused.text
    key = capture("podman", "exec", container("api"), "audiodas", "keys", "create",
                  "--scope", "upload", "--name", "compose-check").strip()  # fmt: skip
    KEY["Authorization"] = f"Bearer {key}"
    assert httpx.get(API, headers=KEY).status_code == 200
    say("keys required: 401 without one; a key made in the api container is accepted")


def check_hosts() -> None:
    """The API answers its service name (from another container) and refuses other names."""
    foreign = httpx.get(API, headers={"Host": "evil.example"})
    assert foreign.status_code == 400, foreign.text
    assert foreign.json()["error"] == "host_not_allowed", foreign.text
    by_name = "http://api:8000/healthz"
    # As a health check does (compose retries it): podman 4.3's name server (aardvark-dns
    # 1.4) drops lookups now and then while it reloads (containers/aardvark-dns#389).
    for attempt in range(1, 4):
        tried = subprocess.run(
            ["podman", "exec", container("worker-1"), "audiodas", "health", "--url", by_name],
            env=ENV, capture_output=True, text=True,
        )  # fmt: skip
        if tried.returncode == 0:
            break
        say(f"{by_name} from the worker-1 container, attempt {attempt}: {tried.stdout.strip()}")
    else:
        raise SystemExit(f"the worker-1 container cannot reach {by_name}")
    say(f"hosts: a foreign Host answered 400; {by_name} from the worker-1 container 200")


def check_processing() -> None:
    clip = speech_clip()
    rec = upload(clip)
    say(f"uploaded {clip.name} ({clip.stat().st_size} bytes) to the api container: {rec['id']}")
    rec = wait_finished(rec)
    assert rec["status"] == "done", rec
    say("processed: " + ", ".join(f"{s['name']} {s['status']}" for s in rec["stages"]))
    say(f"summary: {rec['summary']!r}")
    say(f"transcript: {rec['transcript'][:80]!r}…")
    say(f"processed by the {processed_by(rec)} container")
    for variant, about in rec["variants"].items():  # by signed link, as a browser plays
        part = httpx.get(
            f"http://127.0.0.1:{PORT}{about['signed_url']}", headers={"Range": "bytes=100-1099"}
        )
        assert part.status_code == 206 and len(part.content) == 1000, (variant, part.status_code)
        say(
            f"stream {variant}: 206, {part.headers['content-range']}, {part.headers['content-type']}"
        )
    page = httpx.get(f"http://127.0.0.1:{PORT}/")
    model = httpx.head(f"http://127.0.0.1:{PORT}/models/whisper-tiny.en/config.json")
    assert page.status_code == 200 and model.status_code == 200, (page, model)
    say("web app and browser model served by the api container: 200, 200")

    accepted = [upload(clip) for _ in range(6)]  # queued together: both workers take some
    recs = [wait_finished(rec) for rec in accepted]
    assert all(r["status"] == "done" for r in recs)
    say("6 more uploads at once: " + ", ".join(
        f"{w} {n}" for w, n in sorted(Counter(processed_by(r) for r in recs).items())
    ))  # fmt: skip


def check_no_shared_volume() -> None:
    """The api and the workers share no volume: their files go through the object store."""
    mounts = {
        service: set(capture(
            "podman", "inspect", "--format", "{{range .Mounts}}{{.Name}} {{end}}", container(service)
        ).split())
        for service in ("api", "worker-1", "worker-2")
    }  # fmt: skip
    shared = mounts["api"] & (mounts["worker-1"] | mounts["worker-2"])
    assert not shared and not mounts["worker-1"] & mounts["worker-2"], mounts
    say("api and workers share no volume: files go through seaweedfs (S3)")


def check_no_restarts() -> None:
    """No container was restarted and no process inside one (the api's `audiodas serve` restarts
    its engine itself): an image missing a module shows here even if the uploads got through."""
    for service in SERVICES:
        count = capture("podman", "inspect", "--format", "{{.RestartCount}}", container(service))
        restarted = [line for line in logs(service).splitlines() if "starting it again" in line]
        if int(count) or restarted:
            lines = logs(service).splitlines()
            # What the first failure said: a restart's cause is far above the log's end.
            first = next(
                (i for i, line in enumerate(lines) if "Traceback" in line or "ERROR" in line), 0
            )
            print("\n".join(lines[max(0, first - 20) : first + 60]))
            raise SystemExit(
                f"{service}: restarted {int(count)} times; {restarted[:3]};"
                f" every service's log is in {LOGS.relative_to(ROOT)}/"
            )
    say("no container and no process in one was restarted")


def keep_logs() -> None:
    """Every service's whole log, with times, for reading after the containers are gone."""
    LOGS.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        result = subprocess.run(
            ["podman", "logs", "--timestamps", container(service)],
            env=ENV, capture_output=True, text=True,
        )  # fmt: skip
        (LOGS / f"{service}.log").write_text(result.stdout + result.stderr)
        inspect = subprocess.run(
            ["podman", "inspect", container(service)], env=ENV, capture_output=True, text=True
        )
        (LOGS / f"{service}.inspect.json").write_text(inspect.stdout)


def logs(service: str) -> str:
    result = subprocess.run(
        ["podman", "logs", container(service)], env=ENV, capture_output=True, text=True
    )
    return result.stdout + result.stderr


def main() -> int:
    if os.geteuid() != 0:
        raise SystemExit("compose-check runs podman as root (see shared notes on containers)")
    install_podman()
    say(capture("podman", "--version").strip() + ", runtime runc")
    base_image()
    build()
    compose("down", "-v", quiet=True, check=False)  # what an interrupted run left
    try:
        say("up: postgres and seaweedfs first, then the api and two workers once they are healthy")
        compose("up", "-d", "--no-build", "postgres", "seaweedfs", quiet=True)
        wait_healthy("postgres")
        wait_healthy("seaweedfs")
        compose("up", "-d", "--no-build", quiet=True)
        for service in SERVICES[2:]:
            wait_healthy(service)
        check_no_shared_volume()
        user = capture("podman", "exec", container("api"), "id", "-un").strip()
        say(f"containers run as {user!r}")
        check_hosts()
        check_access()
        check_processing()
        check_no_restarts()
        say("compose check passed")
        return 0
    finally:
        keep_logs()
        compose("down", "-v", quiet=True, check=False)
        say("torn down")


if __name__ == "__main__":
    sys.exit(main())
