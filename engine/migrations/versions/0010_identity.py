"""identity: group → role mapping, roles held through groups, directory links, the people audit

`group_roles` is the admin's mapping of provider and directory groups to roles; `group_grants`
remembers which roles a person holds because of a group (taken back when the group goes);
`directory_links` ties a person to the directory (their DN) or the provider (issuer and subject)
and says when it last named them; `person_events` audits provisioning, updates, manager changes,
deactivation and reactivation.

Revision ID: 0010_identity
Revises: 0007_roles
Create Date: 2026-12-07 07:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_identity'
down_revision = '0007_roles'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'group_roles',
        sa.Column('group_name', sa.String(length=500), nullable=False),
        sa.Column('role', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('group_name', 'role'),
    )
    op.create_table(
        'group_grants',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('user_id', 'role'),
    )
    op.create_table(
        'directory_links',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('external_id', sa.String(length=1000), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('user_id', 'source'),
    )
    op.create_table(
        'person_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=30), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_person_events_username_at', 'person_events', ['username', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_person_events_username_at', table_name='person_events')
    op.drop_table('person_events')
    op.drop_table('directory_links')
    op.drop_table('group_grants')
    op.drop_table('group_roles')
