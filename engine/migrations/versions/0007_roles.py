"""roles as data: a roles table seeded with Waypoint's own roles, their audit, and task candidates

`roles` holds each role's stable key and names in both languages (admins and deploys add rows);
`role_events` records every creation, rename, retirement, grant and revoke; `task_candidates`
lists the people a task is offered to by name (`camunda:candidateUsers`).

Revision ID: 0007_roles
Revises: 0006_task_indexes
Create Date: 2026-12-07 06:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_roles'
down_revision = '0006_task_indexes'
branch_labels = None
depends_on = None

#: the built-in roles as they were first seeded (engine/people/roles.py BUILT_IN)
SEED = (
    ("requester", "Requester", "Demandeur"),
    ("supervisor", "Supervisor", "Superviseur"),
    ("finance", "Finance", "Finances"),
    ("ethics", "Ethics", "Éthique"),
    ("senior_management", "Senior management", "Haute direction"),
    ("itv_coordinator", "ITV coordinator", "Coordonnateur VIV"),
    ("passport_officer", "Passport officer", "Agent des passeports"),
    ("security", "Security", "Sécurité"),
    ("host_unit", "Host unit", "Unité hôte"),
    ("liaison_officer", "Liaison officer", "Agent de liaison"),
    ("process_designer", "Process designer", "Concepteur de processus"),
    ("admin", "Administrator", "Administrateur"),
)


def upgrade() -> None:
    roles = op.create_table(
        'roles',
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('name_en', sa.String(length=100), nullable=False),
        sa.Column('name_fr', sa.String(length=100), nullable=False),
        sa.Column('built_in', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=True),
        sa.Column('retired_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'role_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('role', sa.String(length=40), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_role_events_role_at', 'role_events', ['role', 'at'], unique=False)
    op.create_table(
        'task_candidates',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('task_id', 'user_id'),
    )
    op.create_index('ix_task_candidates_user_id', 'task_candidates', ['user_id'], unique=False)
    op.bulk_insert(
        roles,
        [
            {"key": k, "name_en": en, "name_fr": fr, "built_in": True, "created_by": "system"}
            for k, en, fr in SEED
        ],
    )


def downgrade() -> None:
    op.drop_index('ix_task_candidates_user_id', table_name='task_candidates')
    op.drop_table('task_candidates')
    op.drop_index('ix_role_events_role_at', table_name='role_events')
    op.drop_table('role_events')
    op.drop_table('roles')
