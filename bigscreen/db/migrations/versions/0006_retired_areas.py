"""retired areas

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 03:30:00.000000

A re-imported map (`bigscreen city import` over a map with cases on it) retires the codes it no
longer holds instead of deleting them: closed cases keep their historical grid.
"""

import sqlalchemy as sa
from alembic import op

import bigscreen.db.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', bigscreen.db.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
