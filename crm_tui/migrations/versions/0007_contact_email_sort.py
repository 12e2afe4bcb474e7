"""Contacts: the email index also holds archived, sort_name and id, so a short search's email
half reads its matches in name order from the index alone (issue 3, search as you type).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_email_sort', ['email', 'archived', 'sort_name', 'id'], unique=False)
        batch_op.drop_index('ix_contacts_email')


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_email', ['email'], unique=False)
        batch_op.drop_index('ix_contacts_email_sort')
