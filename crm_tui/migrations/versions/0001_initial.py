"""Initial schema: every table, the contact and company search index, the default pipeline.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from typing import Sequence, Union

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision: str = '0001'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('pipelines',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('users',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_login'), ['login'], unique=True)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_actor', ['actor_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_record', ['entity', 'entity_id', 'at'], unique=False)

    op.create_table('companies',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=True),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('size', sa.String(length=32), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.create_index('ix_companies_domain', ['domain'], unique=False)
        batch_op.create_index('ix_companies_name_key_id', ['name_key', 'id'], unique=False)
        batch_op.create_index('ix_companies_owner_id', ['owner_id'], unique=False)

    op.create_table('saved_views',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('query', sa.String(length=200), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('sort', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entity', 'name')
    )
    op.create_table('stages',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('probability', sa.Integer(), nullable=False),
    sa.Column('rotting_days', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pipeline_id', 'name')
    )
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.create_index('ix_stages_pipeline_position', ['pipeline_id', 'position'], unique=False)

    op.create_table('contacts',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('full_name', sa.String(length=201), nullable=False),
    sa.Column('sort_name', sa.String(length=201), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('company_key', sa.String(length=200), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('lifecycle', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('custom', sa.JSON(), nullable=False),
    sa.Column('last_contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_company_id', ['company_id'], unique=False)
        batch_op.create_index('ix_contacts_company_key_id', ['company_key', 'id'], unique=False)
        batch_op.create_index('ix_contacts_created_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_contacts_email', ['email'], unique=False)
        batch_op.create_index('ix_contacts_last_contacted_id', ['last_contacted_at', 'id'], unique=False)
        batch_op.create_index('ix_contacts_lifecycle_sort', ['lifecycle', 'sort_name', 'id'], unique=False)
        batch_op.create_index('ix_contacts_owner_sort', ['owner_id', 'sort_name', 'id'], unique=False)
        batch_op.create_index('ix_contacts_phone', ['phone'], unique=False)
        batch_op.create_index('ix_contacts_sort_name_id', ['sort_name', 'id'], unique=False)
        batch_op.create_index('ix_contacts_source', ['source'], unique=False)

    op.create_table('contact_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contact_id', 'email')
    )
    with op.batch_alter_table('contact_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_emails_email'), ['email'], unique=False)

    op.create_table('contact_phones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contact_id', 'phone')
    )
    with op.batch_alter_table('contact_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_phones_phone'), ['phone'], unique=False)

    op.create_table('contact_tags',
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contact_id', 'tag_id')
    )
    with op.batch_alter_table('contact_tags', schema=None) as batch_op:
        batch_op.create_index('ix_contact_tags_tag_contact', ['tag_id', 'contact_id'], unique=False)

    op.create_table('deals',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('title_key', sa.String(length=200), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expected_close', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('lost_reason', sa.Text(), nullable=True),
    sa.Column('stage_entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ),
    sa.ForeignKeyConstraint(['stage_id'], ['stages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_company_id', ['company_id'], unique=False)
        batch_op.create_index('ix_deals_contact_id', ['contact_id'], unique=False)
        batch_op.create_index('ix_deals_expected_close', ['expected_close'], unique=False)
        batch_op.create_index('ix_deals_owner_status', ['owner_id', 'status'], unique=False)
        batch_op.create_index('ix_deals_pipeline_status', ['pipeline_id', 'status'], unique=False)
        batch_op.create_index('ix_deals_stage_entered', ['stage_id', 'stage_entered_at'], unique=False)
        batch_op.create_index('ix_deals_stage_status_id', ['stage_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_deals_status_closed', ['status', 'closed_at'], unique=False)
        batch_op.create_index('ix_deals_title_key_id', ['title_key', 'id'], unique=False)

    op.create_table('activities',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=100), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_company_time', ['company_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_activities_contact_time', ['contact_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_activities_deal_time', ['deal_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_activities_time', ['occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_activities_user_time', ['user_id', 'occurred_at'], unique=False)

    op.create_table('tasks',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recurrence', sa.String(length=300), nullable=True),
    sa.Column('recurrence_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('rule_name', sa.String(length=100), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_assignee_open_due', ['assignee_id', 'done_at', 'due_at'], unique=False)
        batch_op.create_index('ix_tasks_company_id', ['company_id'], unique=False)
        batch_op.create_index('ix_tasks_contact_id', ['contact_id'], unique=False)
        batch_op.create_index('ix_tasks_deal_id', ['deal_id'], unique=False)
        batch_op.create_index('ix_tasks_done', ['done_at'], unique=False)
        batch_op.create_index('ix_tasks_due', ['due_at'], unique=False)

    _create_search_index()
    _seed_default_pipeline()


def downgrade() -> None:
    _drop_search_index()
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_due')
        batch_op.drop_index('ix_tasks_done')
        batch_op.drop_index('ix_tasks_deal_id')
        batch_op.drop_index('ix_tasks_contact_id')
        batch_op.drop_index('ix_tasks_company_id')
        batch_op.drop_index('ix_tasks_assignee_open_due')

    op.drop_table('tasks')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_user_time')
        batch_op.drop_index('ix_activities_time')
        batch_op.drop_index('ix_activities_deal_time')
        batch_op.drop_index('ix_activities_contact_time')
        batch_op.drop_index('ix_activities_company_time')

    op.drop_table('activities')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_title_key_id')
        batch_op.drop_index('ix_deals_status_closed')
        batch_op.drop_index('ix_deals_stage_status_id')
        batch_op.drop_index('ix_deals_stage_entered')
        batch_op.drop_index('ix_deals_pipeline_status')
        batch_op.drop_index('ix_deals_owner_status')
        batch_op.drop_index('ix_deals_expected_close')
        batch_op.drop_index('ix_deals_contact_id')
        batch_op.drop_index('ix_deals_company_id')

    op.drop_table('deals')
    with op.batch_alter_table('contact_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_tags_tag_contact')

    op.drop_table('contact_tags')
    with op.batch_alter_table('contact_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_phones_phone'))

    op.drop_table('contact_phones')
    with op.batch_alter_table('contact_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_emails_email'))

    op.drop_table('contact_emails')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_source')
        batch_op.drop_index('ix_contacts_sort_name_id')
        batch_op.drop_index('ix_contacts_phone')
        batch_op.drop_index('ix_contacts_owner_sort')
        batch_op.drop_index('ix_contacts_lifecycle_sort')
        batch_op.drop_index('ix_contacts_last_contacted_id')
        batch_op.drop_index('ix_contacts_email')
        batch_op.drop_index('ix_contacts_created_id')
        batch_op.drop_index('ix_contacts_company_key_id')
        batch_op.drop_index('ix_contacts_company_id')

    op.drop_table('contacts')
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.drop_index('ix_stages_pipeline_position')

    op.drop_table('stages')
    op.drop_table('saved_views')
    with op.batch_alter_table('companies', schema=None) as batch_op:
        batch_op.drop_index('ix_companies_owner_id')
        batch_op.drop_index('ix_companies_name_key_id')
        batch_op.drop_index('ix_companies_domain')

    op.drop_table('companies')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_record')
        batch_op.drop_index('ix_audit_at')
        batch_op.drop_index('ix_audit_actor')

    op.drop_table('audit_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_login'))

    op.drop_table('users')
    op.drop_table('tags')
    op.drop_table('pipelines')


# Search: contacts and companies keep a casefolded `search_text`. SQLite indexes it with an
# external-content FTS5 table (trigram tokens, so any fragment of 3+ characters matches),
# kept in sync by triggers; PostgreSQL indexes it with pg_trgm. The SQL is frozen here on
# purpose: a later change to the index is a later migration.
_FTS_TABLES = ("contacts", "companies")


def _create_search_index() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in _FTS_TABLES:
            fts = f"{table}_fts"
            op.execute(
                f"CREATE VIRTUAL TABLE {fts} USING fts5(search_text, content='{table}', "
                f"content_rowid='id', tokenize='trigram')"
            )
            op.execute(
                f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
            )
            op.execute(
                f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END"
            )
            op.execute(
                f"CREATE TRIGGER {fts}_au AFTER UPDATE OF search_text ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
                f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
            )
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table in _FTS_TABLES:
            op.execute(
                f"CREATE INDEX ix_{table}_search_trgm ON {table} USING gin (search_text gin_trgm_ops)"
            )


def _drop_search_index() -> None:
    bind = op.get_bind()
    for table in _FTS_TABLES:
        if bind.dialect.name == "sqlite":
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
        else:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_trgm")


_DEFAULT_STAGES = [
    # name, probability %, rotting days, kind
    ("New", 10, 14, "open"),
    ("Qualified", 25, 21, "open"),
    ("Proposal", 50, 21, "open"),
    ("Negotiation", 75, 14, "open"),
    ("Won", 100, None, "won"),
    ("Lost", 0, None, "lost"),
]


def _seed_default_pipeline() -> None:
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    stamps = {"version": 1, "created_at": now, "updated_at": now}
    pipelines = sa.table(
        "pipelines", sa.column("id"), sa.column("name"), sa.column("position"), sa.column("is_default"),
        sa.column("archived"), sa.column("version"), sa.column("created_at"), sa.column("updated_at"),
    )
    stages = sa.table(
        "stages", sa.column("pipeline_id"), sa.column("name"), sa.column("position"), sa.column("probability"),
        sa.column("rotting_days"), sa.column("kind"), sa.column("version"), sa.column("created_at"),
        sa.column("updated_at"),
    )
    pipeline_id = bind.execute(
        sa.insert(pipelines)
        .values(name="Sales", position=0, is_default=True, archived=False, **stamps)
        .returning(pipelines.c.id)
    ).scalar_one()
    op.bulk_insert(stages, [
        {"pipeline_id": pipeline_id, "name": name, "position": i, "probability": prob,
         "rotting_days": rot, "kind": kind, **stamps}
        for i, (name, prob, rot, kind) in enumerate(_DEFAULT_STAGES)
    ])
