"""the open-task indexes hold the columns separation of duties reads, so tab counts read them alone

Every inbox tab counts the open tasks a person holds, has claimed or may take from a queue, each
leaving out approvals of the person's own requests (approval, role, requester). The holder's,
claimant's and queue's partial indexes lacked some of those columns, so each count looked up
every matching task's row (a supervisor's ~1,000 held tasks: ~1,000 lookups per page).

Revision ID: 0016_open_task_counts
Revises: 0015_task_listing_order
Create Date: 2026-12-07 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_open_task_counts"
down_revision = "0015_task_listing_order"
branch_labels = None
depends_on = None

HELD = sa.text("status = 'ready' AND assignee_id IS NOT NULL")
CLAIMED = sa.text("status = 'ready' AND claimed_by_id IS NOT NULL")
QUEUE = sa.text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL")
OPEN = sa.text("status = 'ready'")
SEPARATION = ["approval", "role", "requester_id"]
#: index name -> (where, columns before, columns after); `status` last: SQLite (3.40) reads a partial
#: index alone only when it holds every column the query names, its WHERE's included
INDEXES = {
    "ix_tasks_open_assignee": (HELD, ["assignee_id", "due_at"], ["assignee_id", "due_at", *SEPARATION, "status"]),
    "ix_tasks_open_claimed": (
        CLAIMED,
        ["claimed_by_id", "due_at", "assignee_id"],
        ["claimed_by_id", "due_at", "assignee_id", *SEPARATION, "status"],
    ),
    "ix_tasks_open_queue": (
        QUEUE,
        ["role", "due_at", "requester_id"],
        ["role", "due_at", "requester_id", "approval", "assignee_id", "claimed_by_id", "status"],
    ),
    "ix_tasks_open_created": (
        OPEN,
        ["created_at", "id", "assignee_id", "claimed_by_id", "role", "approval", "requester_id"],
        ["created_at", "id", "assignee_id", "claimed_by_id", "role", "approval", "requester_id", "status"],
    ),
}


def _recreate(columns_at: int) -> None:
    for name, (where, *columns) in INDEXES.items():
        op.drop_index(name, table_name="tasks")
        op.create_index(name, "tasks", columns[columns_at], postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _recreate(1)


def downgrade() -> None:
    _recreate(0)
