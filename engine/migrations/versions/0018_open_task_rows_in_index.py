"""the open-task indexes also hold each task's id, request and creation time, so a search reads them alone

A search in an inbox tab walks the tab's open tasks in the page's order and keeps those whose
request's summary matches: when few match, every task of the tab. The partial indexes held the
columns the tab's conditions read but not the task's id, request or creation time (the page's
order after the due date), so each task visited was also looked up in the table (a supervisor's
queue of ~1,100 tasks at 100,000 requests: ~1,100 lookups, about half the search's time).

Revision ID: 0018_open_task_rows_in_index
Revises: 0017_instance_states
Create Date: 2026-12-07 16:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_open_task_rows_in_index"
down_revision = "0017_instance_states"
branch_labels = None
depends_on = None

SEPARATION = ["approval", "role", "requester_id"]
#: index name -> (where, its columns as migration 0016 left them)
INDEXES = {
    "ix_tasks_open_assignee": (
        sa.text("status = 'ready' AND assignee_id IS NOT NULL"),
        ["assignee_id", "due_at", *SEPARATION, "status"],
    ),
    "ix_tasks_open_claimed": (
        sa.text("status = 'ready' AND claimed_by_id IS NOT NULL"),
        ["claimed_by_id", "due_at", "assignee_id", *SEPARATION, "status"],
    ),
    "ix_tasks_open_queue": (
        sa.text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"),
        ["role", "due_at", "requester_id", "approval", "assignee_id", "claimed_by_id", "status"],
    ),
}
ROW = ["created_at", "instance_id", "id"]


def _recreate(extra: list[str]) -> None:
    for name, (where, columns) in INDEXES.items():
        op.drop_index(name, table_name="tasks")
        op.create_index(name, "tasks", [*columns, *extra], postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _recreate(ROW)


def downgrade() -> None:
    _recreate([])
