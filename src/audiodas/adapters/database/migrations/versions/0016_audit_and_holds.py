"""audit trail (a hash chain and its head), legal holds, the original's own retention

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_recording_id_seq", "audit_log", ["recording_id", "seq"])
    op.create_index("ix_audit_log_action_seq", "audit_log", ["action", "seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64}])  # domain.audit.GENESIS
    # A plain ADD COLUMN (see 0008): SQLite's search index is keyed by the rows' rowids.
    op.add_column("recordings", sa.Column("hold_reason", sa.String(length=500), nullable=True))
    op.add_column("recordings", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("recordings", sa.Column("held_by", sa.String(length=200), nullable=True))
    op.add_column(
        "recordings", sa.Column("original_removed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("recordings", "original_removed_at")
    op.drop_column("recordings", "held_by")
    op.drop_column("recordings", "held_at")
    op.drop_column("recordings", "hold_reason")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_log_action_seq", "audit_log")
    op.drop_index("ix_audit_log_recording_id_seq", "audit_log")
    op.drop_table("audit_log")
