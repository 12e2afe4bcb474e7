"""Hostile values (issue 16 items 10-12, issue 17 item 12): amounts, dates, ids, durations and
bytes that are not UTF-8. Each family is a table; a new case is one more row.

- AMOUNTS go through the one parser on every path: the service, `crm deal add --amount`, and
  `crm import deals` (on SQLite and PostgreSQL), in the user's locale.
- DATES are kept to the years 1900-2200 at entry, in two zones; a stored 9999 still lists.
- IDS past 2^63 (and other non-ids) get one line, on the CLI and in the services.
- DURATIONS are kept to a week, on the CLI, in the service and through import.
- NON_UTF8 arguments, passed as bytes to the real `crm` console script, get one line.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Task
from crm_tui.services import activities, contacts, deals, tasks
from crm_tui.services import validation as v
from crm_tui.services.dates import parse_day, parse_when
from tests.cli.conftest import Crm, row_counts

BIG = str(2**63)  # one past the largest id or integer a BIGINT holds
AUCKLAND = "Pacific/Auckland"  # east of UTC: where 9999-12-31 23:59 UTC has no local time
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def sqlite_crm(tmp_path, sqlite_template) -> Crm:
    """For input refused before the database matters: one backend is enough."""
    return Crm(f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'crm.db')}")


def _locale(monkeypatch, name: str | None) -> None:
    if name:
        monkeypatch.setenv("CRM_LOCALE", name)
    else:
        monkeypatch.delenv("CRM_LOCALE", raising=False)


# --- amounts ----------------------------------------------------------------------------------------

# (text, currency, locale, minor units it means, or the words of the error that refuses it)
AMOUNTS = [
    ("12,500.50", "USD", None, 1_250_050),
    ("$12,500.50", "USD", None, 1_250_050),
    ("12500", "USD", None, 1_250_000),
    ("1 200", "USD", None, 120_000),  # a space groups thousands anywhere
    ("900 USD", "USD", None, 90_000),
    ("€1.234,50", "EUR", None, 123_450),  # both marks: the last one is the decimal mark
    ("1,234", "USD", None, 123_400),
    ("1.5", "USD", None, 150),
    ("0", "USD", None, 0),
    ("1e309", "USD", None, "exponents are not supported"),
    ("1.5e3", "USD", None, "exponents are not supported"),
    ("12k", "USD", None, "suffixes such as 'k' are not supported"),
    ("$1.2M", "USD", None, "suffixes such as 'M' are not supported"),
    ("(500)", "USD", None, "must not be negative"),
    ("-5", "USD", None, "must not be negative"),
    ("1,5", "USD", None, "invalid amount '1,5'"),  # en_US: a comma groups thousands
    ("12,34,5", "USD", None, "invalid amount '12,34,5'"),
    ("12,5,00", "USD", None, "invalid amount '12,5,00'"),  # issue 17 item 12
    ("1.2.3", "USD", None, "invalid amount"),
    ("NaN", "USD", None, "invalid amount 'NaN'"),
    ("inf", "USD", None, "invalid amount 'inf'"),
    ("12abc", "USD", None, "invalid amount '12abc'"),
    ("900 EUR", "USD", None, "is in EUR, not USD"),
    ("10.001", "USD", None, "at most 2 decimal places"),
    ("1" * 20, "USD", None, "too large"),
    ("1,5", "EUR", "de_DE", 150),  # the locale's decimal comma
    ("12.500,50", "EUR", "de_DE", 1_250_050),
    ("1.234", "EUR", "de_DE", 123_400),
    ("12,5,00", "EUR", "de_DE", "invalid amount '12,5,00'"),
    ("12 500,50", "EUR", "fr_FR", 1_250_050),
    ("1,00,000", "INR", "en_IN", 10_000_000),  # lakh grouping where the locale uses it
]


def _amount_id(case) -> str:
    return f"{case[0]}|{case[2] or 'en_US'}"


@pytest.mark.parametrize("text, currency, locale, expected", AMOUNTS, ids=[_amount_id(c) for c in AMOUNTS])
def test_the_amount_parser_reads_exactly_or_refuses(text, currency, locale, expected):
    where = {"locale": locale} if locale else {}
    if isinstance(expected, int):
        assert v.money(text, currency, **where) == expected
    else:
        with pytest.raises(InvalidInput, match=expected.replace("(", r"\(").replace(")", r"\)")):
            v.money(text, currency, **where)


def _cli_amount(crm: Crm, text, currency, expected, title):
    if isinstance(expected, int):
        deal = crm.json("deal", "add", title, "--amount", text, "--currency", currency)
        assert deal["amount_minor"] == expected, (text, deal["amount_minor"])
    else:
        result = crm.fails("deal", "add", title, "--amount", text, "--currency", currency, code=2)
        assert expected in result.stderr, (text, result.stderr)


def _by_locale():
    for locale in sorted({c[2] or "" for c in AMOUNTS}):
        yield locale, [c for c in AMOUNTS if (c[2] or "") == locale]


def test_amounts_on_the_cli(crm, db_url, monkeypatch):
    """Every row of AMOUNTS through `deal add --amount`, in its locale (CRM_LOCALE)."""
    crm.ok("user", "list")  # ann, the first user, becomes the admin
    for locale, cases in _by_locale():
        _locale(monkeypatch, locale or None)
        before = row_counts(db_url)["deals"]
        for i, (text, currency, _, expected) in enumerate(cases):
            _cli_amount(crm, text, currency, expected, f"cli {locale} {i}")
        assert row_counts(db_url)["deals"] == before + sum(isinstance(c[3], int) for c in cases)


def test_amounts_through_import(crm, db_url, tmp_path, monkeypatch):
    """Every row of AMOUNTS as a cell of `crm import deals`: read as the CLI reads it."""
    crm.ok("user", "list")
    for locale, cases in _by_locale():
        _locale(monkeypatch, locale or None)
        path = tmp_path / f"deals-{locale or 'default'}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["Title", "Amount", "Currency"])
            writer.writerows([f"imp {locale} {i}", text, currency] for i, (text, currency, _, _) in enumerate(cases))
        report = crm.json("import", "deals", str(path), "--skip-invalid")
        with sa.create_engine(db_url).connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT title, amount_minor FROM deals WHERE title LIKE :p"),
                                       {"p": f"imp {locale} %"}).all())
        refused = json.dumps(report, ensure_ascii=False)
        for i, (text, _, _, expected) in enumerate(cases):
            assert stored.get(f"imp {locale} {i}") == (expected if isinstance(expected, int) else None), text
            assert isinstance(expected, int) or expected in refused, (text, refused)


def test_the_deal_service_refuses_what_the_parser_refuses(db, actor, now):
    with db.write() as session:
        for text, currency, locale, expected in AMOUNTS:
            data = {"title": "svc", "amount": text, "currency": currency}
            if isinstance(expected, int):
                deal = deals.create_deal(session, data=data, actor=dataclasses.replace(actor, locale=locale), now=now)
                assert deal.amount_minor == expected
            else:
                with pytest.raises(InvalidInput):
                    deals.create_deal(session, data=data, actor=actor, now=now)


# --- dates ------------------------------------------------------------------------------------------

# (text, whether it is taken) in each of two zones: the bounds are the years 1900 and 2200
DATES = [
    ("1900-01-01 00:00", True),
    ("2200-12-31 23:59", True),
    ("1899-12-31 23:59", False),
    ("2201-01-01 00:00", False),
    ("9999-12-31 23:59", False),
    ("0001-01-01", False),
    ("+300y", False),
    ("300 years ago", False),
]
ZONES = ["UTC", AUCKLAND]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("text, taken", DATES, ids=[c[0] for c in DATES])
def test_dates_are_kept_to_1900_through_2200(text, taken, zone):
    tz = ZoneInfo(zone)
    if taken:
        assert parse_when(text, now=NOW, zone=tz).astimezone(tz).year in (1900, 2200)
        assert parse_day(text, now=NOW, zone=tz).year in (1900, 2200)
    else:
        for parse in (parse_when, parse_day):
            with pytest.raises(InvalidInput, match="out of range: use a year from 1900 to 2200"):
                parse(text, now=NOW, zone=tz)


def _far(session, actor, *, kind):
    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)
    if kind == "task":
        tasks.create_task(session, data={"title": "far", "due_at": far}, actor=actor, now=NOW)
    elif kind == "activity":
        ada = contacts.create_contact(session, data={"first_name": "Ada"}, actor=actor, now=NOW)
        activities.log_activity(session, data={"kind": "note", "contact_id": ada.id, "occurred_at": far},
                                actor=actor, now=NOW)
    else:
        deals.create_deal(session, data={"title": "far", "expected_close": date(9999, 12, 31)}, actor=actor, now=NOW)


@pytest.mark.parametrize("kind", ["task", "activity", "deal"])
def test_services_refuse_far_dates_passed_directly(db, actor, kind):
    with db.write() as session, pytest.raises(InvalidInput, match="out of range"):
        _far(session, actor, kind=kind)


@pytest.mark.parametrize("zone", ZONES)
def test_task_due_dates_on_the_cli_and_through_import(sqlite_crm, tmp_path, zone):
    """Every row of DATES through `task add --due` and `import tasks`, in one database per zone."""
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "config.toml").write_text(f'timezone = "{zone}"\n', encoding="utf-8")
    for text, taken in DATES:
        if taken:
            task = sqlite_crm.json("task", "add", "t", "--due", text)
            assert task["due_at"][:4] in ("1899", "1900", "2200", "2201"), text  # UTC: a day either side
        else:
            result = sqlite_crm.fails("task", "add", "t", "--due", text, code=2)
            assert "out of range" in result.stderr, text
        path = tmp_path / "tasks.csv"
        path.write_text(f"Title,Due\nt,{text}\n", encoding="utf-8")
        result = sqlite_crm("import", "tasks", str(path))
        assert (result.exit_code == 0) == taken, (text, result.output)
        assert taken or "out of range: use a year from 1900 to 2200" in result.output, text


def test_a_stored_far_date_lists_east_of_utc(crm, db_url, tmp_path):
    """An older row (or a direct SQL write) holding 9999-12-31 23:59 UTC lists for everyone,
    in every zone: the CLI's task list, and the times the app writes (widgets/fmt, the board)."""
    from crm_tui.widgets import fmt
    from crm_tui.widgets.kanban import short_when

    crm.ok("task", "add", "far", "--due", "2030-01-01 09:00")
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.update(Task).values(due_at=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc),
                                            snoozed_until=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)))
    engine.dispose()
    (tmp_path / "config").mkdir(exist_ok=True)
    for zone in ZONES:
        (tmp_path / "config" / "config.toml").write_text(f'timezone = "{zone}"\n', encoding="utf-8")
        listed = crm.ok("task", "list", "--status", "all").stdout
        assert "far" in listed and "9999-12-31" in listed
        tz = ZoneInfo(zone)
        far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)
        assert fmt.stamp(far, tz).startswith("9999-12-31")
        assert fmt.when(far, NOW, tz).startswith("9999-12-31")
        assert short_when(far, NOW, tz) == "Dec 31"


