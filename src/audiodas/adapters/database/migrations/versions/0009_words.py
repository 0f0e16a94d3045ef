"""words: each transcript's word times, for a reader to click a word

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (see 0008): SQLite's search index is keyed by the rows' rowids.
    op.add_column("recordings", sa.Column("words", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("recordings", "words")
