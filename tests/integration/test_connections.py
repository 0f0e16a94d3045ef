"""PostgreSQL connections as the API uses them: a read is one round trip (no transaction left
to roll back), and a connection the server cut while it sat in the pool is replaced unseen."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, text

from audiodas.adapters.database import connect, create_engine_for
from audiodas.adapters.database.connect import reads
from audiodas.config import Settings


@pytest.fixture
def engine(postgres) -> Iterator[Engine]:
    url = postgres.create_database(f"c_{uuid.uuid4().hex[:12]}")
    created = create_engine_for(Settings(database_url=url).sqlalchemy_url)
    yield created
    created.dispose()


def backend_pid(engine: Engine) -> int:
    with reads(engine).connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_read_opens_no_transaction(engine) -> None:
    with reads(engine).connect() as connection:
        connection.execute(text("SELECT 1"))
        # Nothing to BEGIN before nor to ROLLBACK after: one round trip per query.
        assert connection.connection.driver_connection.info.transaction_status == (
            TransactionStatus.IDLE
        )
    with engine.begin() as connection:  # writes keep their transactions
        connection.execute(text("SELECT 1"))
        assert connection.connection.driver_connection.info.transaction_status == (
            TransactionStatus.INTRANS
        )


def test_a_connection_cut_while_idle_is_replaced_unseen(engine, postgres, monkeypatch) -> None:
    pid = backend_pid(engine)
    assert backend_pid(engine) == pid  # in steady use: the same connection, not pinged
    # The server ends it while it sits in the pool (a restart, a proxy's idle timeout).
    postgres.terminate(pid)
    monkeypatch.setattr(connect, "PING_AFTER_S", 0.0)  # it has sat long enough
    assert backend_pid(engine) != pid  # a new connection, no error
