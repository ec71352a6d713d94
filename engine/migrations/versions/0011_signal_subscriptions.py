"""signal subscriptions: message_subscriptions rows also stand for waiting signal catch events

A `kind` column ("message" or "signal") tells them apart; signals are found by kind and name.

Revision ID: 0011_signal_subscriptions
Revises: 0010_identity
Create Date: 2026-12-07 06:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011_signal_subscriptions'
down_revision = '0010_identity'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='message', nullable=False))
        batch_op.create_index('ix_msgsub_kind_name', ['kind', 'message_name'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('message_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_msgsub_kind_name')
        batch_op.drop_column('kind')
