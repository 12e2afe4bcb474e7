"""A company can belong to a parent company (a subsidiary's group account; issue 17 #23).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; alembic's batch mode would rebuild the
        # table, and the rebuild drops the search index's triggers on it
        op.execute("ALTER TABLE companies ADD COLUMN parent_id INTEGER REFERENCES companies (id)")
    else:
        op.add_column('companies', sa.Column('parent_id', sa.Integer(), nullable=True))
        op.create_foreign_key(None, 'companies', 'companies', ['parent_id'], ['id'])
    op.create_index('ix_companies_parent_id', 'companies', ['parent_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_companies_parent_id', table_name='companies')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_column('parent_id')
