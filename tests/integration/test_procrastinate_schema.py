"""procrastinate's schema as our migrations install it is the one the installed procrastinate
expects. A procrastinate release that changes its schema fails this test until an Alembic
revision brings existing databases to it (docs/upgrading.md)."""

from __future__ import annotations

import uuid

import psycopg
from procrastinate.schema import SchemaManager

from audiodas.adapters.database import create_engine_for, migrate
from audiodas.config import Settings

# Every object procrastinate owns, described by PostgreSQL itself: columns, constraints,
# indexes, functions, triggers and enum labels, so that any difference in any of them shows.
CATALOG = {
    "columns": """
        SELECT table_name || '.' || column_name,
               concat_ws(' ', data_type, udt_name, is_nullable, column_default)
        FROM information_schema.columns WHERE table_name LIKE 'procrastinate%'""",
    "constraints": """
        SELECT conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE conrelid::regclass::text LIKE 'procrastinate%'""",
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'procrastinate%'""",
    "functions": """
        SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%'""",
    "triggers": """
        SELECT tgrelid::regclass || '.' || tgname, pg_get_triggerdef(oid)
        FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'procrastinate%'""",
    "enums": """
        SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
        WHERE t.typname LIKE 'procrastinate%' GROUP BY t.typname""",
}


def describe(url: str) -> dict[str, dict[str, str]]:
    with psycopg.connect(url) as conn:
        return {kind: dict(conn.execute(query).fetchall()) for kind, query in CATALOG.items()}


def test_our_migrations_install_the_schema_the_installed_procrastinate_expects(postgres) -> None:
    ours = postgres.create_database(f"ours_{uuid.uuid4().hex[:8]}")
    engine = create_engine_for(Settings(database_url=ours).sqlalchemy_url)
    migrate(engine)
    engine.dispose()
    theirs = postgres.create_database(f"theirs_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(theirs, autocommit=True) as conn:
        conn.execute(SchemaManager.get_schema())

    migrated, expected = describe(ours), describe(theirs)
    assert expected["columns"] and expected["functions"]  # the catalog queries see the schema
    for kind in CATALOG:
        missing = sorted(set(expected[kind]) - set(migrated[kind]))
        extra = sorted(set(migrated[kind]) - set(expected[kind]))
        changed = sorted(k for k in expected[kind].keys() & migrated[kind].keys()
                         if expected[kind][k] != migrated[kind][k])  # fmt: skip
        assert not (missing or extra or changed), (kind, missing, extra, changed)
