"""Who signs in as whom (issue 16): users.os_login maps an OS or database login to a CRM user, and
audit_events.via records who really acted when an admin acted as another user.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('os_login', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_os_login'), ['os_login'], unique=True)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('via')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_os_login'))
        batch_op.drop_column('os_login')
