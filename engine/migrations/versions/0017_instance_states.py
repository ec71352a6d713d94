"""process instances: the workflow state moves to a table of its own, zlib-compressed

Listings read `process_instances` rows; with the state inside (9-60 KB of JSON) a finished
request's row spilled over two 4 KB pages on SQLite, and searches grew with the whole history.
The state now lives in `instance_states` (one row per instance, compressed about 6x); the
request's row keeps its bookkeeping alone. On SQLite the file keeps its size until `VACUUM`.

Revision ID: 0017_instance_states
Revises: 0016_open_task_counts
Create Date: 2026-12-07 12:40:00
"""

import zlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0017_instance_states"
down_revision = "0016_open_task_counts"
branch_labels = None
depends_on = None

#: the level engine/models/states.py writes with (any level reads back the same)
LEVEL = 1
BATCH = 500

INSTANCES = sa.table("process_instances", sa.column("id", sa.Integer), sa.column("state", sa.Text))
STATES = sa.table("instance_states", sa.column("instance_id", sa.Integer), sa.column("state", sa.LargeBinary))


def _batches(connection: Any, key: Any, value: Any) -> Iterator[list[Any]]:
    """(key, value) rows in batches by key: a large history never sits in memory at once."""
    last = 0
    while rows := connection.execute(sa.select(key, value).where(key > last).order_by(key).limit(BATCH)).all():
        yield rows
        last = rows[-1][0]


def upgrade() -> None:
    op.create_table(
        "instance_states",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    connection = op.get_bind()
    for rows in _batches(connection, INSTANCES.c.id, INSTANCES.c.state):
        states = [{"instance_id": i, "state": zlib.compress(state.encode(), LEVEL)} for i, state in rows]
        connection.execute(STATES.insert(), states)
    # SQLite (3.35+) drops the column in place: no table copy, which its foreign keys would refuse
    op.drop_column("process_instances", "state")


def downgrade() -> None:
    op.add_column("process_instances", sa.Column("state", sa.Text(), server_default="{}", nullable=False))
    connection = op.get_bind()
    for rows in _batches(connection, STATES.c.instance_id, STATES.c.state):
        for instance_id, state in rows:
            text = zlib.decompress(state).decode()
            connection.execute(INSTANCES.update().where(INSTANCES.c.id == instance_id).values(state=text))
    if connection.dialect.name == "postgresql":
        op.alter_column("process_instances", "state", server_default=None)
    op.drop_table("instance_states")
