"""task indexes in listing order: (created_at, id), over open tasks and over all of them

The API's task listing pages by (created_at, id). No index had that order, so every page read
all the tasks its scope matched, joined each to its request and sorted them: it grew with the
queue. With these, a page walks the index in its order and stops after its rows: open tasks
(actionable, mine, queue, and the daily digest) from the partial index, the `visible` scope
(any status) from the full one. The partial index also holds the columns the inbox's conditions
read (holder, claimant, role, approval, requester), so a page that matches few open tasks checks
them from the index alone and reads only the rows it lists.

Revision ID: 0015_task_listing_order
Revises: 0014_summary_fr
Create Date: 2026-12-07 09:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0015_task_listing_order'
down_revision = '0014_summary_fr'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'ready'")


def upgrade() -> None:
    op.create_index(
        'ix_tasks_open_created', 'tasks',
        ['created_at', 'id', 'assignee_id', 'claimed_by_id', 'role', 'approval', 'requester_id'],
        postgresql_where=OPEN, sqlite_where=OPEN,
    )
    op.create_index('ix_tasks_created', 'tasks', ['created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_tasks_created', table_name='tasks')
    op.drop_index('ix_tasks_open_created', table_name='tasks')
