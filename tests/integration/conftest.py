from __future__ import annotations

from collections.abc import Iterator

import pytest

from audiodas.adapters.database import SqlRecordingRepository, create_engine_for, migrate
from audiodas.config import Settings


@pytest.fixture
def repository(migrated_url: str) -> Iterator[SqlRecordingRepository]:
    """A migrated, empty database on each backend."""
    engine = create_engine_for(Settings(database_url=migrated_url).sqlalchemy_url)
    migrate(engine)  # already at the head: checked, nothing run
    yield SqlRecordingRepository(engine)
    engine.dispose()
