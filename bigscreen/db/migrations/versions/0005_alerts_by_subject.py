"""alerts found by source and subject

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:00:00.000000

Raising an alert looks for an unresolved one of the same source and subject to count up; without
this index that read scanned every alert ever raised, so ingest slowed as alerts piled up.
"""

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_source_subject', ['source', 'subject'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_source_subject')
