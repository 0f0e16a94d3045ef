"""speakers: how many voices an upload said it has, and the names given to its speaker labels

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (see 0008): SQLite's search index is keyed by the rows' rowids.
    op.add_column("recordings", sa.Column("speakers", sa.Integer(), nullable=True))
    op.add_column("recordings", sa.Column("speaker_names", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("recordings", "speaker_names")
    op.drop_column("recordings", "speakers")
