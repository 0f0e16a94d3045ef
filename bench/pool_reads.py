"""CPU per awaited read on PostgreSQL: the API's own pool (adapters/database/connections.py)
against psycopg_pool's AsyncConnectionPool, the same statement (a recording's version, what
every list and read asks first) on the same database, alternated in one run. Issue 44 asked
whether psycopg_pool could replace the hand-made pool without costing more per read.

    python bench/pool_reads.py [--reads 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import PostgresCluster  # noqa: E402

from audiodas.adapters.database import create_engine_for, migrate  # noqa: E402
from audiodas.adapters.database.connections import AsyncConnections, _compiled  # noqa: E402
from audiodas.adapters.database.repository import VERSION  # noqa: E402
from audiodas.config import Settings  # noqa: E402

SIZE = 8  # connections per HTTP process, as the API keeps them


async def ours(url: str, reads: int) -> float:
    connections = AsyncConnections(url, SIZE)
    await connections.fetch(VERSION, {"id": "x"})  # opened before the clock starts
    began = time.process_time()
    for _ in range(reads):
        await connections.fetch(VERSION, {"id": "x"})
    spent = time.process_time() - began
    await connections.close()
    return spent / reads


async def psycopg_pool(url: str, reads: int) -> float:
    from psycopg.rows import namedtuple_row
    from psycopg_pool import AsyncConnectionPool

    sql = _compiled(VERSION)
    async with AsyncConnectionPool(
        url, min_size=1, max_size=SIZE, kwargs={"autocommit": True, "row_factory": namedtuple_row},
        open=False,
    ) as pool:  # fmt: skip
        async with pool.connection() as connection:
            await connection.execute(sql, {"id": "x"})
        began = time.process_time()
        for _ in range(reads):
            async with pool.connection() as connection:
                await (await connection.execute(sql, {"id": "x"})).fetchall()
        return (time.process_time() - began) / reads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cluster = PostgresCluster().start()
    try:
        url = cluster.create_database("bench")
        engine = create_engine_for(Settings(database_url=url).sqlalchemy_url)
        migrate(engine)
        engine.dispose()
        results: dict[str, list[float]] = {"ours": [], "psycopg_pool": []}
        for _ in range(args.rounds):
            for name, run in (("ours", ours), ("psycopg_pool", psycopg_pool)):
                results[name].append(asyncio.run(run(url, args.reads)) * 1000)
        base = min(results["ours"])
        print(
            f"CPU per read of this process, ms ({args.reads} reads, {args.rounds} rounds, alternated)"
        )
        for name, values in results.items():
            shown = ", ".join(f"{v:.3f}" for v in values)
            print(f"  {name:13} {shown}   best {min(values):.3f}  ({min(values) / base:.2f}x ours)")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
