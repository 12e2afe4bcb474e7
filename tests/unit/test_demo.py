"""The demo loader: counts and ratios, determinism, realistic shape, search and a clean sequence after."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite

from crm_tui.db import open_database
from crm_tui.errors import InvalidInput
from crm_tui.models import (
    Activity, AuditEvent, Company, Contact, ContactEmail, ContactPhone, Deal, Source, Stage, Task,
)
from crm_tui.services import bulk, contacts, demo, pipelines, tasks
from crm_tui.services import validation as v
from crm_tui.services.demo import load_demo
from crm_tui.services.users import actor_for
from tests.conftest import seeded_fixtures

N = 300


def _load(db, actor, now):
    calls = []
    with db.write() as session:
        summary = load_demo(session, contacts=N, seed=7, actor=actor, now=now,
                            progress=lambda phase, done, total: calls.append((phase, done, total)))
    return summary, calls


seeded_rows, db_url, loaded = seeded_fixtures(_load, "loaded", only_when_asked=True)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_counts_match_the_summary_and_the_ratios(db, loaded):
    summary, calls = loaded
    assert (summary.companies, summary.contacts, summary.deals, summary.activities, summary.tasks) == (
        N // 10, N, N // 5, 5 * N, N // 5)
    assert summary.users == 6
    with db.read() as session:
        for model, expected in ((Company, summary.companies), (Contact, summary.contacts), (Deal, summary.deals),
                                (Activity, summary.activities), (Task, summary.tasks)):
            assert _count(session, model) == expected, model.__tablename__
        events = session.execute(select(AuditEvent.action)).scalars().all()
    assert events.count("demo") == 1
    # every phase ends at its total
    last = {phase: (done, total) for phase, done, total in calls}
    assert {p: d for p, (d, t) in last.items()} == {p: t for p, (d, t) in last.items()}
    assert set(last) == {"users", "companies", "contacts", "deals", "activities", "tasks"}


def test_every_stage_has_deals_and_closed_deals_are_complete(db, loaded, now):
    with db.read() as session:
        pipeline = pipelines.default_pipeline(session)
        per_stage = dict(session.execute(select(Deal.stage_id, func.count()).group_by(Deal.stage_id)).all())
        assert all(per_stage.get(s.id, 0) > 0 for s in pipeline.stages)
        deals = session.execute(select(Deal.__table__)).all()
        kinds = {s.id: s for s in pipeline.stages}
    for deal in deals:
        stage = kinds[deal.stage_id]
        assert deal.status == stage.kind
        assert deal.amount_minor > 0 and deal.amount_minor % 100 == 0
        assert deal.title_key == v.fold(deal.title)
        assert deal.stage_entered_at <= now and deal.created_at <= deal.stage_entered_at
        if deal.status == "open":
            assert deal.closed_at is None and deal.lost_reason is None
        else:
            assert deal.closed_at is not None and deal.closed_at <= now
        assert (deal.lost_reason is not None) == (deal.status == "lost")
    stale = [d for d in deals if d.status == "open"
             and d.stage_entered_at < now - timedelta(days=kinds[d.stage_id].rotting_days)]
    assert stale and len(stale) < len([d for d in deals if d.status == "open"])


def test_contacts_are_realistic_and_derived_like_the_service_does(db, loaded):
    with db.read() as session:
        rows = session.execute(select(Contact.__table__)).all()
        emails = session.execute(select(ContactEmail.contact_id, ContactEmail.email)
                                 .order_by(ContactEmail.contact_id, ContactEmail.position)).all()
        phones = session.execute(select(ContactPhone.contact_id, ContactPhone.phone)
                                 .order_by(ContactPhone.contact_id, ContactPhone.position)).all()
        name_keys = dict(session.execute(select(Company.id, Company.name_key)).all())
        latest = dict(session.execute(select(Activity.contact_id, func.max(Activity.occurred_at))
                                      .where(Activity.kind.in_(("call", "email", "meeting")))
                                      .group_by(Activity.contact_id)).all())
    by_contact: dict[int, tuple[list, list]] = {c.id: ([], []) for c in rows}
    for contact_id, email in emails:
        by_contact[contact_id][0].append(email)
    for contact_id, phone in phones:
        by_contact[contact_id][1].append(phone)
    for c in rows:
        mails, nums = by_contact[c.id]
        assert 1 <= len(mails) <= 2 and len(nums) <= 2
        assert all(v.email(m) == m for m in mails)
        assert all(v.phone(p) == p and p.startswith("+") for p in nums)
        assert {k: getattr(c, k) for k in ("full_name", "sort_name", "email", "phone", "search_text")} == \
            contacts.derived_fields(c.first_name, c.last_name, c.title, mails, nums)
        assert c.company_key == (name_keys[c.company_id] if c.company_id else None)
        # last_contacted_at is the latest call, email or meeting, or None when there was none
        assert c.last_contacted_at == latest.get(c.id)
    assert {c.lifecycle for c in rows} == {"lead", "prospect", "customer", "former"}
    assert {c.source for c in rows} == {s.value for s in Source}
    assert any(c.last_contacted_at is None for c in rows)
    assert any(not c.full_name.isascii() for c in rows)


def test_search_finds_demo_contacts_by_email_fragment_and_company_name(db, loaded):
    with db.read() as session:
        contact = session.execute(select(Contact.__table__).where(Contact.company_id.is_not(None))
                                  .order_by(Contact.id)).first()
        company_name = session.scalar(select(Company.name).where(Company.id == contact.company_id))
        local = contact.email.split("@")[0]
        by_email = contacts.list_contacts(session, query=local[:5], limit=500)
        by_company = contacts.list_contacts(session, query=company_name, limit=500)
    assert contact.id in [r.id for r in by_email.items]
    assert contact.id in [r.id for r in by_company.items]
    assert company_name in {r.company_name for r in by_company.items}


def test_tasks_are_overdue_today_upcoming_done_and_recurring(db, loaded, now):
    with db.read() as session:
        for status in ("overdue", "today", "upcoming", "done", "snoozed"):
            assert tasks.list_tasks(session, status=status, now=now).items, status
        recurring = session.execute(select(Task.__table__).where(Task.recurrence.is_not(None))).all()
    assert recurring and all(t.recurrence_start == t.due_at and t.due_at > now for t in recurring)
    assert all(tasks.parse_recurrence(t.recurrence) == t.recurrence for t in recurring)


def test_a_second_load_is_refused_and_writes_nothing(db, loaded, actor, now):
    with pytest.raises(InvalidInput, match="already has contacts"):
        with db.write() as session:
            load_demo(session, contacts=10, seed=1, actor=actor, now=now)
    with db.read() as session:
        assert _count(session, Contact) == N


def test_bad_sizes_are_refused(db, actor, now):
    for size in (0, -5, demo.MAX_CONTACTS + 1):
        with pytest.raises(InvalidInput, match="between 1 and"):
            with db.write() as session:
                load_demo(session, contacts=size, seed=1, actor=actor, now=now)


def test_services_keep_working_after_a_load(db, loaded, actor, now):
    """New ids continue past the loaded ones (PostgreSQL sequences reset), and the search index
    triggers are back (SQLite)."""
    with db.write() as session:
        created = contacts.create_contact(session, data={"first_name": "Zebedee", "last_name": "Quill",
                                                         "emails": ["zq@example.org"]}, actor=actor, now=now)
    with db.read() as session:
        assert created.id == session.scalar(select(func.max(Contact.id)))
        assert [r.id for r in contacts.list_contacts(session, query="zebedee").items] == [created.id]
        stage_id = session.scalar(select(Stage.id).order_by(Stage.position).limit(1))
    from crm_tui.services import deals
    with db.write() as session:
        deal = deals.create_deal(session, data={"title": "After demo", "stage_id": stage_id}, actor=actor, now=now)
    assert deal.id > N // 5


def test_tiny_sets_still_load(db, actor, now):
    with db.write() as session:
        summary = load_demo(session, contacts=1, seed=3, actor=actor, now=now)
    assert (summary.contacts, summary.companies, summary.deals, summary.tasks, summary.activities) == (1, 1, 1, 1, 5)


def _digest(url: str, actor_login: str, now: datetime, seed: int) -> str:
    database = open_database(url)
    try:
        with database.write() as session:
            actor = actor_for(session, login=actor_login, now=now)
            load_demo(session, contacts=120, seed=seed, actor=actor, now=now)
        digest = hashlib.sha256()
        with database.read() as session:
            for stmt in (
                select(Contact.id, Contact.full_name, Contact.email, Contact.phone, Contact.company_id,
                       Contact.lifecycle, Contact.source, Contact.last_contacted_at, Contact.created_at,
                       Contact.search_text).order_by(Contact.id),
                select(Company.id, Company.name, Company.domain, Company.industry).order_by(Company.id),
                select(Deal.id, Deal.title, Deal.stage_id, Deal.amount_minor, Deal.stage_entered_at,
                       Deal.closed_at, Deal.expected_close).order_by(Deal.id),
                select(Activity.id, Activity.kind, Activity.occurred_at, Activity.contact_id,
                       Activity.deal_id).order_by(Activity.id),
                select(Task.id, Task.title, Task.due_at, Task.done_at, Task.recurrence).order_by(Task.id),
            ):
                for row in session.execute(stmt):
                    digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()
    finally:
        database.dispose()


def test_same_seed_and_clock_give_the_same_data(tmp_path, now):
    first = _digest(f"sqlite:///{tmp_path / 'a.db'}", "ann", now, seed=11)
    second = _digest(f"sqlite:///{tmp_path / 'b.db'}", "ann", now, seed=11)
    other_seed = _digest(f"sqlite:///{tmp_path / 'c.db'}", "ann", now, seed=12)
    assert first == second
    assert first != other_seed


def test_generated_rows_fill_every_column(now):
    """Every row dict names exactly its table's columns, so bulk inserts never fall back to a default."""
    ctx = demo.DemoContext(actor_id=1, pipeline_id=1, stages=tuple(
        demo.StagePlan(i, kind, days) for i, (kind, days) in enumerate(
            [("open", 14), ("open", 21), ("won", None), ("lost", None)], start=1)),
        first_ids=dict.fromkeys(["users", "tags", "companies", "contacts", "contact_emails", "contact_phones",
                                 "deals", "activities", "tasks", "cases", "case_entries", "surveys"], 1),
        existing_users={}, existing_tags={})
    seen = set()
    for table, rows in demo.demo_rows(ctx, contacts=50, seed=1, now=now):
        columns = set(demo.TABLES[table].c.keys())
        assert all(set(row) == columns for row in rows), table
        seen.add(table)
    assert seen == set(demo.TABLES)


