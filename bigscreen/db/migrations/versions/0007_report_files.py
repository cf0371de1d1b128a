"""report files

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 08:00:00.000000

Reports produced on a schedule (weekly, monthly, quarterly) or by hand are kept for download, one
per period, area and format.
"""

import sqlalchemy as sa
from alembic import op

import bigscreen.db.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'report_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('area_code', sa.String(length=32), nullable=False),
        sa.Column('format', sa.String(length=8), nullable=False),
        sa.Column('produced_at', bigscreen.db.types.UTCDateTime(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('period', 'area_code', 'format', name='uq_report_files_period_area_format'),
    )
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_files_area_code'), ['area_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_files_area_code'))
    op.drop_table('report_files')
