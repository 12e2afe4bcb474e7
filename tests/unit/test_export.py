"""Exports: CSV, JSON and vCard round trips into an empty database through the importer (the
same records come back), the iCalendar file parses with icalendar, and exports stream by pages."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import timedelta

import pytest

from crm_tui.db import open_database
from crm_tui.services import activities, companies, contacts, deals, export, tasks, users
from crm_tui.services.common import system_actor
from crm_tui.services.importing import ImportOptions, run_import
from crm_tui.services.importing.read import open_source
from crm_tui.services.vcard import read_contacts

ORDER = ("companies", "contacts", "deals", "activities", "tasks")
# the reading and writing of files is the same on both backends; the round trip of every kind
# (CSV) and the calendar's queries run on both
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def empty_db(db, tmp_path, sqlite_template, request):
    """A second clean database on the same backend as `db`."""
    if db.is_sqlite:
        path = tmp_path / "empty.db"
        shutil.copy(sqlite_template, path)
        other = open_database(f"sqlite:///{path}")
        yield other
        other.dispose()
        return
    pool = request.getfixturevalue("pg_pool")  # a second database from this worker's pool (tests/conftest.py)
    name = pool.acquire()
    other = open_database(pool.url(name))
    yield other
    other.dispose()
    pool.release(name)


@pytest.fixture
def filled(db, actor, now):
    """A small CRM with every kind of link, list and odd character an export must carry."""
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "name": "Bob Stone"}, actor=actor, now=now).id
        acme = companies.create_company(s, data={"name": "Acme, Inc.", "domain": "acme.com", "industry": "Tools",
                                                 "notes": "line one\nline \"two\""}, actor=actor, now=now).id
        companies.create_company(s, data={"name": "Globex", "owner_id": bob}, actor=actor, now=now)
        ann = contacts.create_contact(s, data={
            "first_name": "Ann", "last_name": "Lee-Ñúñez", "emails": ["ann@acme.com", "ann@home.org"],
            "phones": ["+14155552671"], "title": "CTO", "company_id": acme, "lifecycle": "customer",
            "source": "referral", "tags": ["vip", "golf club"], "custom": {"linkedin": "ann-lee"}},
            actor=actor, now=now).id
        carl = contacts.create_contact(s, data={"first_name": "Carl", "emails": ["carl@globex.com"],
                                                "owner_id": bob, "custom": {"shoe": "42"}}, actor=actor, now=now).id
        won = deals.create_deal(s, data={"title": "Acme renewal", "amount": "12,500.50", "contact_id": ann,
                                         "expected_close": "2026-12-15"}, actor=actor, now=now).id
        deals.mark_won(s, deal_id=won, actor=actor, now=now)
        deals.create_deal(s, data={"title": "Globex pilot", "amount": 900, "currency": "EUR", "owner_id": bob},
                          actor=actor, now=now)
        activities.log_activity(s, data={"kind": "meeting", "subject": "Kick-off", "body": "Agenda, notes",
                                         "contact_id": ann, "deal_id": won, "duration_minutes": 45,
                                         "occurred_at": now + timedelta(days=2)}, actor=actor, now=now)
        activities.log_activity(s, data={"kind": "call", "subject": "Intro", "contact_id": carl,
                                         "direction": "outbound", "outcome": "left message",
                                         "occurred_at": now - timedelta(days=3)}, actor=actor, now=now)
        tasks.create_task(s, data={"title": "Send contract", "contact_id": ann, "deal_id": won,
                                   "due_at": now + timedelta(days=1), "notes": "PDF"}, actor=actor, now=now)
        done = tasks.create_task(s, data={"title": "Call Carl", "contact_id": carl, "assignee_id": bob,
                                          "due_at": now - timedelta(days=1)}, actor=actor, now=now).id
        tasks.complete_task(s, task_id=done, actor=actor, now=now)
    return {"ann": ann, "carl": carl, "bob": bob}


def _export(db, entity: str, fmt: str = "csv", **flt) -> str:
    out = io.StringIO()
    with db.read() as s:
        export.snapshot(s)
        writer = {"csv": export.write_csv, "json": export.write_json}[fmt]
        writer(s, entity, out, actor=system_actor(), flt=export.ExportFilter(**flt) if flt else None)
    return out.getvalue()


def _import(db, actor, now, entity: str, path, **options) -> None:
    with db.write() as s:
        report = run_import(s, path=path, actor=actor, now=now,
                            options=ImportOptions(entity=entity, create_users=True, **options))
    assert report.invalid == 0 and not report.problems, report.problems


def _actor_in(db, now):
    with db.write() as s:
        return users.actor_for(s, login="ann", now=now)


def test_csv_round_trip_into_an_empty_database(db, empty_db, filled, actor, now, tmp_path):
    target_actor = _actor_in(empty_db, now)
    for entity in ORDER:
        text = _export(db, entity)
        path = tmp_path / f"{entity}.csv"
        path.write_text(text, encoding="utf-8")
        _import(empty_db, target_actor, now, entity, path)
    for entity in ORDER:
        assert _export(empty_db, entity) == _export(db, entity), entity


@sqlite_only
def test_json_holds_the_csv_records_and_round_trips(db, empty_db, filled, actor, now, tmp_path):
    for entity in ORDER:
        items = json.loads(_export(db, entity, "json"))
        rows = list(csv.DictReader(io.StringIO(_export(db, entity))))
        assert len(items) == len(rows) > 0
        for item, row in zip(items, rows, strict=True):
            assert {k: export._cell(v) for k, v in item.items() if k != "id"} == row
    contacts_json = json.loads(_export(db, "contacts", "json"))
    assert contacts_json[0]["email"] == ["ann@acme.com", "ann@home.org"] and contacts_json[0]["id"] == filled["ann"]
    target_actor = _actor_in(empty_db, now)
    for entity in ORDER:
        path = tmp_path / f"{entity}.json"
        path.write_text(_export(db, entity, "json"), encoding="utf-8")
        assert open_source(path).kind == "json"
        _import(empty_db, target_actor, now, entity, path)
    for entity in ORDER:
        assert _export(empty_db, entity) == _export(db, entity), entity


@sqlite_only
def test_vcard_round_trip(db, empty_db, filled, actor, now, tmp_path):
    path = tmp_path / "contacts.vcf"
    with db.read() as s, open(path, "w", encoding="utf-8", newline="") as fh:
        assert export.write_vcards(s, fh, actor=system_actor()) == 2
    cards = list(read_contacts(path))
    assert cards[0]["email"] == ["ann@acme.com", "ann@home.org"] and cards[0]["company"] == "Acme, Inc."
    assert cards[0]["last_name"] == "Lee-Ñúñez" and cards[0]["tags"] == ["golf club", "vip"]
    target_actor = _actor_in(empty_db, now)
    companies_csv = tmp_path / "companies.csv"
    companies_csv.write_text(_export(db, "companies"), encoding="utf-8")
    _import(empty_db, target_actor, now, "companies", companies_csv)
    _import(empty_db, target_actor, now, "contacts", path)
    assert _export(empty_db, "contacts") == _export(db, "contacts")


def test_ics_parses_with_icalendar_and_narrows_by_user_and_open(db, filled, actor, now):
    from icalendar import Calendar

    def ics(**flt):
        out = io.StringIO()
        with db.read() as s:
            export.write_ics(s, out, actor=system_actor(), flt=export.ExportFilter(now=now, **flt), now=now)
        return Calendar.from_ical(out.getvalue())

    cal = ics()
    todos, events = cal.walk("VTODO"), cal.walk("VEVENT")
    assert sorted(str(t["summary"]) for t in todos) == ["Call Carl", "Send contract"]
    send = next(t for t in todos if str(t["summary"]) == "Send contract")
    assert send.decoded("due") == now + timedelta(days=1) and str(send["status"]) == "NEEDS-ACTION"
    assert send.walk("VALARM")[0].decoded("trigger") == now + timedelta(days=1)
    done = next(t for t in todos if str(t["summary"]) == "Call Carl")
    assert str(done["status"]) == "COMPLETED"
    assert [str(e["summary"]) for e in events] == ["Kick-off"]  # meetings only, not the call
    assert events[0].decoded("dtend") - events[0].decoded("dtstart") == timedelta(minutes=45)

    open_only = ics(open_only=True)
    assert [str(t["summary"]) for t in open_only.walk("VTODO")] == ["Send contract"]
    assert len(open_only.walk("VEVENT")) == 1  # the meeting is still to come
    bobs = ics(user_id=filled["bob"])
    assert [str(t["summary"]) for t in bobs.walk("VTODO")] == ["Call Carl"] and not bobs.walk("VEVENT")


@sqlite_only
def test_records_come_a_page_at_a_time(db, filled, monkeypatch):
    seen = []
    original = export._contact_page

    def spy(session, last, n, flt):
        rows = original(session, last, n, flt)
        seen.append((last, len(rows)))
        return rows
    monkeypatch.setattr(export, "_contact_page", spy)
    with db.read() as s:
        got = [r["id"] for r in export.records(s, "contacts", page=1)]
    assert got == [filled["ann"], filled["carl"]]
    assert seen == [(0, 1), (filled["ann"], 1), (filled["carl"], 0)]


def test_formats_and_kinds_are_checked():
    from crm_tui.errors import InvalidInput

    assert export.check("Contacts", "VCF") == ("contacts", "vcf")
    for entity, fmt in (("deals", "vcf"), ("contacts", "ics"), ("users", "csv"), ("tasks", "xml")):
        with pytest.raises(InvalidInput):
            export.check(entity, fmt)
