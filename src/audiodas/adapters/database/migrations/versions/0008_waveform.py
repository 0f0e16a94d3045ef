"""waveform: each recording's peaks, made by transcription

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, never a batch copy of the table: SQLite's search index is keyed by
    # the recordings' rowids, which a copy would renumber.
    op.add_column("recordings", sa.Column("waveform", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("recordings", "waveform")
