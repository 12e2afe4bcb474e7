"""A user reports to a manager (another user) and belongs to a team or region (issue 17 #20).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; alembic's batch mode would rebuild the
        # users table, which every other table points at
        op.execute("ALTER TABLE users ADD COLUMN manager_id INTEGER REFERENCES users (id)")
        op.execute("ALTER TABLE users ADD COLUMN team VARCHAR(100)")
    else:
        op.add_column('users', sa.Column('manager_id', sa.Integer(), nullable=True))
        op.add_column('users', sa.Column('team', sa.String(length=100), nullable=True))
        op.create_foreign_key(None, 'users', 'users', ['manager_id'], ['id'])
    op.create_index('ix_users_manager_id', 'users', ['manager_id'], unique=False)
    op.create_index('ix_users_team', 'users', ['team'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_users_team', table_name='users')
    op.drop_index('ix_users_manager_id', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('team')
        batch_op.drop_column('manager_id')
