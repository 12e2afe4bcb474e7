"""The outbox carries a quote's PDF: email_outbox.quote_id names the quote whose stored PDF goes
as the attachment, built into the message when it is sent (issue 22).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0025'
down_revision: Union[str, None] = '0024'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column (and its reference) in place; no table rebuild
        op.execute("ALTER TABLE email_outbox ADD COLUMN quote_id INTEGER REFERENCES quotes (id)")
    else:
        op.add_column('email_outbox', sa.Column('quote_id', sa.Integer(), nullable=True))
        op.create_foreign_key(None, 'email_outbox', 'quotes', ['quote_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.drop_column('quote_id')
