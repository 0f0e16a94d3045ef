"""search: passages of recordings under each dialect's full-text index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entries")),
    )
    op.create_index(op.f("ix_search_entries_recording_id"), "search_entries", ["recording_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE search_entries ADD COLUMN tsv tsvector"
            " GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        op.execute("CREATE INDEX ix_search_entries_tsv ON search_entries USING GIN (tsv)")
    else:
        # An external-content FTS5 table: the text is stored once, in search_entries.
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_entries',"
            " content_rowid='id', tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN"
            " INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN"
            " INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);"
            " END"
        )
        op.execute(
            "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN"
            " INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text);"
            " INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END"
        )
    _index_existing()


def _index_existing() -> None:
    from audiodas.adapters.database.search import entries

    bind = op.get_bind()
    table = sa.table(
        "search_entries",
        sa.column("recording_id"),
        sa.column("field"),
        sa.column("start_s"),
        sa.column("text"),
    )
    rows = bind.execute(sa.text("SELECT id, filename, summary, segments FROM recordings"))
    for recording_id, filename, summary, segments in rows:
        if isinstance(segments, str):
            segments = json.loads(segments)
        found = entries(recording_id, filename=filename, summary=summary,
                        segments=[(s["start"], s["text"]) for s in segments or []])  # fmt: skip
        if found:
            bind.execute(table.insert(), found)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_entries")
