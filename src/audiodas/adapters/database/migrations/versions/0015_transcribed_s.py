"""transcribed_s: how much of its audio a transcription under way has stored

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (see 0008): SQLite's search index is keyed by the rows' rowids.
    op.add_column("recordings", sa.Column("transcribed_s", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("recordings", "transcribed_s")