# --- ids --------------------------------------------------------------------------------------------

# (command, the words of the one-line error)
IDS = [
    (["deal", "show", BIG], f"bad id '{BIG}'"),
    (["deal", "show", "0"], "bad id '0'"),
    (["deal", "show", "²"], "bad id '²'"),  # a digit to str.isdigit, not to int()
    (["deal", "show", str(2**63 - 1)], f"no deal with id {2**63 - 1}"),
    (["deal", "show", str(2**31)], f"no deal with id {2**31}"),  # past PostgreSQL's INTEGER ids
    (["deal", "edit", str(2**31), "--amount", "5"], f"no deal with id {2**31}"),
    (["task", "done", str(2**31)], f"no task with id {2**31}"),
    (["task", "add", "t", "--deal", str(2**31)], f"no deal with id {2**31}"),
    (["log", "note", "--deal", str(2**31)], f"no deal with id {2**31}"),
    (["contact", "show", str(2**31)], f"no contact with id {2**31}"),
    (["deal", "list", "--owner", str(2**31)], f"no user '{2**31}'"),
    (["deal", "list", "--pipeline", str(2**31)], f"no pipeline with id {2**31}"),
    (["audit", "--record", f"deal:{BIG}"], f"record 'deal:{BIG}'"),
    (["deal", "edit", BIG, "--title", "x"], f"bad id '{BIG}'"),
    (["deal", "won", BIG], f"bad id '{BIG}'"),
    (["task", "done", BIG], f"bad id '{BIG}'"),
    (["task", "add", "t", "--deal", BIG], f"bad id '{BIG}'"),
    (["log", "note", "--deal", BIG], f"bad id '{BIG}'"),
    (["contact", "show", BIG], f"no contact with id {BIG}"),
    (["company", "show", BIG], f"no company with id {BIG}"),
    (["deal", "add", "x", "--contact", BIG], f"no contact with id {BIG}"),
    (["deal", "add", "x", "--owner", BIG], f"no user '{BIG}'"),
    (["deal", "list", "--pipeline", BIG], f"no pipeline with id {BIG}"),
    (["audit", "--entity", "deal", "--id", BIG], f"bad id '{BIG}'"),
]


