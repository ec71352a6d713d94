"""task indexes: open and completed tasks only, so queue queries use the partial indexes

The full (status, role) and (status, due_at) indexes competed with the partial indexes of the
inbox queues: SQLite chose them and read every open task of a role (or all of them) to count
one person's. Completed tasks by completion time (for reports) replace them; open tasks are
read from the inbox's partial indexes (no index leads with due_at: planners walked it hoping to
meet a small queue's tasks early, and read every open task when the queue was empty).
The assignee and claimant indexes cover only tasks that have one (so the queue, where both are
NULL, is read from its own index), and running requests are counted per starter from an index.

Revision ID: 0006_task_indexes
Revises: 0005_office
Create Date: 2026-11-25 08:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006_task_indexes'
down_revision = '0005_office'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'ready'")
COMPLETED = sa.text("status = 'completed'")
ASSIGNED = sa.text("status = 'ready' AND assignee_id IS NOT NULL")
CLAIMED = sa.text("status = 'ready' AND claimed_by_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_status_role')
        batch_op.drop_index('ix_tasks_status_due')
        batch_op.create_index(
            'ix_tasks_completed', ['completed_at'], unique=False, postgresql_where=COMPLETED, sqlite_where=COMPLETED
        )
        batch_op.drop_index('ix_tasks_open_assignee')
        batch_op.drop_index('ix_tasks_open_claimed')
        batch_op.create_index(
            'ix_tasks_open_assignee', ['assignee_id', 'due_at'], unique=False,
            postgresql_where=ASSIGNED, sqlite_where=ASSIGNED,
        )
        batch_op.create_index(
            'ix_tasks_open_claimed', ['claimed_by_id', 'due_at', 'assignee_id'], unique=False,
            postgresql_where=CLAIMED, sqlite_where=CLAIMED,
        )
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instances_started_by_id')
        batch_op.create_index('ix_process_instances_starter_status', ['started_by_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instances_starter_status')
        batch_op.create_index('ix_process_instances_started_by_id', ['started_by_id'], unique=False)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_claimed')
        batch_op.drop_index('ix_tasks_open_assignee')
        batch_op.create_index('ix_tasks_open_claimed', ['claimed_by_id', 'due_at', 'assignee_id'], unique=False,
                              postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index('ix_tasks_open_assignee', ['assignee_id', 'due_at'], unique=False,
                              postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.drop_index('ix_tasks_completed', postgresql_where=COMPLETED, sqlite_where=COMPLETED)
        batch_op.create_index('ix_tasks_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_tasks_status_role', ['status', 'role'], unique=False)
