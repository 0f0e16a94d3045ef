"""list columns: the speakers a transcript labels, kept beside it; indexes for the list's orders

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TITLE_ORDER = "lower(coalesce(title, filename))"


def upgrade() -> None:
    # A plain ADD COLUMN (see 0008): SQLite's search index is keyed by the rows' rowids.
    op.add_column("recordings", sa.Column("speakers_heard", sa.JSON(), nullable=True))
    recordings = sa.table(
        "recordings",
        sa.column("id"),
        sa.column("segments", sa.JSON),
        sa.column("speakers_heard", sa.JSON),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(recordings.c.id, recordings.c.segments))
    for recording_id, segments in rows.all():
        # domain.speakers.speakers_of, as it read then (a migration keeps its own copy).
        heard = list(dict.fromkeys(s.get("speaker") for s in segments or [] if s.get("speaker")))
        bind.execute(
            recordings.update().where(recordings.c.id == recording_id).values(speakers_heard=heard)
        )
    op.create_index("ix_recordings_duration_s_id", "recordings", ["duration_s", "id"])
    op.create_index("ix_recordings_title_order", "recordings", [sa.text(_TITLE_ORDER), "id"])


def downgrade() -> None:
    op.drop_index("ix_recordings_title_order", "recordings")
    op.drop_index("ix_recordings_duration_s_id", "recordings")
    op.drop_column("recordings", "speakers_heard")
