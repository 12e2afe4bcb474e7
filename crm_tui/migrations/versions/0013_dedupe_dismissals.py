"""Pairs dismissed as "not a duplicate" (issue 17 #5): the duplicate scans leave them out.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'dedupe_dismissals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('a_id', sa.Integer(), nullable=False),
        sa.Column('b_id', sa.Integer(), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('a_id < b_id', name='ck_dedupe_dismissals_order'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'a_id', 'b_id', name='uq_dedupe_dismissals_pair'),
    )


def downgrade() -> None:
    op.drop_table('dedupe_dismissals')
