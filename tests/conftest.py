from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import (
    PostgresCluster,
    Server,
    ffmpeg,
    find_pg_bindir,
    run_root,
    speech_assets,
)

# The product runs heavy work at nice 19 so that the API comes first. Under two test workers both
# cores are busy with nice-0 test processes (pytest, Chromium, other servers), and heavy work at
# 19 waited behind them: the whole suite took 9:49 instead of 8:23. Tests are not about that
# priority (bench/load is), so their servers and engines run heavy work at 10 (not SCHED_IDLE).
os.environ.setdefault("AUDIODAS_HEAVY_WORK_NICE", "10")
os.environ.setdefault("AUDIODAS_HEAVY_WORK_IDLE_POLICY", "false")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the database of every `audiodas serve` the tests start; with postgresql, only the "
        "server tests marked `database` run, each server on a database of its own",
    )


def _api_test_on_sqlite(item: pytest.Item) -> bool:
    """Starts servers whose behaviour depends on the database (marked `database`), and is not
    already run on PostgreSQL by its own fixtures."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return (
        item.get_closest_marker("database") is not None
        and bool({"start_server", "server", "stored"} & fixtures)
        and not {"postgres", "database_url", "migrated_url"} & fixtures
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--database") != "postgresql":
        return
    others = [item for item in items if not _api_test_on_sqlite(item)]
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item not in others]


@pytest.fixture(scope="session", autouse=True)
def servers_database(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.config.getoption("--database") != "postgresql":
        yield
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    Server.database_for = lambda data_dir: cluster.create_database(
        "s_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    )
    yield
    Server.database_for = None


@pytest.fixture(scope="session", autouse=True)
def no_run_folders_left() -> Iterator[None]:
    yield
    shutil.rmtree(run_root(), ignore_errors=True)


@pytest.fixture(autouse=True)
def run_folder_in_the_session(request: pytest.FixtureRequest, monkeypatch) -> None:
    """What a test runs outside `Server` (an in-process engine, `audiodas process`, a worker of
    its own) keeps its sockets and state in the session's folder too, not the system's temp."""
    key = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    monkeypatch.setenv("AUDIODAS_RUN_DIR", str(run_root() / key))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing test's report ends with the log of every server still running: a stall in CI
    can then be read, not guessed."""
    report = yield
    if report.failed:
        for server in Server.running:
            tail = server.read_log().splitlines()[-80:]
            report.sections.append((f"server {server.port} log (last 80 lines)", "\n".join(tail)))
    return report


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        find_pg_bindir()
    except FileNotFoundError:
        if os.environ.get("CI"):
            pytest.fail(
                "PostgreSQL binaries (initdb, pg_ctl) are missing; `make test` installs them"
            )
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found; `make test` installs them")
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def seaweedfs():  # type: ignore[no-untyped-def]
    """A real S3-compatible store (SeaweedFS) on loopback, one per test process."""
    from tests.support import SeaweedFS

    try:
        store = SeaweedFS().start()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    # The adapter reads credentials as the AWS tools do: from the environment.
    for name, value in store.env().items():
        if name.startswith("AWS_"):
            os.environ.setdefault(name, value)
    yield store
    store.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on both backends; PostgreSQL gets a fresh database per test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")


