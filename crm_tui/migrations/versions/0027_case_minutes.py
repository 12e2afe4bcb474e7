"""The cases' stored minutes to first response and to resolution, and the times and SLA reports' index.

`cases.first_response_minutes` and `cases.resolution_minutes` hold what the service reports used to
work out for every case of a period at each run (whole wall-clock minutes from creation, each time's
epoch seconds floored); the ORM keeps them with the times since (models/case.py). The backfill
below computes them as the report did, on each database.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""
import sqlite3
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0027'
down_revision: Union[str, None] = '0026'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TIMES_INDEX = ['assignee_id', 'team', 'priority', 'category', 'created_at', 'merged_into_id',
               'first_response_minutes', 'resolution_minutes', 'first_response_due_at', 'first_response_at',
               'resolution_due_at', 'resolved_at']


def _epoch(column: str, dialect: str) -> str:
    if dialect != "sqlite":
        return f"CAST(floor(extract(epoch FROM {column})) AS INTEGER)"
    if sqlite3.sqlite_version_info >= (3, 38):
        return f"unixepoch({column})"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def _minutes(column: str, dialect: str) -> str:
    return (f"CASE WHEN {column} >= created_at THEN ({_epoch(column, dialect)} - "
            f"{_epoch('created_at', dialect)}) / 60 END")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":  # SQLite adds a column in place; no table rebuild
        op.execute("ALTER TABLE cases ADD COLUMN first_response_minutes INTEGER")
        op.execute("ALTER TABLE cases ADD COLUMN resolution_minutes INTEGER")
    else:
        op.add_column('cases', sa.Column('first_response_minutes', sa.Integer(), nullable=True))
        op.add_column('cases', sa.Column('resolution_minutes', sa.Integer(), nullable=True))
    op.execute(f"UPDATE cases SET first_response_minutes = {_minutes('first_response_at', dialect)}, "
               f"resolution_minutes = {_minutes('resolved_at', dialect)} "
               "WHERE first_response_at IS NOT NULL OR resolved_at IS NOT NULL")
    op.create_index('ix_cases_times', 'cases', TIMES_INDEX, unique=False)


def downgrade() -> None:
    op.drop_index('ix_cases_times', table_name='cases')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('resolution_minutes')
        batch_op.drop_column('first_response_minutes')
