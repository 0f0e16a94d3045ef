"""procrastinate's tables and functions, on PostgreSQL: the work queue of many workers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from pathlib import Path

from alembic import op

# The schema of the procrastinate release this revision was written for, frozen: installing
# whatever release is present would give a new database a schema no later revision expects.
SCHEMA = Path(__file__).parent.parent / "sql" / "procrastinate-3.10.0.sql"

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps the single-machine queue (the recording row is the job)
    # Through the driver without parameters: the schema's text holds '%' signs.
    op.get_bind().connection.driver_connection.execute(SCHEMA.read_text())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_jobs, procrastinate_workers CASCADE"
        )
