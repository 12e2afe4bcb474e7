"""Activities logged ahead of their time get a partial index: the engine turns them into the
contact's last contact when their time comes (issue 17 #10, the future does not count as contact).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_planned', ['occurred_at', 'contact_id'], unique=False,
                              sqlite_where=sa.text('occurred_at > created_at'),
                              postgresql_where=sa.text('occurred_at > created_at'))


def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_planned')
