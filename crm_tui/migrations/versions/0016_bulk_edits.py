"""Bulk edits, and the bulk edit an audit event belongs to, so that one key undoes it (issue 20).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: Union[str, None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'bulk_edits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=100), nullable=False),
        sa.Column('entity', sa.String(length=32), nullable=False),
        sa.Column('change', sa.String(length=32), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('changed', sa.Integer(), nullable=False),
        sa.Column('refused', sa.Integer(), nullable=False),
        sa.Column('undoes_id', sa.Integer(), nullable=True),
        sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['undoes_id'], ['bulk_edits.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    if op.get_bind().dialect.name == "sqlite":
        # in place: batch mode would rebuild the (large, append-only) audit table
        op.execute("ALTER TABLE audit_events ADD COLUMN bulk_id INTEGER REFERENCES bulk_edits (id)")
    else:
        op.add_column('audit_events', sa.Column('bulk_id', sa.Integer(), nullable=True))
        op.create_foreign_key(None, 'audit_events', 'bulk_edits', ['bulk_id'], ['id'])
    op.create_index('ix_audit_bulk', 'audit_events', ['bulk_id', 'entity_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_bulk', table_name='audit_events')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('bulk_id')
    op.drop_table('bulk_edits')
