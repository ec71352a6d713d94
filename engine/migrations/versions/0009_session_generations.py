"""session generations: a person's sign-in generation, raised at sign-out, a new password or a role removed

A session cookie records the generation it began in; the web refuses an older one
(engine/people/sessions.py). No row means generation 0.

Revision ID: 0009_session_generations
Revises: 0007_roles
Create Date: 2026-12-07 06:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_session_generations'
down_revision = '0007_roles'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('session_generations',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('session_generations')