def test_sqlite_values_are_stored_as_sqlalchemy_stores_them():
    dialect = sqlite.dialect()
    table = demo.TABLES["deals"]
    values = {
        "created_at": datetime(2026, 3, 1, 23, 59, 1, 5, tzinfo=timezone.utc),
        "closed_at": datetime(2026, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
        "expected_close": date(2026, 4, 30),
    }
    row = dict.fromkeys(table.c.keys()) | values
    converted = dict(zip(table.c.keys(), bulk.sqlite_tuples(table, [row])[0]))
    for name, value in values.items():
        expected = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        assert converted[name] == (expected(value) if expected else value), name
    contact = demo.TABLES["contacts"]
    custom = {"preferred_language": "fr", "note": "café"}
    row = dict.fromkeys(contact.c.keys()) | {"custom": custom}
    stored = dict(zip(contact.c.keys(), bulk.sqlite_tuples(contact, [row])[0]))["custom"]
    assert stored == contact.c.custom.type.dialect_impl(dialect).bind_processor(dialect)(custom)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", converted["closed_at"])


def test_walking_the_list_for_common_words_finds_the_same_page(db, loaded, monkeypatch):
    """Search's row-by-row plan for very common words (normally only on large sets) returns
    exactly what the gather-and-sort plan does."""
    from crm_tui.services import search

    if not db.is_sqlite:
        pytest.skip("the row-by-row plan is SQLite's (FTS5); PostgreSQL searches with pg_trgm")
    monkeypatch.setattr(search, "COMMON_HITS", 5)
    queries = ["son", "ing", "com", "gmail", "co"]
    with db.read() as session:
        walked = [[r.id for r in contacts.list_contacts(session, query=q, limit=20).items] for q in queries]
        common = [search._all_common(session, search.words(q)) for q in queries]
    monkeypatch.setattr(search, "_all_common", lambda session, terms: False)
    with db.read() as session:
        gathered = [[r.id for r in contacts.list_contacts(session, query=q, limit=20).items] for q in queries]
    assert walked == gathered
    assert any(common) and sum(map(len, walked)) > 40


def test_lost_reasons_are_the_pickers_and_addresses_match_their_city(db, loaded):
    """Issue 20: the report grouped "No budget" and the demo's "No budget this year" apart, and an
    address read "Rue de Rivoli, San Francisco"."""
    with db.read() as session:
        picker = set(pipelines.list_lost_reasons(session))
        used = set(session.scalars(select(Deal.lost_reason).where(Deal.lost_reason.is_not(None))))
        addresses = list(session.scalars(select(Company.address)))
    assert used and used <= picker
    streets = {street: country for country, names in demo.STREETS.items() for street in names}
    countries = {city: country for city, country in demo.CITIES}
    for address in addresses:
        street = next(s for s in streets if f" {s}, " in address)
        city = address.split(", ", 1)[1]
        assert streets[street] == countries[city], address
