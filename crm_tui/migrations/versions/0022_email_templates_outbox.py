"""Email templates, and the outbox's columns for a person's email: From, To and Cc, Message-ID,
threading headers, the stored message (issue 21).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0022'
down_revision: Union[str, None] = '0021'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_OUTBOX = [
    ('from_addr', sa.String(length=320), 'VARCHAR(320)'),
    ('to_addrs', sa.JSON(), 'JSON'),
    ('cc_addrs', sa.JSON(), 'JSON'),
    ('message_id', sa.String(length=998), 'VARCHAR(998)'),
    ('in_reply_to', sa.String(length=998), 'VARCHAR(998)'),
    ('references', sa.Text(), 'TEXT'),
]


def upgrade() -> None:
    op.create_table(
        'email_templates',
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('name_key', sa.String(length=100), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('archived', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name_key'),
    )
    op.create_index('ix_email_templates_owner', 'email_templates', ['owner_id', 'archived'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column (and its reference) in place; no table rebuild
        for name, _type, sql in _OUTBOX:
            op.execute(f'ALTER TABLE email_outbox ADD COLUMN "{name}" {sql}')
        op.execute("ALTER TABLE email_outbox ADD COLUMN email_id INTEGER "
                   "REFERENCES email_messages (id)")
        op.execute("ALTER TABLE email_outbox ADD COLUMN user_id INTEGER REFERENCES users (id)")
    else:
        for name, type_, _sql in _OUTBOX:
            op.add_column('email_outbox', sa.Column(name, type_, nullable=True))
        op.add_column('email_outbox', sa.Column('email_id', sa.Integer(), nullable=True))
        op.add_column('email_outbox', sa.Column('user_id', sa.Integer(), nullable=True))
        op.create_foreign_key(None, 'email_outbox', 'email_messages', ['email_id'], ['id'])
        op.create_foreign_key(None, 'email_outbox', 'users', ['user_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        for name in ('user_id', 'email_id', *(n for n, _t, _s in reversed(_OUTBOX))):
            batch_op.drop_column(name)
    op.drop_index('ix_email_templates_owner', table_name='email_templates')
    op.drop_table('email_templates')
