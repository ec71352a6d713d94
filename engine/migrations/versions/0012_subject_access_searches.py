"""subject access searches: every search is recorded, including those that find nothing

Revision ID: 0012_subject_access_searches
Revises: 0009_session_generations, 0011_signal_subscriptions (joins the two heads)
Create Date: 2026-12-07 06:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012_subject_access_searches'
down_revision = ('0009_session_generations', '0011_signal_subscriptions')
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'subject_access_searches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('person', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('output', sa.String(length=10), nullable=False),
        sa.Column('found', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('subject_access_searches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_access_searches_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_subject_access_searches_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('subject_access_searches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_access_searches_user_id'))
        batch_op.drop_index(batch_op.f('ix_subject_access_searches_at'))
    op.drop_table('subject_access_searches')