def test_ids_past_what_a_bigint_holds_get_one_line(crm, db_url):
    """Every row of IDS, in one database per backend: one line, and nothing written."""
    crm.ok("user", "list")
    for args, message in IDS:
        before = row_counts(db_url)
        result = crm.fails(*args)
        assert message in result.stderr, (args, result.stderr)
        assert row_counts(db_url) == before, args


@pytest.mark.parametrize("args", [["audit", "--entity", "deal", "--id", str(2**31)],
                                  ["audit", "--record", f"contact:{2**31}"]])
def test_the_audit_of_an_id_past_an_integer_column_is_empty_not_a_database_error(crm, args):
    """The audit's entity_id is an INTEGER on PostgreSQL: an id past 2^31-1 matches no event."""
    crm.ok("contact", "add", "--first", "Ada")
    assert crm.ok(*args, "--json").stdout.count('"entity_id"') == 0


def test_services_find_nothing_for_ids_past_a_bigint(db, actor):
    with db.read() as session:
        for lookup in (lambda: deals.get_deal(session, deal_id=2**63), lambda: contacts.find_contact(session, BIG),
                       lambda: contacts.get_contact(session, contact_id=-1)):
            with pytest.raises(NotFound):
                lookup()


# --- durations --------------------------------------------------------------------------------------

