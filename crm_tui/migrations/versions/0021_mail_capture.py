"""Mail capture (issue 21): IMAP folders' UIDVALIDITY and last UID, the sync log, Triage and its
ignore list.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: Union[str, None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'mail_folders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=400), nullable=False),
        sa.Column('folder', sa.String(length=200), nullable=False),
        sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
        sa.Column('last_uid', sa.BigInteger(), nullable=False),
        sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('account', 'folder', name='uq_mail_folders_account_folder'),
    )
    op.create_table(
        'mail_sync_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('account', sa.String(length=400), nullable=True),
        sa.Column('folder', sa.String(length=200), nullable=True),
        sa.Column('uid', sa.BigInteger(), nullable=True),
        sa.Column('message_id', sa.String(length=998), nullable=True),
        sa.Column('level', sa.String(length=8), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_mail_sync_log_at', 'mail_sync_log', ['at', 'id'], unique=False)
    op.create_table(
        'mail_triage',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('address', sa.String(length=320), nullable=False),
        sa.Column('domain', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=8), nullable=False),
        sa.Column('email_id', sa.Integer(), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['email_id'], ['email_messages.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('address', 'email_id', name='uq_mail_triage_address_email'),
    )
    op.create_index('ix_mail_triage_domain', 'mail_triage', ['domain'], unique=False)
    op.create_index('ix_mail_triage_email', 'mail_triage', ['email_id'], unique=False)
    op.create_table(
        'mail_ignores',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('value', sa.String(length=320), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'value', name='uq_mail_ignores_kind_value'),
    )


def downgrade() -> None:
    op.drop_table('mail_ignores')
    op.drop_index('ix_mail_triage_email', table_name='mail_triage')
    op.drop_index('ix_mail_triage_domain', table_name='mail_triage')
    op.drop_table('mail_triage')
    op.drop_index('ix_mail_sync_log_at', table_name='mail_sync_log')
    op.drop_table('mail_sync_log')
    op.drop_table('mail_folders')
