"""Dates as people type them: "tomorrow 9am", "+3d", "in 2 weeks", "next fri", "2026-12-01 14:00".

Relative words are read in the user's time zone and the result is returned in UTC.
Anything that is not a relative form goes to dateutil's parser.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from dateutil import parser as dateutil_parser
from dateutil.relativedelta import relativedelta

from crm_tui.clock import UTC, resolve_now
from crm_tui.errors import InvalidInput

DEFAULT_TIME = time(9, 0)
# Dates are kept to these years: far enough for any real plan or history, and far enough from
# year 1 and 9999 that every time zone can show them (9999-12-31 23:59 UTC has no time in Auckland).
FIRST_YEAR, LAST_YEAR = 1900, 2200
_HINT = "try 'tomorrow 9am', '+3d', 'in 2 weeks', 'next fri' or '2026-12-01 14:00'"

_UNITS = {
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "wk": "weeks", "week": "weeks", "weeks": "weeks",
    "mo": "months", "month": "months", "months": "months",
    "y": "years", "year": "years", "years": "years",
}
_OFFSET = re.compile(r"^(?:(?P<sign>[+-])\s*|in\s+)(?P<n>\d+)\s*(?P<unit>[a-z]+)(?:\s+(?P<rest>.*))?$")
_AGO = re.compile(r"^(?P<n>\d+)\s*(?P<unit>[a-z]+)\s+ago(?:\s+(?P<rest>.*))?$")
_WEEKDAYS = {
    name: index
    for index, names in enumerate([
        ("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "weds", "wednesday"),
        ("thu", "thur", "thurs", "thursday"), ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday"),
    ])
    for name in names
}
_DAY_WORDS = {"today": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "yesterday": -1}
_TIME_WORDS = {
    "morning": time(9, 0), "noon": time(12, 0), "midday": time(12, 0), "afternoon": time(14, 0),
    "evening": time(18, 0), "tonight": time(20, 0), "eod": time(17, 0), "end of day": time(17, 0),
}


def parse_when(text: str, *, now: datetime | None = None, zone: tzinfo = UTC,
               dayfirst: bool = False, default_time: time = DEFAULT_TIME) -> datetime:
    """A point in time, in UTC. A date given without a time gets `default_time`."""
    raw = " ".join((text or "").strip().lower().split())
    if not raw:
        raise InvalidInput(f"no date given; {_HINT}")
    local_now = resolve_now(now).astimezone(zone)
    try:
        result = _relative(raw, local_now, zone, default_time)
        if result is None:
            result = _absolute(raw, local_now, zone, dayfirst, default_time)
    except (ValueError, OverflowError):
        result = None
    if result is None:
        raise InvalidInput(f"can't read {text.strip()!r} as a date; {_HINT}")
    return moment_in_range(result, text.strip())


def moment_in_range(value: datetime, label: str | None = None) -> datetime:
    """`value` in UTC, if its year (where it was given) is FIRST_YEAR to LAST_YEAR; an InvalidInput
    otherwise. A day either side in UTC is still far from the ends every zone can show."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _out_of_range(label or value.isoformat(sep=" ", timespec="minutes"))
    return value.astimezone(UTC)


def day_in_range(value: date, label: str | None = None) -> date:
    """`value`, if it lies in the years FIRST_YEAR to LAST_YEAR; an InvalidInput otherwise."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise _out_of_range(label or value.isoformat())
    return value


class DateOutOfRange(InvalidInput):
    """A date that reads, but lies outside the years FIRST_YEAR to LAST_YEAR."""


def _out_of_range(label: str) -> InvalidInput:
    return DateOutOfRange(f"date {label!r} is out of range: use a year from {FIRST_YEAR} to {LAST_YEAR}")


def parse_day(text: str, *, now: datetime | None = None, zone: tzinfo = UTC, dayfirst: bool = False) -> date:
    """A calendar day (for expected close dates and the like), in the user's zone."""
    moment = parse_when(text, now=now, zone=zone, dayfirst=dayfirst, default_time=time(12, 0))
    return day_in_range(moment.astimezone(zone).date(), text.strip())


def _relative(raw: str, now: datetime, zone: tzinfo, default_time: time) -> datetime | None:
    if raw == "now":
        return now
    if match := _OFFSET.match(raw) or _AGO.match(raw):
        unit = _UNITS.get(match["unit"])
        if unit is None:
            return None
        amount = int(match["n"])
        if match.re is _AGO or match.groupdict().get("sign") == "-":
            amount = -amount
        if unit in ("minutes", "hours"):
            # elapsed time: wall-clock arithmetic would be an hour off across a DST change
            moved = (now.astimezone(UTC) + relativedelta(**{unit: amount})).astimezone(zone)
        else:
            moved = now + relativedelta(**{unit: amount})
        return _with_time(moved.date(), match["rest"], zone) if match["rest"] else moved
    words = raw.split(" ", 1)
    head, rest = words[0], (words[1] if len(words) > 1 else "")
    if head in _DAY_WORDS:
        return _with_time(now.date() + timedelta(days=_DAY_WORDS[head]), rest, zone, default_time)
    if raw in ("tonight", "this evening", "this morning", "this afternoon", "eod", "end of day"):
        return _at(now.date(), _TIME_WORDS[raw.removeprefix("this ")], zone)
    if head in ("next", "this") and rest:
        return _next_or_this(head, rest, now, zone, default_time)
    if (day := _weekday(head)) is not None:
        return _with_time(_next_weekday(now.date(), day, include_today=False), rest, zone, default_time)
    return None


def _next_or_this(head: str, rest: str, now: datetime, zone: tzinfo, default_time: time) -> datetime | None:
    word, _, tail = rest.partition(" ")
    if (day := _weekday(word)) is not None:
        return _with_time(_next_weekday(now.date(), day, include_today=head == "this"), tail, zone, default_time)
    if head == "next" and word == "week":
        monday = now.date() + timedelta(days=7 - now.weekday())
        return _with_time(monday, tail, zone, default_time)
    if head == "next" and word == "month":
        return _with_time((now + relativedelta(months=1, day=1)).date(), tail, zone, default_time)
    return None


def _weekday(word: str) -> int | None:
    return _WEEKDAYS.get(word)


def _next_weekday(today: date, weekday: int, *, include_today: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return today + timedelta(days=ahead)


def _at(day: date, at: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, at).replace(tzinfo=zone)


def _with_time(day: date, rest: str | None, zone: tzinfo, default_time: time = DEFAULT_TIME) -> datetime:
    rest = (rest or "").strip().removeprefix("at ").strip()
    if not rest:
        return _at(day, default_time, zone)
    if rest in _TIME_WORDS:
        return _at(day, _TIME_WORDS[rest], zone)
    parsed = dateutil_parser.parse(rest, default=datetime.combine(day, time(0, 0)))
    if parsed.date() != day:
        raise ValueError("a time was expected after the day")
    return _at(day, parsed.time(), zone)


def _absolute(raw: str, now: datetime, zone: tzinfo, dayfirst: bool, default_time: time) -> datetime | None:
    base = now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    first = dateutil_parser.parse(raw, default=base, dayfirst=dayfirst)
    # Parse again with a different default time: if the time moved, none was typed.
    second = dateutil_parser.parse(raw, default=base.replace(hour=1, minute=1, second=1), dayfirst=dayfirst)
    if first.tzinfo is not None:
        return first
    if (first.hour, first.minute) != (second.hour, second.minute):
        first = datetime.combine(first.date(), default_time)
    return first.replace(tzinfo=zone)