# (minutes as typed, whether they are taken)
DURATIONS = [("0", True), ("10080", True), ("10081", False), (BIG, False), ("9" * 30, False)]


def test_durations_are_kept_to_a_week(crm, db_url, tmp_path):
    """Every row of DURATIONS through `log call --duration` and `import activities`, in one database
    (each row's imported call on a day of its own: the import skips a call it already holds)."""
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com")
    for day, (minutes, taken) in enumerate(DURATIONS, start=10):
        before = row_counts(db_url)["activities"]
        if taken:
            crm.ok("log", "call", "--contact", "ann@example.com", "--duration", minutes)
        else:
            result = crm.fails("log", "call", "--contact", "ann@example.com", "--duration", minutes, code=2)
            assert "out of range: give minutes from 0 to 10080" in result.stderr, minutes
        path = tmp_path / "activities.csv"
        path.write_text(f"Type,Contact,Date,Duration\ncall,ann@example.com,2026-11-{day} 10:00,{minutes}\n",
                        encoding="utf-8")
        result = crm("import", "activities", str(path))
        assert (result.exit_code == 0) == taken, (minutes, result.output)
        assert row_counts(db_url)["activities"] == before + (2 if taken else 0), minutes


def test_the_activity_service_bounds_durations(db, actor):
    with db.write() as session:
        ada = contacts.create_contact(session, data={"first_name": "Ada"}, actor=actor, now=NOW)
        for minutes in (-1, 2**63, 10**30):
            with pytest.raises(InvalidInput, match="out of range|must not be negative"):
                activities.log_activity(session, data={"kind": "call", "contact_id": ada.id,
                                                       "duration_minutes": minutes}, actor=actor, now=NOW)


# --- arguments that are not UTF-8 -------------------------------------------------------------------

# the arguments after `crm --db URL --user ann`, as bytes
NON_UTF8 = [
    [b"contact", b"add", b"--first", b"\xff"],
    [b"contact", b"add", b"--first", b"caf\xe9", b"--last", b"x"],  # Latin-1, not UTF-8
    [b"deal", b"add", b"\xff\xfe"],
    [b"company", b"add", b"Acme\x80"],
]


@pytest.mark.slow
def test_arguments_that_are_not_utf8_get_one_line(db_url):
    """The first row of NON_UTF8 goes to the real `crm` console script as bytes (the process
    boundary: the OS hands them over, Python makes them lone surrogates); the other rows go to the
    same command in this process as Python hands them over (surrogateescape), one process less each."""
    crm = Path(sys.executable).with_name("crm")
    env = {**os.environ, "PYTHONUTF8": "0", "LC_ALL": "C.UTF-8"}
    runner = Crm(db_url)
    runner.ok("user", "list")
    for number, args in enumerate(NON_UTF8):
        before = row_counts(db_url)
        if number == 0:
            result = subprocess.run([os.fsencode(crm), b"--db", db_url.encode(), b"--user", b"ann", *args],
                                    capture_output=True, env=env, timeout=60)
            code, err = result.returncode, result.stderr.decode("utf-8", "replace")
        else:
            result = runner(*(arg.decode("utf-8", "surrogateescape") for arg in args))
            code, err = result.exit_code, result.stderr
        err = err.strip().splitlines()
        assert code == 2, (args, err)
        assert len(err) == 1 and err[0].startswith("error: argument ") and "is not UTF-8 text" in err[0], (args, err)
        assert row_counts(db_url) == before, args


