"""task index: which steps are approvals (separation of duties), and a multi-instance task's subject

Revision ID: 0013_task_approval_subject
Revises: 0012_subject_access_searches
Create Date: 2026-12-07 07:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013_task_approval_subject'
down_revision = '0012_subject_access_searches'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('subject', sa.String(length=80), nullable=True))
    # Open tasks keep the rule they were created under: every step outside the requester's lane.
    op.execute(sa.text("UPDATE tasks SET approval = false WHERE role = 'requester'"))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('subject')
        batch_op.drop_column('approval')
