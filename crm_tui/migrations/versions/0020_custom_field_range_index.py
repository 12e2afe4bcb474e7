"""A range index for typed custom fields on PostgreSQL (issue 20): a number, money or date field
gets (list order, id, value) beside its two indexes, so a range filter in the list's order tests
the range on index entries instead of fetching row after row (services/fields.py, RANGED). Fields
defined from now on get it when defined; this adds it to the ones defined before.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: Union[str, None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = {"contact": ("contacts", "sort_name"), "company": ("companies", "name_key"), "deal": ("deals", "title_key")}


def _fields(bind):
    return bind.execute(sa.text("SELECT id, kind, key, type FROM custom_fields WHERE archived = false "
                                "AND type IN ('number', 'money', 'date')")).all()


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for field_id, kind, key, type_ in _fields(bind):
        table, order = TABLES[kind]
        # the value's expression as services/fields.value_sql writes it (a key holds no quote)
        expr = f"({table}.custom ->> '{key}')"
        if type_ in ("number", "money"):
            expr = f"(({expr})::double precision)"
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_cf_{table}_{field_id}_walk ON {table} ({order}, id, ({expr}))")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for field_id, kind, _key, _type in _fields(bind):
        op.execute(f"DROP INDEX IF EXISTS ix_cf_{TABLES[kind][0]}_{field_id}_walk")