def test_amount_text_round_trips_in_each_locale():
    from crm_tui.services.money import input_text, parse_amount

    for locale in ("en_US", "de_DE", "fr_FR", "de_CH", "en_IN"):
        for minor in (0, 5, 1_250_050, 123_456_789_012):
            assert parse_amount(input_text(minor, "USD", locale=locale), "USD", locale=locale) == minor



# --- the app's forms --------------------------------------------------------------------------------

# (form, the fields typed, the words of the error the form shows): the forms call the same services
FORMS = [
    ("deal", {"title": "x", "amount": "12k"}, "suffixes such as 'k' are not supported"),
    ("deal", {"title": "x", "amount": "1e309"}, "exponents are not supported"),
    ("deal", {"title": "x", "amount": "(500)"}, "must not be negative"),
    ("deal", {"title": "x", "expected_close": "9999-12-31"}, "out of range"),
    ("task", {"title": "t", "due": "9999-12-31 23:59"}, "out of range"),
    ("log", {"subject": "s", "duration": BIG}, "duration 9223372036854775808 is out of range"),
]


async def test_the_app_forms_refuse_the_same_values(db, db_url, actor):
    """Every row of FORMS in one app per backend: each form opens anew over the app's first screen,
    refuses, stays open, and writes nothing."""
    from crm_tui.screens.forms import DealForm, LogActivityForm, TaskForm
    from tests.tui.test_forms import Host, error_text, fill, settle

    with db.write() as session:
        ada = contacts.create_contact(session, data={"first_name": "Ada"}, actor=actor, now=NOW)
    forms = {"deal": lambda: DealForm(), "task": lambda: TaskForm(contact_id=ada.id),
             "log": lambda: LogActivityForm(contact_id=ada.id)}
    before = row_counts(db_url)
    first = forms[FORMS[0][0]]()
    app = Host(db, actor, NOW, first)
    async with app.run_test(size=(80, 24)) as pilot:
        for number, (form, fields, message) in enumerate(FORMS):
            screen = first if number == 0 else forms[form]()
            if number:
                app.push_screen(screen, callback=app.results.append)
            await settle(app, pilot)
            assert app.screen is screen, form
            fill(app.screen, **fields)
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert app.screen is screen, (form, fields)
            assert message in error_text(app.screen), (form, fields, error_text(app.screen))
            assert app.results == [], (form, fields)
            app.pop_screen()
    assert app.results == []
    assert row_counts(db_url) == before


async def test_the_inbox_shows_a_stored_far_date_east_of_utc(tmp_path, sqlite_template):
    """The app's Inbox, for a user in Auckland, over rows that hold 9999-12-31 23:59 UTC (due,
    snoozed until, done at): each section draws, on SQLite (the screen, not the backend, is tested)."""
    from crm_tui.db import open_database
    from crm_tui.screens.inbox.screen import InboxScreen
    from crm_tui.services import users
    from tests.tui.conftest import make_app, settle

    db = open_database(f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'crm.db')}")
    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)
    try:
        with db.write() as session:
            actor = users.actor_for(session, login="ann", now=NOW)
            for title in ("due far", "snoozed far", "done far"):
                tasks.create_task(session, data={"title": title, "due_at": "+1d"}, actor=actor, now=NOW)
        with db.write() as session:
            session.execute(sa.update(Task).where(Task.title == "due far").values(due_at=far))
            session.execute(sa.update(Task).where(Task.title == "snoozed far").values(snoozed_until=far))
            session.execute(sa.update(Task).where(Task.title == "done far").values(done_at=NOW, due_at=far))
        app = make_app(db, dataclasses.replace(actor, timezone=AUCKLAND), NOW)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(app, pilot)
            await pilot.press("4")
            await settle(app, pilot)
            assert isinstance(app.screen, InboxScreen)
            seen = set()
            for section in ("upcoming", "snoozed", "done"):
                app.screen.show_section(section)
                await settle(app, pilot)
                seen |= {t.title for t in app.screen.table.visible_rows()}
            assert {"snoozed far", "done far"} <= seen  # "due far" is past the Upcoming window
            assert app.return_code is None and isinstance(app.screen, InboxScreen)
    finally:
        db.dispose()
