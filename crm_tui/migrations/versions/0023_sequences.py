"""Sequences: named email and task steps, contacts' enrolments and each step done once; and
contacts' "do not email" (issue 21).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0023'
down_revision: Union[str, None] = '0022'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _versioned() -> list[sa.Column]:
    return [sa.Column('version', sa.Integer(), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table(
        'sequences', *_versioned(),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('name_key', sa.String(length=100), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('window_start', sa.Integer(), nullable=False),
        sa.Column('window_end', sa.Integer(), nullable=False),
        sa.Column('daily_cap', sa.Integer(), nullable=False),
        sa.Column('archived', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name_key'),
    )
    op.create_table(
        'sequence_steps', *_versioned(),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sequence_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('delay_days', sa.Integer(), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=True),
        sa.Column('task_title', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['sequence_id'], ['sequences.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['template_id'], ['email_templates.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sequence_id', 'position', name='uq_sequence_steps_position'),
    )
    op.create_table(
        'sequence_enrollments', *_versioned(),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sequence_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('stop_reason', sa.String(length=16), nullable=True),
        sa.Column('next_position', sa.Integer(), nullable=False),
        sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sender_id', sa.Integer(), nullable=True),
        sa.Column('enrolled_by', sa.Integer(), nullable=True),
        sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_step_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('stopped_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['sequence_id'], ['sequences.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sender_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['enrolled_by'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['stopped_by'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_sequence_enrollments_active', 'sequence_enrollments', ['sequence_id', 'contact_id'],
                    unique=True, sqlite_where=sa.text("status = 'active'"),
                    postgresql_where=sa.text("status = 'active'"))
    op.create_index('ix_sequence_enrollments_due', 'sequence_enrollments', ['status', 'next_due_at', 'id'])
    op.create_index('ix_sequence_enrollments_contact', 'sequence_enrollments', ['contact_id', 'status'])
    op.create_index('ix_sequence_enrollments_sequence', 'sequence_enrollments', ['sequence_id', 'status', 'id'])
    op.create_table(
        'sequence_sends',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrollment_id', sa.Integer(), nullable=False),
        sa.Column('step_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('sender_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('email_id', sa.Integer(), nullable=True),
        sa.Column('task_id', sa.Integer(), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['enrollment_id'], ['sequence_enrollments.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['step_id'], ['sequence_steps.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sender_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['email_id'], ['email_messages.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enrollment_id', 'step_id', name='uq_sequence_sends_step'),
    )
    op.create_index('ix_sequence_sends_sender_day', 'sequence_sends', ['sender_id', 'sent_on'])
    op.create_index('ix_sequence_sends_email', 'sequence_sends', ['email_id'])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE contacts ADD COLUMN do_not_email BOOLEAN NOT NULL DEFAULT 0")
    else:
        op.add_column('contacts', sa.Column('do_not_email', sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
        op.alter_column('contacts', 'do_not_email', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('do_not_email')
    op.drop_index('ix_sequence_sends_email', table_name='sequence_sends')
    op.drop_index('ix_sequence_sends_sender_day', table_name='sequence_sends')
    op.drop_table('sequence_sends')
    for name in ('ix_sequence_enrollments_sequence', 'ix_sequence_enrollments_contact',
                 'ix_sequence_enrollments_due', 'uq_sequence_enrollments_active'):
        op.drop_index(name, table_name='sequence_enrollments')
    op.drop_table('sequence_enrollments')
    op.drop_table('sequence_steps')
    op.drop_table('sequences')
