"""Reports: sales goals per user and period (issue 6).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('goals',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('period_kind', sa.String(length=8), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'period_kind', 'period_start', name='uq_goals_user_period')
    )
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.create_index('ix_goals_period', ['period_kind', 'period_start'], unique=False)

    # indexes the reports read from alone (see services/reports/)
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_user_kind_time', ['user_id', 'kind', 'occurred_at'], unique=False)
        batch_op.create_index('ix_activities_stage_changes', ['deal_id', 'subject'], unique=False,
                              sqlite_where=sa.text("kind = 'stage_change'"),
                              postgresql_where=sa.text("kind = 'stage_change'"))
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_created_source',
                              ['created_at', 'source', 'lifecycle', 'archived', 'owner_id'], unique=False)
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_closed_report', ['status', 'closed_at', 'owner_id', 'contact_id', 'created_at',
                                                         'archived', 'pipeline_id', 'currency'], unique=False)
        batch_op.create_index('ix_deals_contact_status', ['contact_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_contact_status')
        batch_op.drop_index('ix_deals_closed_report')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_created_source')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_stage_changes')
        batch_op.drop_index('ix_activities_user_kind_time')

    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index('ix_goals_period')

    op.drop_table('goals')
