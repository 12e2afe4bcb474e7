"""Reading dates as people type them, in the user's zone, returned in UTC (pure: no database)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from crm_tui.errors import InvalidInput
from crm_tui.services.dates import parse_day, parse_when

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