def _migrate(url: str) -> None:
    from audiodas.adapters.database import create_engine_for, migrate
    from audiodas.config import Settings

    engine = create_engine_for(Settings(database_url=url).sqlalchemy_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()  # a template must have no connection when it is copied


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, made once per session and copied by each
    test that wants a migrated database (running the migrations is most of a fast test)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres_template(postgres: PostgresCluster) -> str:
    """The same on PostgreSQL: a database each test's is created from (CREATE DATABASE ...
    TEMPLATE), migrated once per session."""
    name = f"migrated_{uuid.uuid4().hex[:8]}"
    _migrate(postgres.create_database(name))
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of the test's own with the schema in place, on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "migrated.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), target)
        return f"sqlite:///{target}"
    template = request.getfixturevalue("migrated_postgres_template")
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"m_{uuid.uuid4().hex[:12]}", template=template)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    servers: list[Server] = []

    def start(timeout: float = 30, **env: str) -> Server:
        data_dir = tmp_path / f"data{len(servers)}"
        server = Server(data_dir, env={k.upper(): str(v) for k, v in env.items()})
        servers.append(server)
        return server.start(timeout)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def assets() -> Path:
    return speech_assets()


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory: pytest.TempPathFactory, assets: Path) -> dict[str, Path]:
    """Real speech in the formats users send, plus files that are not (good) audio."""
    d = tmp_path_factory.mktemp("audio")
    speech = assets / "two_cities.wav"
    files = {"wav": d / "speech.wav"}
    shutil.copy(speech, files["wav"])
    for ext, codec in [("mp3", "libmp3lame"), ("m4a", "aac"), ("flac", "flac"), ("ogg", "libopus")]:
        files[ext] = d / f"speech.{ext}"
        ffmpeg("-i", str(speech), "-c:a", codec, str(files[ext]))
    files["short_mp3"] = d / "beckett.mp3"
    ffmpeg("-i", str(assets / "beckett.wav"), "-c:a", "libmp3lame", str(files["short_mp3"]))
    files["text"] = d / "notes.txt"
    files["text"].write_text("These are meeting notes, not audio.\n" * 50)
    files["image"] = d / "picture.png"
    ffmpeg("-f", "lavfi", "-i", "color=red:s=64x64", "-frames:v", "1", str(files["image"]))
    wav = files["wav"].read_bytes()
    files["truncated_wav"] = d / "cut.wav"
    files["truncated_wav"].write_bytes(wav[: len(wav) // 3])
    mp3 = files["mp3"].read_bytes()
    files["truncated_mp3"] = d / "cut.mp3"
    files["truncated_mp3"].write_bytes(mp3[: len(mp3) // 3])
    m4a = files["m4a"].read_bytes()
    files["truncated_m4a"] = d / "cut.m4a"
    files["truncated_m4a"].write_bytes(m4a[: len(m4a) // 2])
    files["corrupt"] = d / "corrupt.mp3"
    files["corrupt"].write_bytes(os.urandom(64 * 1024))
    files["empty"] = d / "empty.wav"
    files["empty"].write_bytes(b"")
    return files


@pytest.fixture(scope="session")
def corrupt_in_the_middle(tmp_path_factory, audio_files) -> Path:
    """A FLAC whose start and end decode but whose middle is garbage: accepted on upload (the
    probe reads the ends), then FFmpeg refuses it."""
    data = bytearray(audio_files["flac"].read_bytes())
    third = len(data) // 3
    data[third : third + 20000] = bytes((i * 37 + 11) % 256 for i in range(20000))
    path = tmp_path_factory.mktemp("corrupt") / "damaged.flac"
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def stored(server, audio_files):
    """One good recording already stored on the module's `server`; it must survive the test's
    refusals unchanged: same recordings, same files, no temp file."""
    import httpx

    from tests.support import snapshot

    with audio_files["short_mp3"].open("rb") as f:
        r = httpx.post(f"{server.url}/api/v1/recordings", files={"file": ("keep.mp3", f)})
    assert r.status_code == 202
    before = snapshot(server.url, server.data_dir)
    yield r.json()
    assert snapshot(server.url, server.data_dir) == before
    kept = httpx.get(f"{server.url}{r.headers['location']}/stream").content
    assert kept == audio_files["short_mp3"].read_bytes()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (which downloads no browser)."""
    if not os.path.exists(CHROMIUM):
        missing_in_ci("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.network = []  # type: ignore[attr-defined]
    page.on(
        "response",
        lambda r: page.network.append((r.status, r.url, r.request.headers.get("range"))),
    )
    # The app runs under its Content Security Policy: nothing it does may be refused by it,
    # in the page or in the edge check's Web Worker.
    refused: list[str] = []

    def watch(message) -> None:  # type: ignore[no-untyped-def]
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", watch)
    page.on("worker", lambda worker: worker.on("console", watch))
    yield page
    context.close()
    assert not refused, refused


def missing_in_ci(what: str) -> None:
    """A part `make test` provides is missing: a failure in CI, a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}; `make test` provides it")
    pytest.skip(f"{what}; `make test` provides it")
