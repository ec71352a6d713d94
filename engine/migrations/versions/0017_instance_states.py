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


def upgrade() -> None:
    op.create_table(
        "instance_states",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    connection, last = op.get_bind(), 0
    while True:  # in batches by id: a large history never sits in memory at once
        rows = connection.execute(
            sa.select(INSTANCES.c.id, INSTANCES.c.state)
            .where(INSTANCES.c.id > last)
            .order_by(INSTANCES.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        states = [{"instance_id": i, "state": zlib.compress(state.encode(), LEVEL)} for i, state in rows]
        connection.execute(STATES.insert(), states)
        last = rows[-1][0]
    # SQLite (3.35+) drops the column in place: no table copy, which its foreign keys would refuse
    op.drop_column("process_instances", "state")


def downgrade() -> None:
    op.add_column("process_instances", sa.Column("state", sa.Text(), server_default="{}", nullable=False))
    connection, last = op.get_bind(), 0
    while True:
        rows = connection.execute(
            sa.select(STATES.c.instance_id, STATES.c.state)
            .where(STATES.c.instance_id > last)
            .order_by(STATES.c.instance_id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for instance_id, state in rows:
            text = zlib.decompress(state).decode()
            connection.execute(INSTANCES.update().where(INSTANCES.c.id == instance_id).values(state=text))
        last = rows[-1][0]
    if connection.dialect.name == "postgresql":
        op.alter_column("process_instances", "state", server_default=None)
    op.drop_table("instance_states")
