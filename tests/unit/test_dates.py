"""Reading dates as people type them, in the user's zone, returned in UTC (pure: no database)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import crm_tui
from crm_tui.errors import InvalidInput
from crm_tui.services import dates
from crm_tui.services.dates import end_of_day, parse_day, parse_when, start_of_day

UTC = timezone.utc
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("tomorrow 9am", at(2026, 11, 24, 9, 0)),
    ("Tomorrow   at 9:30", at(2026, 11, 24, 9, 30)),
    ("tomorrow", at(2026, 11, 24, 9, 0)),  # a day alone gets 9am
    ("today 5pm", at(2026, 11, 23, 17, 0)),
    ("now", NOW),
    ("+3d", at(2026, 11, 26, 10, 0)),
    ("+2h", at(2026, 11, 23, 12, 0)),
    ("-2h", at(2026, 11, 23, 8, 0)),
    ("+1w 3pm", at(2026, 11, 30, 15, 0)),
    ("in 2 weeks", at(2026, 12, 7, 10, 0)),
    ("in 90 minutes", at(2026, 11, 23, 11, 30)),
    ("in 1 month", at(2026, 12, 23, 10, 0)),
    ("3 days ago", at(2026, 11, 20, 10, 0)),
    ("next fri", at(2026, 11, 27, 9, 0)),
    ("fri 3pm", at(2026, 11, 27, 15, 0)),
    ("friday at 15:45", at(2026, 11, 27, 15, 45)),
    ("monday", at(2026, 11, 30, 9, 0)),  # today is Monday: a bare weekday means the next one
    ("next monday", at(2026, 11, 30, 9, 0)),
    ("this monday", at(2026, 11, 23, 9, 0)),
    ("next week", at(2026, 11, 30, 9, 0)),  # its Monday
    ("next month", at(2026, 12, 1, 9, 0)),  # its first day
    ("tonight", at(2026, 11, 23, 20, 0)),
    ("eod", at(2026, 11, 23, 17, 0)),
    ("tomorrow noon", at(2026, 11, 24, 12, 0)),
    ("2026-12-01 14:00", at(2026, 12, 1, 14, 0)),
    ("2026-12-01", at(2026, 12, 1, 9, 0)),
    ("Dec 3 2026 4:15pm", at(2026, 12, 3, 16, 15)),
    ("2026-12-01T14:00:00+02:00", at(2026, 12, 1, 12, 0)),  # an explicit offset wins over the zone
])
def test_parse_when_in_utc(text, expected):
    result = parse_when(text, now=NOW, zone=UTC)
    assert result == expected
    assert result.tzinfo == UTC


@pytest.mark.parametrize("zone, text, expected", [
    # Paris is UTC+1 in November (11:00 local at NOW)
    (PARIS, "tomorrow 9am", at(2026, 11, 24, 8, 0)),
    (PARIS, "2026-12-01 14:00", at(2026, 12, 1, 13, 0)),
    (PARIS, "tonight", at(2026, 11, 23, 19, 0)),
    (PARIS, "+3d", at(2026, 11, 26, 10, 0)),
    # summer time in Paris ends on 2026-10-25: noon is 10:00 UTC the day before, 11:00 UTC that day
    (PARIS, "2026-10-24 12:00", at(2026, 10, 24, 10, 0)),
    (PARIS, "2026-10-25 12:00", at(2026, 10, 25, 11, 0)),
    # New York is UTC-5 in November (05:00 local at NOW: still "today" there)
    (NEW_YORK, "tomorrow 9am", at(2026, 11, 24, 14, 0)),
    (NEW_YORK, "today 5pm", at(2026, 11, 23, 22, 0)),
    (NEW_YORK, "next fri", at(2026, 11, 27, 14, 0)),
])
def test_parse_when_in_a_zone(zone, text, expected):
    assert parse_when(text, now=NOW, zone=zone) == expected


def test_new_york_across_the_end_of_daylight_saving():
    # Saturday 2026-10-31 08:00 EDT (UTC-4); clocks go back at 2am on Sunday 2026-11-01
    saturday = at(2026, 10, 31, 12, 0)
    assert parse_when("tomorrow 9am", now=saturday, zone=NEW_YORK) == at(2026, 11, 1, 14, 0)  # 9am EST
    assert parse_when("today 9am", now=saturday, zone=NEW_YORK) == at(2026, 10, 31, 13, 0)  # 9am EDT
    # "+1d" keeps the wall-clock time: 08:00 on Sunday, which is 25 hours later
    assert parse_when("+1d", now=saturday, zone=NEW_YORK) == at(2026, 11, 1, 13, 0)
    assert parse_when("+24h", now=saturday, zone=NEW_YORK) == at(2026, 11, 1, 12, 0)


def test_parse_day_is_the_day_in_the_users_zone():
    late = at(2026, 11, 23, 23, 30)  # already Tuesday in Paris
    assert parse_day("today", now=late, zone=UTC) == date(2026, 11, 23)
    assert parse_day("today", now=late, zone=PARIS) == date(2026, 11, 24)
    assert parse_day("next fri", now=NOW, zone=UTC) == date(2026, 11, 27)
    assert parse_day("2026-12-15", now=NOW, zone=NEW_YORK) == date(2026, 12, 15)
    assert parse_day("03/04/2026", now=NOW, zone=UTC, order="mdy") == date(2026, 3, 4)
    assert parse_day("03/04/2026", now=NOW, zone=UTC, dayfirst=True) == date(2026, 4, 3)


@pytest.mark.parametrize("text", [
    "", "   ", "blorp", "next blorp", "in 3 parsecs", "+5 fortnights", "tomorrow at teatime", "fri 25pm",
    "2026-13-45", "31/31/2026", "+99999999y", "in 99999999999 days", "\x00", "next", "😀",
])
def test_unreadable_dates_are_one_line_invalid_input(text):
    with pytest.raises(InvalidInput) as caught:
        parse_when(text, now=NOW, zone=UTC)
    message = caught.value.message
    assert "\n" not in message
    assert "try 'tomorrow 9am'" in message
    if text.strip():
        assert repr(text.strip()) in message


def test_the_machines_zone_is_its_named_zone(monkeypatch):
    """With no zone configured, times are the machine's: its IANA zone when it names one (a ZoneInfo,
    which converts in C), with daylight saving as that zone has it."""
    import time

    import tzlocal

    from crm_tui.clock import get_zone

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    tzlocal.reload_localzone()
    try:
        zone = get_zone(None)
        assert isinstance(zone, ZoneInfo) and zone.key == "America/New_York"
        assert datetime(2026, 7, 1, 12, tzinfo=timezone.utc).astimezone(zone).hour == 8
        assert datetime(2026, 12, 1, 12, tzinfo=timezone.utc).astimezone(zone).hour == 7
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()
        tzlocal.reload_localzone()


# --- issue 17 #11: what a placeholder suggests parses; one rule for ambiguous numeric dates ----------

AUCKLAND, LOS_ANGELES = ZoneInfo("Pacific/Auckland"), ZoneInfo("America/Los_Angeles")


def local(zone, *parts) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)


# (text, zone, expected), now Monday 23 November 2026 10:00 UTC (23:00 in Auckland, 02:00 in Los Angeles)
@pytest.mark.parametrize("text, zone, expected", [
    ("end of month", UTC, at(2026, 11, 30, 17, 0)),
    ("end of the month", UTC, at(2026, 11, 30, 17, 0)),
    ("end of month 9am", UTC, at(2026, 11, 30, 9, 0)),
    ("end of next month", UTC, at(2026, 12, 31, 17, 0)),
    ("end of quarter", UTC, at(2026, 12, 31, 17, 0)),
    ("end of next quarter", UTC, at(2027, 3, 31, 17, 0)),
    ("end of year", UTC, at(2026, 12, 31, 17, 0)),
    ("end of week", UTC, at(2026, 11, 27, 17, 0)),  # the working week ends on Friday
    ("end of next week", UTC, at(2026, 12, 4, 17, 0)),
    ("noon", UTC, at(2026, 11, 23, 12, 0)),
    ("midday", UTC, at(2026, 11, 23, 12, 0)),
    ("midnight", UTC, at(2026, 11, 24, 0, 0)),  # the coming midnight
    ("tomorrow noon", UTC, at(2026, 11, 24, 12, 0)),
    ("fri midnight", UTC, at(2026, 11, 28, 0, 0)),  # when Friday ends
    ("end of month", AUCKLAND, local(AUCKLAND, 2026, 11, 30, 17, 0)),
    ("noon", AUCKLAND, local(AUCKLAND, 2026, 11, 23, 12, 0)),  # 23:00 there: noon has passed
    ("midnight", AUCKLAND, local(AUCKLAND, 2026, 11, 24, 0, 0)),
    ("end of quarter", LOS_ANGELES, local(LOS_ANGELES, 2026, 12, 31, 17, 0)),
    ("midnight", LOS_ANGELES, local(LOS_ANGELES, 2026, 11, 24, 0, 0)),
])
def test_end_of_and_time_words(text, zone, expected):
    assert parse_when(text, now=NOW, zone=zone) == expected


@pytest.mark.parametrize("text, zone, expected", [
    ("end of month", AUCKLAND, date(2026, 11, 30)),
    ("end of month", LOS_ANGELES, date(2026, 11, 30)),
    ("end of quarter", UTC, date(2026, 12, 31)),
    ("end of year", AUCKLAND, date(2026, 12, 31)),
    ("end of week", UTC, date(2026, 11, 27)),
])
def test_end_of_as_a_day(text, zone, expected):
    assert parse_day(text, now=NOW, zone=zone) == expected


# (text, date_order, expected day): ambiguous dates follow the order; unambiguous ones always read
@pytest.mark.parametrize("text, order, expected", [
    ("03/04/2027", "dmy", date(2027, 4, 3)),
    ("03/04/2027", "mdy", date(2027, 3, 4)),
    ("03/04/2027", "ymd", date(2027, 3, 4)),  # year-month-day people put the month before the day
    ("03.04.2027", "dmy", date(2027, 4, 3)),
    ("3-4-27", "mdy", date(2027, 3, 4)),
    ("27/04/03", "ymd", date(2027, 4, 3)),
    ("13/04/2027", None, date(2027, 4, 13)),
    ("13/04/2027", "mdy", date(2027, 4, 13)),  # unambiguous: read as written whatever the order
    ("04/13/2027", "dmy", date(2027, 4, 13)),
    ("04/04/2027", None, date(2027, 4, 4)),  # the same either way
    ("2027-04-03", None, date(2027, 4, 3)),
    ("2027-04-03", "dmy", date(2027, 4, 3)),  # ISO stays ISO (dateutil alone would swap it)
    ("2027/04/03", "mdy", date(2027, 4, 3)),
    ("3 April 2027", None, date(2027, 4, 3)),
    ("April 3, 2027", "dmy", date(2027, 4, 3)),
    ("03/04", "dmy", date(2026, 4, 3)),  # no year: this year
    ("13/04", None, date(2026, 4, 13)),
])
@pytest.mark.parametrize("zone", [UTC, AUCKLAND, LOS_ANGELES])
def test_numeric_dates_follow_the_date_order(text, order, expected, zone):
    assert parse_day(text, now=NOW, zone=zone, order=order) == expected


@pytest.mark.parametrize("text", ["03/04/2027", "3/4/27", "03.04.2027", "03/04/2027 10:00", "11-12-2027", "03/04",
                                  "03/04 3pm"])
def test_an_ambiguous_date_without_a_date_order_is_refused_naming_the_setting(text):
    with pytest.raises(InvalidInput, match=r"ambiguous date .*date_order \(dmy or mdy\).*CRM_DATE_ORDER") as caught:
        parse_when(text, now=NOW, zone=UTC)
    assert "\n" not in caught.value.message


def test_the_import_flag_overrides_the_date_order():
    assert parse_day("03/04/2027", now=NOW, dayfirst=True, order="mdy") == date(2027, 4, 3)
    assert parse_day("03/04/2027", now=NOW, dayfirst=False, order="dmy") == date(2027, 3, 4)


@pytest.mark.parametrize("order", ["dm", "european", "dym", 3])
def test_an_unknown_date_order_is_refused(order):
    with pytest.raises(InvalidInput, match="date_order"):
        parse_day("2027-04-03", now=NOW, order=str(order))


def test_a_day_without_a_time_is_placed_in_the_day_zone():
    # typed in UTC for a team in Auckland: the calendar day is the team's
    assert parse_when("2026-12-31", now=NOW, zone=UTC, day_zone=AUCKLAND, default_time=time(12, 0)) \
        == local(AUCKLAND, 2026, 12, 31, 12, 0)
    # a time typed is the typist's
    assert parse_when("2026-12-31 15:00", now=NOW, zone=UTC, day_zone=AUCKLAND) == at(2026, 12, 31, 15, 0)


@pytest.mark.parametrize("day, zone, expected", [
    (date(2026, 12, 31), AUCKLAND, local(AUCKLAND, 2027, 1, 1, 0, 0) - timedelta(microseconds=1)),
    (date(2026, 12, 31), LOS_ANGELES, local(LOS_ANGELES, 2027, 1, 1, 0, 0) - timedelta(microseconds=1)),
    (date(2026, 11, 23), UTC, NOW),  # today: now, not later
])
def test_end_of_day_is_the_last_moment_of_that_day_there(day, zone, expected):
    assert end_of_day(day, zone, NOW) == expected
    assert start_of_day(day, zone) <= end_of_day(day, zone, NOW) < start_of_day(day + timedelta(days=1), zone)


# --- every date example the app's placeholders and the CLI's help suggest reads ---------------------

_DATE_FIELDS = ("due", "follow_due", "when", "expected_close", "deal-close", "range-from", "range-to")
_PREFIXES = ("optional:", "or type:", "now; or", "e.g.")


def _examples(text: str) -> list[str]:
    """The phrases a hint suggests: "optional: e.g. end of month, +30d" gives both."""
    text = re.sub(r"\(.*?\)", "", text)
    for prefix in _PREFIXES:
        text = text.strip().removeprefix(prefix)
    text = text.strip().removeprefix("e.g.")
    return [part.strip() for part in text.split(",") if part.strip() and part.strip() not in ("…", "now")]


def _placeholders() -> list[tuple[str, str]]:
    """(where, example) for each date input's placeholder in the screens' source."""
    root = Path(crm_tui.__file__).parent / "screens"
    found = []
    call = re.compile(r"_input\(\s*\"(?P<id>[\w-]+)\"\s*,\s*(?:[^,()]+,\s*)?(?:placeholder=)?\"(?P<hint>[^\"]+)\"")
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for match in call.finditer(source):
            if match["id"] in _DATE_FIELDS:
                found += [(f"{path.relative_to(root)}#{match['id']}", ex) for ex in _examples(match["hint"])]
        for match in re.finditer(r"placeholder=\"(?P<hint>e\.g\. [^\"]*\d{4}-\d\d-\d\d[^\"]*)\"", source):
            if re.search(r"[<>=]", match["hint"]):
                continue  # a custom-field filter (renewal<2027-01-01), not a date input's hint
            found += [(path.relative_to(root), ex) for ex in _examples(match["hint"])]
    return found


def _cli_examples() -> list[tuple[str, str]]:
    """(option, example) for the quoted examples in the help of every CLI option that takes a time."""
    import typer

    from crm_tui.cli.main import app

    found = []

    def walk(command, path):
        for param in getattr(command, "params", []):
            help_text = getattr(param, "help", None) or ""
            if param.name in ("due", "at", "follow_up", "close", "since", "until", "start", "end"):
                found.extend((f"{path} {param.name}", ex) for ex in re.findall(r"\"([^\"]+)\"", help_text))
                if param.name in ("start", "end"):
                    found.extend((f"{path} {param.name}", ex) for ex in re.findall(r"e\.g\. ([\d-]+)", help_text))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "crm")
    return found


PLACEHOLDERS = _placeholders()
CLI_EXAMPLES = _cli_examples()


def test_the_hints_are_found():
    # the enumeration itself works: the known hints are in it (a renamed field would drop them silently)
    assert {"end of month", "+30d", "fri 3pm", "tomorrow 9am", "2026-12-31"} <= {ex for _, ex in PLACEHOLDERS}
    assert {"tomorrow 9am", "yesterday 3pm", "7d ago", "2026-12-31", "next fri 10am"} <= {ex for _, ex in CLI_EXAMPLES}


@pytest.mark.parametrize("where, example", PLACEHOLDERS + CLI_EXAMPLES + [
    ("dates._HINT", ex) for ex in re.findall(r"'([^']+)'", dates._HINT)])
@pytest.mark.parametrize("zone", [UTC, AUCKLAND])
def test_every_suggested_date_parses(where, example, zone):
    assert parse_when(example, now=NOW, zone=zone)
    assert parse_day(example, now=NOW, zone=zone)
