"""The case queues' counts read one index: cases by status, next SLA target and team, so counting
the cases breaching soon and the backlog of every team touches no table row (issue 23,
services/cases.queue_counts).

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
    op.create_index('ix_cases_queue_counts', 'cases', ['status', 'sla_next_at', 'team'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_queue_counts', table_name='cases')
