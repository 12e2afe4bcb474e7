"""A contact's address, birthday, social profile URLs and description (issue 20).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: Union[str, None] = '0016'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = (
    ('address', sa.String(length=500)),
    ('birthday', sa.Date()),
    ('social_urls', sa.JSON()),
    ('description', sa.Text()),
)


def upgrade() -> None:
    # plain ADD COLUMNs (nullable, no default): SQLite adds them in place, without rebuilding
    # the contacts table
    for name, type_ in COLUMNS:
        op.add_column('contacts', sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        for name, _type in reversed(COLUMNS):
            batch_op.drop_column(name)
