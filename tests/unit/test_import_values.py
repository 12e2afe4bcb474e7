"""Import cell values and header mapping: dates (ambiguous ones refused), amounts, names, headers."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from crm_tui.errors import InvalidInput
from crm_tui.services.importing import values as iv
from crm_tui.services import validation as v
from crm_tui.services.importing.fields import build_mapping, detect_field

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("text", "currency", "expected"), [
    ("$12,500.50", "USD", 1250050), ("12.500,50 €", "EUR", 1250050), ("1 200", "USD", 120000),
    ("EUR 900", "EUR", 90000), ("1,234", "USD", 123400), ("1.234.567,00", "EUR", 123456700), ("900", "USD", 90000),
    ("£1,000,000", "GBP", 100000000),
])
def test_amounts_lose_symbols_and_thousands_separators(text, currency, expected):
    # read by the one amount parser (services/money.py) that the CLI and the app use too
    assert v.money(text, currency) == expected


def test_amounts_name_their_currency():
    assert [iv.currency_in(t) for t in ("€1.200", "1200 EUR", "$5", "900", "abc")] == ["EUR", "EUR", "USD", None, None]


@pytest.mark.parametrize(("text", "dayfirst", "expected"), [
    ("2026-04-03", None, date(2026, 4, 3)),
    ("2026-04-03", True, date(2026, 4, 3)),  # ISO stays ISO with --dayfirst
    ("13/04/2026", None, date(2026, 4, 13)),  # only day-first makes sense
    ("04/13/2026", None, date(2026, 4, 13)),  # only month-first makes sense
    ("03/04/2026", True, date(2026, 4, 3)),
    ("03/04/2026", False, date(2026, 3, 4)),
    ("05/05/2026", None, date(2026, 5, 5)),  # the same either way
    ("Nov 3, 2026", None, date(2026, 11, 3)),
])
def test_dates_in_either_order(text, dayfirst, expected):
    assert iv.day(text, dayfirst=dayfirst, zone=timezone.utc, now=NOW) == expected


def test_an_ambiguous_date_is_refused_not_guessed():
    with pytest.raises(InvalidInput, match="ambiguous date '03/04/2026'.*--dayfirst"):
        iv.day("03/04/2026", dayfirst=None, zone=timezone.utc, now=NOW)


def test_a_date_that_contradicts_the_order_given_is_refused():
    with pytest.raises(InvalidInput, match="not day-first"):
        iv.day("04/13/2026", dayfirst=True, zone=timezone.utc, now=NOW)
    with pytest.raises(InvalidInput, match="invalid date"):
        iv.day("31/31/2026", dayfirst=None, zone=timezone.utc, now=NOW)


# (text, --dayfirst/--monthfirst, the importer's date_order, expected): the file's flag wins; else the
# user's order; a value only one order reads is read so whatever the setting (issue 17 #11)
@pytest.mark.parametrize(("text", "dayfirst", "order", "expected"), [
    ("03/04/2026", None, "dmy", date(2026, 4, 3)),
    ("03/04/2026", None, "mdy", date(2026, 3, 4)),
    ("03/04/2026", False, "dmy", date(2026, 3, 4)),  # --monthfirst overrides date_order
    ("03/04/2026", True, "mdy", date(2026, 4, 3)),  # --dayfirst overrides date_order
    ("13/04/2026", None, "mdy", date(2026, 4, 13)),
    ("04/13/2026", None, "dmy", date(2026, 4, 13)),
    ("2026-04-03", None, "dmy", date(2026, 4, 3)),
])
def test_dates_follow_the_flag_then_the_date_order(text, dayfirst, order, expected):
    assert iv.day(text, dayfirst=dayfirst, zone=timezone.utc, now=NOW, order=order) == expected


def test_the_ambiguity_error_names_the_flags_and_the_setting():
    with pytest.raises(InvalidInput, match=r"--dayfirst or --monthfirst, or set date_order \(dmy or mdy\)"):
        iv.day("03/04/2026", dayfirst=None, zone=timezone.utc, now=NOW)


@pytest.mark.parametrize(("text", "team", "expected"), [
    # a day without a time is the team's day, whatever zone the importer is in
    ("2026-12-31", "Pacific/Auckland", date(2026, 12, 31)),
    ("2026-12-31", "America/Los_Angeles", date(2026, 12, 31)),
    # a time typed is the importer's (UTC here): 23:30 UTC on the 31st is 1 January in Auckland
    ("2026-12-31 23:30", "Pacific/Auckland", date(2027, 1, 1)),
])
def test_a_date_cell_is_the_teams_calendar_day(text, team, expected):
    from zoneinfo import ZoneInfo

    assert iv.day(text, dayfirst=None, zone=timezone.utc, now=NOW, day_zone=ZoneInfo(team)) == expected
    moment = iv.moment(text, dayfirst=None, zone=timezone.utc, now=NOW, day_zone=ZoneInfo(team))
    assert moment.astimezone(ZoneInfo(team)).date() == expected


def test_names_emails_phones_and_flags():
    assert iv.split_name("Lee, Ann") == ("Ann", "Lee")
    assert iv.split_name("Mary Ann Lee") == ("Mary Ann", "Lee")
    assert iv.split_name("Cher") == ("Cher", "")
    assert iv.email(" Ann.Lee@Example.COM ") == "ann.lee@example.com"
    with pytest.raises(InvalidInput):
        iv.email("ann@@example.com")
    assert iv.phone("+14155552671", None) == "+14155552671"
    assert iv.phone("(415) 555-2671", "US") == "+14155552671"
    assert iv.flag("Completed") is True and iv.flag("open") is False


@pytest.mark.parametrize(("header", "field"), [
    ("First Name", "first_name"), ("first_name", "first_name"), ("Given name", "first_name"),
    ("E-mail", "email"), ("Email Address", "email"), ("Company", "company"), ("Account", "company"),
    ("Organization", "company"), ("Phone", "phone"), ("Mobile", "phone"), ("Owner", "owner"),
    ("Sales agent", "owner"), ("Favourite colour", None),
])
def test_contact_headers_are_recognised(header, field):
    assert detect_field("contacts", header) == field


@pytest.mark.parametrize(("header", "field"), [
    ("Stage", "stage"), ("Deal stage", "stage"), ("Amount", "amount"), ("Value", "amount"),
    ("Close date", "close_date"), ("Deal Name", "title"), ("Sales agent", "owner"),
])
def test_deal_headers_are_recognised(header, field):
    assert detect_field("deals", header) == field


def test_map_set_and_custom_change_the_detected_mapping():
    headers = ["Name", "Mail", "Colour", "Notes"]
    mapping = build_mapping("contacts", headers, overrides=[("Mail", "email"), ("Notes", "")],
                            constants=[("source", "event")], custom=True)
    assert [(c.column, c.field, c.how) for c in mapping.columns] == [
        ("Name", "full_name", "detected"), ("Mail", "email", "--map"), ("Colour", "custom.Colour", "custom"),
        ("Notes", None, "skipped")]
    assert mapping.constants == (("source", "event"),)
    with pytest.raises(InvalidInput, match="no field 'colour'"):
        build_mapping("contacts", headers, overrides=[("Colour", "colour")])
    with pytest.raises(InvalidInput, match="no column 'Nope'"):
        build_mapping("contacts", headers, overrides=[("Nope", "email")])
    with pytest.raises(InvalidInput, match="tasks have no custom fields"):
        build_mapping("tasks", ["Title"], overrides=[("Title", "custom.x")])


def test_custom_columns_named_as_the_export_names_them_need_no_option():
    mapping = build_mapping("contacts", ["Email", "custom.linkedin", "Custom.er", "custom."])
    assert [(c.field, c.how) for c in mapping.columns] == [
        ("email", "detected"), ("custom.linkedin", "detected"), ("custom.er", "detected"), (None, "skipped")]
    # "custom.er" folds to "customer", a company spelling: the prefix wins
    assert build_mapping("tasks", ["Title", "custom.x"]).columns[1].field is None  # tasks have none
