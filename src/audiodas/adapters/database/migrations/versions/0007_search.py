"""search: a full-text index of recordings (filename, summary, transcript) in each dialect

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Filenames are split into words first ("q3_report.wav": q3, report, wav), as FTS5 does.
_DOCUMENT = """
    setweight(to_tsvector('english',
        regexp_replace(filename, '[^[:alnum:]]+', ' ', 'g')), 'A')
    || setweight(to_tsvector('english', coalesce(summary, '')), 'B')
    || setweight(to_tsvector('english', coalesce(transcript, '')), 'C')
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE recordings ADD COLUMN search_tsv tsvector"
            f" GENERATED ALWAYS AS ({_DOCUMENT}) STORED"
        )
        op.execute("CREATE INDEX ix_recordings_search ON recordings USING GIN (search_tsv)")
        return
    # Its own copy of the text (not external content): removing an entry needs no old
    # values, so one left by a delete on a full disk can be removed later. recording_id lets
    # entries be checked against the rowids they are keyed by (search.repair).
    op.execute(
        "CREATE VIRTUAL TABLE recordings_fts USING fts5(recording_id UNINDEXED, filename,"
        " summary, transcript, tokenize='porter unicode61')"
    )
    op.execute(
        "INSERT INTO recordings_fts (rowid, recording_id, filename, summary, transcript)"
        " SELECT rowid, id, filename, coalesce(summary, ''), coalesce(transcript, '')"
        " FROM recordings"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE recordings DROP COLUMN search_tsv")
    else:
        op.execute("DROP TABLE recordings_fts")
