"""Full-text search over recordings, in each dialect's own index (migration 0007).

One document per recording (filename, title, speakers' names, summary, transcript; migrations
0007 and 0013), ranked by relevance: SQLite's FTS5
(`recordings_fts`, rowid = the recording's rowid, written by `reindex` in the transaction that
changes what is indexed) or PostgreSQL's generated `search_tsv` column with a GIN index. Ranking
whole recordings keeps a word said in most of them cheap (10,000 documents, not 510,000
segments: profiled). Only the page returned gets a snippet, which is then placed in its
transcript segment, so a hit says when the words are spoken.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from sqlalchemy import JSON, Connection, bindparam, text

from audiodas.adapters.database.tables import UTCDateTime
from audiodas.domain import RecordingStatus, Segment
from audiodas.domain.search import Field, Match, Query, SearchHit

_MARK, _END = "\x02", "\x03"  # around matched words in a snippet
SNIPPET_WORDS = 16
# Where a match is shown from, best first, with each column's weight in the ranking.
_COLUMNS = (Field.TRANSCRIPT, Field.TITLE, Field.SPEAKERS, Field.SUMMARY, Field.FILENAME)
_WEIGHTS = {
    Field.FILENAME: 4.0, Field.TITLE: 4.0, Field.SPEAKERS: 4.0, Field.SUMMARY: 2.0,
    Field.TRANSCRIPT: 1.0,
}  # fmt: skip
# The FTS5 table's columns after recording_id, in order (for bm25's weights and snippet()).
_FTS_COLUMNS = (Field.FILENAME, Field.SUMMARY, Field.TRANSCRIPT, Field.TITLE, Field.SPEAKERS)


def reindex(connection: Connection, recording_id: str) -> None:
    """Index the recording as stored now (SQLite; PostgreSQL's column follows by itself)."""
    if connection.dialect.name == "sqlite":
        connection.execute(_SQLITE_UNINDEX, {"id": recording_id})
        connection.execute(_SQLITE_INDEX, {"id": recording_id})


def unindex(connection: Connection, recording_id: str) -> None:
    if connection.dialect.name == "sqlite":
        connection.execute(_SQLITE_UNINDEX, {"id": recording_id})


def repair(connection: Connection) -> int:
    """SQLite: remove the entries of recordings deleted without theirs (a full disk refused
    FTS5's write); and if any entry no longer names its row's recording (a VACUUM renumbers
    rowids), index every recording again. How many entries were removed or rewritten."""
    if connection.dialect.name != "sqlite":
        return 0
    removed = connection.execute(_SQLITE_STRAYS).rowcount
    if connection.execute(_SQLITE_MISMATCHED).scalar():
        connection.execute(text("DELETE FROM recordings_fts"))
        return removed + connection.execute(_SQLITE_INDEX_ALL).rowcount
    return removed


def search(
    connection: Connection,
    query: Query,
    *,
    limit: int,
    offset: int,
    status: RecordingStatus | None,
) -> list[SearchHit]:
    """Up to `limit` recordings that say every term of `query`, best first."""
    postgres = connection.dialect.name == "postgresql"
    # Every term quoted: a phrase in both dialects (terms are letters and digits only, so
    # nothing in them is syntax; websearch_to_tsquery would read a bare "or" as OR).
    params: dict = {
        "limit": limit,
        "offset": offset,
        "query": " ".join('"' + " ".join(term) + '"' for term in query.terms),
    }
    if status is not None:
        params["status"] = status.value
    ranked = connection.execute(_RANK[postgres, status is not None], params).all()
    if not ranked:
        return []
    found = {
        row.id: row
        for row in connection.execute(
            _SNIPPETS[postgres], {"query": params["query"], "keys": [r.key for r in ranked]}
        )
    }
    return [
        SearchHit(row.recording_id, row.updated_at, _match(row))
        for key in ranked
        if (row := found.get(key.key))  # None: deleted meanwhile
    ]


def _match(row) -> Match:  # type: ignore[no-untyped-def]
    """The best column's snippet; for the transcript, the segment it falls in."""
    snippets = {field: getattr(row, f"{field}_snippet") for field in _COLUMNS}
    field = next((f for f in _COLUMNS if _MARK in (snippets[f] or "")), None)
    if field is None:  # PostgreSQL's stemming found what its headline does not mark
        return Match(Field.FILENAME, row.filename)
    plain, highlights = _unmark(snippets[field])
    if field != Field.TRANSCRIPT:
        return Match(field, plain, highlights)
    segments = [Segment(**s) for s in row.segments or []]
    return _in_segment(plain, highlights, row.transcript or "", segments)


def _unmark(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    plain: list[str] = []
    highlights: list[tuple[int, int]] = []
    at = 0
    for i, part in enumerate(re.split(f"[{_MARK}{_END}]", snippet)):
        if i % 2:  # between a mark and its end
            highlights.append((at, at + len(part)))
        plain.append(part)
        at += len(part)
    return "".join(plain), highlights


def _in_segment(
    snippet: str, highlights: list[tuple[int, int]], transcript: str, segments: Sequence[Segment]
) -> Match:
    """The segment holding the snippet's first highlight, with the highlights inside it. The
    transcript is its segments' stripped texts joined by spaces (Transcript.from_parts)."""
    inner = snippet.strip("…")
    at = transcript.find(inner)
    kept = [s for s in segments if s.text.strip()]
    if at < 0 or not kept or not highlights:
        return Match(Field.TRANSCRIPT, snippet, highlights)
    first = at + highlights[0][0] - (len(snippet) - len(snippet.lstrip("…")))
    starts, offset = [], 0
    for segment in kept:
        starts.append(offset)
        offset += len(segment.text.strip()) + 1
    n = bisect.bisect_right(starts, first) - 1
    segment_text = kept[n].text.strip()
    shift = at - (len(snippet) - len(snippet.lstrip("…"))) - starts[n]
    inside = [
        (a + shift, b + shift)
        for a, b in highlights
        if 0 <= a + shift and b + shift <= len(segment_text)
    ]
    return Match(Field.TRANSCRIPT, segment_text, inside, kept[n].start)


_SQLITE_COLUMNS = """
    INSERT INTO recordings_fts (rowid, recording_id, filename, summary, transcript, title, speakers)
    SELECT rowid, id, filename, coalesce(summary, ''), coalesce(transcript, ''),
           coalesce(title, ''),
           coalesce((SELECT group_concat(value, ' ') FROM json_each(speaker_names)), '')
    FROM recordings
"""
_SQLITE_INDEX = text(_SQLITE_COLUMNS + " WHERE id = :id")
_SQLITE_INDEX_ALL = text(_SQLITE_COLUMNS)
_SQLITE_MISMATCHED = text("""
    SELECT EXISTS (SELECT 1 FROM recordings r LEFT JOIN recordings_fts f ON f.rowid = r.rowid
                   WHERE f.recording_id IS NULL OR f.recording_id != r.id)
""")
_SQLITE_UNINDEX = text("""
    DELETE FROM recordings_fts WHERE rowid = (SELECT rowid FROM recordings WHERE id = :id)
""")
_SQLITE_STRAYS = text("""
    DELETE FROM recordings_fts WHERE rowid NOT IN (SELECT rowid FROM recordings)
""")


def _rank(postgres: bool, by_status: bool):  # type: ignore[no-untyped-def]
    if postgres:
        where = "AND status = :status" if by_status else ""
        sql = f"""
            SELECT id AS key FROM recordings, websearch_to_tsquery('english', :query) AS q
            WHERE search_tsv @@ q {where}
            ORDER BY ts_rank(search_tsv, q) DESC, id
            LIMIT :limit OFFSET :offset"""
    else:
        weights = ", ".join(["0", *(str(_WEIGHTS[f]) for f in _FTS_COLUMNS)])
        # Without a status, the index alone ranks (a join per match doubled the time of a
        # word said in every recording: profiled); rowids left by a deletion drop out later.
        source = (
            "recordings_fts JOIN recordings r ON r.rowid = recordings_fts.rowid"
            if by_status
            else "recordings_fts"
        )
        where = "AND r.status = :status" if by_status else ""
        sql = f"""
            SELECT recordings_fts.rowid AS key FROM {source}
            WHERE recordings_fts MATCH :query {where}
            ORDER BY bm25(recordings_fts, {weights}), recordings_fts.rowid
            LIMIT :limit OFFSET :offset"""
    return text(sql)


_RANK = {(pg, st): _rank(pg, st) for pg in (False, True) for st in (False, True)}

_SNIPPET = f"'{_MARK}', '{_END}', '…', {SNIPPET_WORDS}"
_HEADLINE = f"'StartSel={_MARK}, StopSel={_END}, MaxWords={SNIPPET_WORDS}, MinWords=6'"
_FTS_SNIPPETS = ",\n".join(
    f"snippet(recordings_fts, {i}, {_SNIPPET}) AS {field}_snippet"
    for i, field in enumerate(_FTS_COLUMNS, start=1)
)
_SNIPPETS = {
    False: text(f"""
        SELECT r.rowid AS id, r.id AS recording_id, r.updated_at, r.filename, r.transcript,
               r.segments,
               {_FTS_SNIPPETS}
        FROM recordings_fts JOIN recordings r
             ON r.rowid = recordings_fts.rowid AND r.id = recordings_fts.recording_id
        WHERE recordings_fts MATCH :query AND recordings_fts.rowid IN :keys
    """)
    .bindparams(bindparam("keys", expanding=True))
    .columns(updated_at=UTCDateTime(), segments=JSON()),
    True: text(f"""
        SELECT id, id AS recording_id, updated_at, filename, transcript, segments,
               ts_headline('english', coalesce(transcript, ''), q, {_HEADLINE})
                   AS transcript_snippet,
               ts_headline('english', coalesce(summary, ''), q, {_HEADLINE}) AS summary_snippet,
               ts_headline('english', filename, q, {_HEADLINE}) AS filename_snippet,
               ts_headline('english', coalesce(title, ''), q, {_HEADLINE}) AS title_snippet,
               ts_headline('english', CASE WHEN json_typeof(speaker_names) = 'object' THEN
                   (SELECT string_agg(value, ', ') FROM json_each_text(speaker_names))
                   ELSE '' END, q, {_HEADLINE}) AS speakers_snippet
        FROM recordings, websearch_to_tsquery('english', :query) AS q
        WHERE id IN :keys
    """)
    .bindparams(bindparam("keys", expanding=True))
    .columns(updated_at=UTCDateTime(), segments=JSON()),
}
