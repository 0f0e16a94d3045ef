"""titles: a title per recording; search finds titles and the names given to speakers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# As 0007's, with the title and the speakers' names (the values of the label -> name JSON;
# no names is SQL NULL or JSON null) weighted as the filename is.
_DOCUMENT = """
    setweight(to_tsvector('english',
        regexp_replace(filename, '[^[:alnum:]]+', ' ', 'g')), 'A')
    || setweight(to_tsvector('english', coalesce(title, '')), 'A')
    || setweight(to_tsvector('english', CASE WHEN json_typeof(speaker_names) = 'object'
        THEN regexp_replace(speaker_names::text, '"S[0-9]+"\\s*:', ' ', 'g') ELSE '' END), 'A')
    || setweight(to_tsvector('english', coalesce(summary, '')), 'B')
    || setweight(to_tsvector('english', coalesce(transcript, '')), 'C')
"""
_OLD_DOCUMENT = """
    setweight(to_tsvector('english',
        regexp_replace(filename, '[^[:alnum:]]+', ' ', 'g')), 'A')
    || setweight(to_tsvector('english', coalesce(summary, '')), 'B')
    || setweight(to_tsvector('english', coalesce(transcript, '')), 'C')
"""
_SQLITE_SPEAKERS = "coalesce((SELECT group_concat(value, ' ') FROM json_each(speaker_names)), '')"


def upgrade() -> None:
    op.add_column("recordings", sa.Column("title", sa.String(200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _postgres_document(_DOCUMENT)
        return
    # FTS5 tables take no new columns: the index is made again with two more.
    op.execute("DROP TABLE recordings_fts")
    op.execute(
        "CREATE VIRTUAL TABLE recordings_fts USING fts5(recording_id UNINDEXED, filename,"
        " summary, transcript, title, speakers, tokenize='porter unicode61')"
    )
    op.execute(
        "INSERT INTO recordings_fts"
        " (rowid, recording_id, filename, summary, transcript, title, speakers)"
        " SELECT rowid, id, filename, coalesce(summary, ''), coalesce(transcript, ''),"
        f" coalesce(title, ''), {_SQLITE_SPEAKERS} FROM recordings"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_document(_OLD_DOCUMENT)
    else:
        op.execute("DROP TABLE recordings_fts")
        op.execute(
            "CREATE VIRTUAL TABLE recordings_fts USING fts5(recording_id UNINDEXED, filename,"
            " summary, transcript, tokenize='porter unicode61')"
        )
        op.execute(
            "INSERT INTO recordings_fts (rowid, recording_id, filename, summary, transcript)"
            " SELECT rowid, id, filename, coalesce(summary, ''), coalesce(transcript, '')"
            " FROM recordings"
        )
    op.drop_column("recordings", "title")


def _postgres_document(document: str) -> None:
    op.execute("DROP INDEX ix_recordings_search")
    op.execute("ALTER TABLE recordings DROP COLUMN search_tsv")
    op.execute(
        f"ALTER TABLE recordings ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ({document})"
        " STORED"
    )
    op.execute("CREATE INDEX ix_recordings_search ON recordings USING GIN (search_tsv)")
