"""Deal pipeline: lost reasons and pipeline settings (issue 4).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from datetime import datetime, timezone
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# the list a seller picks from when marking a deal lost; the team edits it (`crm pipeline lost-reason`)
_DEFAULT_LOST_REASONS = (
    "Price too high",
    "Went with a competitor",
    "No budget",
    "No decision / went dark",
    "Missing feature",
    "Bad timing",
)


def upgrade() -> None:
    op.create_table('lost_reasons',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    _seed_lost_reasons()
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_board_totals', ['pipeline_id', 'archived', 'stage_id', 'currency',
                                                        'amount_minor'], unique=False)


def _seed_lost_reasons() -> None:
    now = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # the app's UTCDateTime stores naive UTC text there
    reasons = sa.table("lost_reasons", sa.column("name"), sa.column("position"), sa.column("archived"),
                       sa.column("version"), sa.column("created_at"), sa.column("updated_at"))
    op.bulk_insert(reasons, [
        {"name": name, "position": i, "archived": False, "version": 1, "created_at": now, "updated_at": now}
        for i, name in enumerate(_DEFAULT_LOST_REASONS)
    ])


def downgrade() -> None:
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_board_totals')
    op.drop_table('lost_reasons')
