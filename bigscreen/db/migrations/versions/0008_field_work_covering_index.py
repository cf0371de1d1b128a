"""field work: the (kind, at) index also holds worker and grid

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 16:40:00.000000

A report's field work groups a period's activities by worker, grid and day (bigscreen.reports.field_work):
with the worker and grid in the index the rows are read from it alone, not looked up one by one (a month
of a 6,000-grid city, ~1.4 M activities: 4.4 s -> 1.6 s on SQLite, measured on a loaded machine). It
replaces the (kind, at) index, whose queries it serves as well, so a write still updates one index.
"""

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('field_activities', schema=None) as batch_op:
        batch_op.create_index('ix_field_activities_kind_at_worker', ['kind', 'at', 'worker_id', 'grid_code'], unique=False)
        batch_op.drop_index('ix_field_activities_kind_at')


def downgrade() -> None:
    with op.batch_alter_table('field_activities', schema=None) as batch_op:
        batch_op.create_index('ix_field_activities_kind_at', ['kind', 'at'], unique=False)
        batch_op.drop_index('ix_field_activities_kind_at_worker')
