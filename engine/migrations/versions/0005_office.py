"""merge heads; queue indexes, facets, delegations, sensitive access

Revision ID: 0005_office
Revises: 0002, 0003_api, 0004_designer
Create Date: 2026-11-25 06:00:54.190905
"""

from alembic import op
import sqlalchemy as sa


revision = '0005_office'
down_revision = ('0002', '0003_api', '0004_designer')
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delegations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['delegate_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegations_delegate_id'), ['delegate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delegations_user_id'), ['user_id'], unique=False)

    op.create_table('sensitive_access',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sensitive_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sensitive_access_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sensitive_access_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sensitive_access_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waits', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('country', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('unit', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('starts_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('ends_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_process_instances_country'), ['country'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_starts_on'), ['starts_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_unit'), ['unit'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requester_id', sa.Integer(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_tasks_status_assignee'))
        batch_op.drop_index(batch_op.f('ix_tasks_status_claimed'))
        batch_op.create_index('ix_tasks_open_assignee', ['assignee_id', 'due_at'], unique=False, postgresql_where=sa.text("status = 'ready'"), sqlite_where=sa.text("status = 'ready'"))
        batch_op.create_index('ix_tasks_open_claimed', ['claimed_by_id', 'due_at', 'assignee_id'], unique=False, postgresql_where=sa.text("status = 'ready'"), sqlite_where=sa.text("status = 'ready'"))
        batch_op.create_index('ix_tasks_open_queue', ['role', 'due_at', 'requester_id'], unique=False, postgresql_where=sa.text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"), sqlite_where=sa.text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"))
        batch_op.create_index('ix_tasks_requester_open', ['requester_id'], unique=False, postgresql_where=sa.text("status = 'ready'"), sqlite_where=sa.text("status = 'ready'"))
        batch_op.create_foreign_key('fk_tasks_requester_id_users', 'users', ['requester_id'], ['id'])

    op.execute(
        "UPDATE tasks SET requester_id = "
        "(SELECT started_by_id FROM process_instances WHERE process_instances.id = tasks.instance_id)"
    )



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint('fk_tasks_requester_id_users', type_='foreignkey')
        batch_op.drop_index('ix_tasks_requester_open', postgresql_where=sa.text("status = 'ready'"), sqlite_where=sa.text("status = 'ready'"))
        batch_op.drop_index('ix_tasks_open_queue', postgresql_where=sa.text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"), sqlite_where=sa.text("status = 'ready' AND assignee_id IS NULL AND claimed_by_id IS NULL"))
        batch_op.drop_index('ix_tasks_open_claimed', postgresql_where=sa.text("status = 'ready'"), sqlite_where=sa.text("status = 'ready'"))
        batch_op.drop_index('ix_tasks_open_assignee', postgresql_where=sa.text("status = 'ready'"), sqlite_where=sa.text("status = 'ready'"))
        batch_op.create_index(batch_op.f('ix_tasks_status_claimed'), ['status', 'claimed_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_status_assignee'), ['status', 'assignee_id'], unique=False)
        batch_op.drop_column('requester_id')

    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instances_unit'))
        batch_op.drop_index(batch_op.f('ix_process_instances_starts_on'))
        batch_op.drop_index(batch_op.f('ix_process_instances_country'))
        batch_op.drop_column('purged_at')
        batch_op.drop_column('ends_on')
        batch_op.drop_column('starts_on')
        batch_op.drop_column('unit')
        batch_op.drop_column('country')
        batch_op.drop_column('waits')

    with op.batch_alter_table('sensitive_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sensitive_access_user_id'))
        batch_op.drop_index(batch_op.f('ix_sensitive_access_instance_id'))
        batch_op.drop_index(batch_op.f('ix_sensitive_access_at'))

    op.drop_table('sensitive_access')
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegations_user_id'))
        batch_op.drop_index(batch_op.f('ix_delegations_delegate_id'))

    op.drop_table('delegations')
