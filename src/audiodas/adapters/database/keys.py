"""ApiKeyRepository on SQLAlchemy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, exists, select, update
from sqlalchemy.exc import IntegrityError

from audiodas.adapters.database.connect import reads
from audiodas.adapters.database.tables import ApiKeyRow
from audiodas.adapters.failures import at_the_edge
from audiodas.domain import ApiKey, Rejected, Scope, quoted


@at_the_edge
class SqlApiKeyRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = reads(engine)

    def add(self, key: ApiKey, key_hash: str) -> None:
        row = {
            "id": key.id,
            "name": key.name,
            "scope": key.scope.value,
            "key_hash": key_hash,
            "created_at": key.created_at,
            "expires_at": key.expires_at,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(ApiKeyRow.__table__.insert(), row)
        except IntegrityError as exc:
            raise Rejected(
                Rejected.INVALID_FIELD, f"a key named {quoted(key.name)} exists already"
            ) from exc

    def find(self, key_id: str) -> tuple[ApiKey, str] | None:
        with self._reads.connect() as connection:
            row = connection.execute(select(ApiKeyRow).where(ApiKeyRow.id == key_id)).first()
        return (_key(row), row.key_hash) if row else None

    def all(self) -> list[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        with self._reads.connect() as connection:
            return [_key(row) for row in connection.execute(query)]

    def revoke(self, name: str, now: datetime) -> bool:
        query = (
            update(ApiKeyRow)
            .where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        with self.engine.begin() as connection:
            return connection.execute(query).rowcount == 1

    def touch(self, key_id: str, now: datetime) -> None:
        query = update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=now)
        with self.engine.begin() as connection:
            connection.execute(query)

    def any(self) -> bool:
        with self._reads.connect() as connection:
            return bool(connection.execute(select(exists().select_from(ApiKeyRow))).scalar())


def _key(row) -> ApiKey:  # type: ignore[no-untyped-def]
    return ApiKey(
        row.id,
        row.name,
        Scope(row.scope),
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
    )
