"""Surveys by their email (issue 23): a reply to a survey email finds its survey by an index.

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
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index('ix_surveys_email', ['email_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index('ix_surveys_email')
