"""The service reports' index: cases by closing time (and resolution), for cases closed per period and
the backlog (the open cases now, and those closed unresolved since a day) read from the index alone.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0027'
down_revision: Union[str, None] = '0026'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_cases_closed', 'cases', ['closed_at', 'resolved_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_closed', table_name='cases')
