"""process instances: the summary line in French too (readers see the line in their language)

Revision ID: 0014_summary_fr
Revises: 0013_task_approval_subject
Create Date: 2026-12-07 09:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014_summary_fr'
down_revision = '0013_task_approval_subject'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows saved before keep an empty French line, and readers see the English one until the next action.
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('summary_fr', sa.String(length=500), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_column('summary_fr')
