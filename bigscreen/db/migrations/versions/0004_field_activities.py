"""field activities

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:12:41.503117
"""

import sqlalchemy as sa
from alembic import op

import bigscreen.db.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('field_activities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('grid_code', sa.String(length=32), nullable=False),
    sa.Column('at', bigscreen.db.types.UTCDateTime(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('created_at', bigscreen.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['grid_code'], ['areas.code'], ),
    sa.ForeignKeyConstraint(['worker_id'], ['grid_workers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'source_id', name='uq_field_activities_source_id')
    )
    with op.batch_alter_table('field_activities', schema=None) as batch_op:
        batch_op.create_index('ix_field_activities_kind_at', ['kind', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_activities_worker_id'), ['worker_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('field_activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_field_activities_worker_id'))
        batch_op.drop_index('ix_field_activities_kind_at')

    op.drop_table('field_activities')
