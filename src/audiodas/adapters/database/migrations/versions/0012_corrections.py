"""corrections: the machine's transcript, kept beside the one a reader corrected

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (see 0008): SQLite's search index is keyed by the rows' rowids.
    op.add_column("recordings", sa.Column("machine_transcript", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("recordings", "machine_transcript")
