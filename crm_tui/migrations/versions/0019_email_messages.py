"""Email messages, stored once by Message-ID, and the email activities that put them on the
timeline (issue 21).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op



revision: str = '0019'
down_revision: Union[str, None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'email_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(length=998), nullable=False),
        sa.Column('in_reply_to', sa.String(length=998), nullable=True),
        sa.Column('references', sa.Text(), nullable=True),
        sa.Column('thread_key', sa.String(length=998), nullable=False),
        sa.Column('direction', sa.String(length=8), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('from_addr', sa.String(length=320), nullable=False),
        sa.Column('to_addrs', sa.JSON(), nullable=False),
        sa.Column('cc_addrs', sa.JSON(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('attachments', sa.JSON(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_email_messages_thread', 'email_messages', ['thread_key', 'sent_at'], unique=False)
    op.create_index('ix_email_messages_in_reply_to', 'email_messages', ['in_reply_to'], unique=False)
    op.create_index('ix_email_messages_sent_at', 'email_messages', ['sent_at', 'id'], unique=False)
    op.create_index('ix_email_messages_user_id', 'email_messages', ['user_id'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; alembic's batch mode would rebuild the
        # activities table (a million rows)
        op.execute("ALTER TABLE activities ADD COLUMN email_id INTEGER "
                   "REFERENCES email_messages (id)")
    else:
        op.add_column('activities', sa.Column('email_id', sa.Integer(), nullable=True))
        op.create_foreign_key(None, 'activities', 'email_messages', ['email_id'], ['id'])
    op.create_index('uq_activities_email_contact', 'activities', ['email_id', 'contact_id'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_activities_email_contact', table_name='activities')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('email_id')
    op.drop_index('ix_email_messages_user_id', table_name='email_messages')
    op.drop_index('ix_email_messages_sent_at', table_name='email_messages')
    op.drop_index('ix_email_messages_in_reply_to', table_name='email_messages')
    op.drop_index('ix_email_messages_thread', table_name='email_messages')
    op.drop_table('email_messages')
