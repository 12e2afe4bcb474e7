"""The deals list's sorts: one (column, id) index per sort, so each page is one index range (issue 20).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = {
    "ix_deals_amount_id": ["amount_minor", "id"],
    "ix_deals_close_id": ["expected_close", "id"],
    "ix_deals_created_id": ["created_at", "id"],
    "ix_deals_updated_id": ["updated_at", "id"],
    "ix_deals_entered_id": ["stage_entered_at", "id"],
    "ix_deals_closed_id": ["closed_at", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'deals', columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='deals')
