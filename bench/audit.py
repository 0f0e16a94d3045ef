"""What the audit trail's one chain costs a write, on SQLite and on PostgreSQL.

Each audited change (an upload, a delete, a hold) appends its entry in its own transaction,
after taking the chain's head row: every writer of every machine waits for the one before it
to commit. This measures appends a second from 1 and from 4 writer processes at once, beside
the same rows inserted without the chain (a table of the same shape, no head row: nothing
serialises them) in the same run, and the writers' CPU per append (getrusage, from the kernel).

    python bench/audit.py [--appends 400] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import PostgresCluster  # noqa: E402

from audiodas.adapters.database import create_engine_for  # noqa: E402
from audiodas.adapters.database.connect import migrate  # noqa: E402

WRITER = """
import json, resource, sys
from datetime import UTC, datetime
from sqlalchemy import text
from audiodas.adapters.database import create_engine_for
from audiodas.adapters.database.audit import SqlAuditLog
from audiodas.domain.audit import Action, AuditEntry, canonical
url, mode, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
engine = create_engine_for(url)
log = SqlAuditLog(engine)
detail = {"filename": "board-meeting.mp3", "size_bytes": 48_213_114, "sha256": "ab" * 32}
plain = text("INSERT INTO bench_plain (at, actor, action, recording_id, detail) "
             "VALUES (:at, :actor, :action, :rid, :detail)")
sys.stdin.readline()  # all start together
for n in range(count):
    if mode == "chain":
        log.append(AuditEntry(datetime.now(UTC), name, Action.UPLOAD, "r" * 32, detail))
    else:
        with engine.begin() as c:
            c.execute(plain, {"at": datetime.now(UTC), "actor": name, "action": "upload",
                              "rid": "r" * 32, "detail": canonical(detail)})
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime}))
"""

PLAIN_TABLE = """CREATE TABLE bench_plain (
    id {serial} PRIMARY KEY, at TIMESTAMP, actor VARCHAR(200), action VARCHAR(40),
    recording_id VARCHAR(32), detail TEXT)"""


def run(url: str, mode: str, writers: int, appends: int) -> tuple[float, float]:
    """Appends a second, and the writers' CPU ms per append."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, mode, f"w{i}", str(appends)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )  # fmt: skip
        for i in range(writers)
    ]
    time.sleep(2.0)  # imports done
    start = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    wall = time.perf_counter() - start
    assert all(proc.returncode == 0 for proc in procs)
    cpu = sum(json.loads(out)["cpu_s"] for out in outputs)
    total = writers * appends
    return total / wall, 1000 * cpu / total


def database(kind: str, folder: Path, cluster: PostgresCluster | None) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'bench-{time.monotonic_ns()}.db'}"
    else:
        assert cluster is not None
        url = cluster.create_database(f"bench_{time.monotonic_ns()}")
    engine = create_engine_for(url)
    migrate(engine)
    serial = "INTEGER" if kind == "sqlite" else "SERIAL"
    with engine.begin() as c:
        c.exec_driver_sql(PLAIN_TABLE.format(serial=serial))
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=400, help="per writer")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    cluster = None
    folder = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        if "postgresql" in args.databases:
            cluster = PostgresCluster().start()
        print("| database | writers | plain inserts/s | chained appends/s | ratio | "
              "CPU ms per append, plain | chained |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for kind in args.databases.split(","):
            for writers in (1, 4):
                # Each on a fresh database, plain and chained in turn, so both meet alike.
                plain_rate, plain_cpu = run(
                    database(kind, folder, cluster), "plain", writers, args.appends
                )
                chain_rate, chain_cpu = run(
                    database(kind, folder, cluster), "chain", writers, args.appends
                )
                print(f"| {kind} | {writers} | {plain_rate:.0f} | {chain_rate:.0f} | "
                      f"{chain_rate / plain_rate:.2f} | {plain_cpu:.2f} | {chain_cpu:.2f} |",
                      flush=True)  # fmt: skip
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
