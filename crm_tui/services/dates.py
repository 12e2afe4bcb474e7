"""Dates as people type them: "tomorrow 9am", "+3d", "in 2 weeks", "next fri", "end of month",
"2026-12-01 14:00".

Relative words are read in the user's time zone and the result is returned in UTC.
Anything that is not a relative form goes to dateutil's parser. One rule for numeric dates,
wherever they are typed or imported: an ambiguous one (03/04/2027) follows the user's configured
`date_order` and is refused when none is set; an unambiguous one (13/04/2027, 2027-04-03) always reads.
A day without a time is a calendar day in the team's zone (`team_zone`, `end_of_day`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from dateutil.relativedelta import relativedelta

from crm_tui.clock import UTC, get_zone, resolve_now
from crm_tui.config import check_order  # the configured order, read by the same rule
from crm_tui.errors import InvalidInput

if TYPE_CHECKING:
    from crm_tui.services.common import Actor

DEFAULT_TIME = time(9, 0)
# Dates are kept to these years: far enough for any real plan or history, and far enough from
# year 1 and 9999 that every time zone can show them (9999-12-31 23:59 UTC has no time in Auckland).
FIRST_YEAR, LAST_YEAR = 1900, 2200
_HINT = "try 'tomorrow 9am', '+3d', 'in 2 weeks', 'next fri', 'end of month' or '2026-12-01 14:00'"
ORDER_SETTING = "date_order (dmy or mdy) in the config file or CRM_DATE_ORDER"
END_OF_DAY = time(17, 0)  # "eod", and the time of "end of month" and the like
# 03/04/2027, 3.4.27, 03-04-2027, and 03/04 (this year's)
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})(?:[/.\-](\d{1,2})[/.\-](\d{2,4})\b|/(\d{1,2})\b(?!/))")
_YEAR_FIRST = re.compile(r"^\s*\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}\b")
_END_OF = re.compile(r"^end of (?:the )?(?:(?P<which>this|next) )?(?P<span>week|month|quarter|year)(?: (?P<rest>.+))?$")

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
    "evening": time(18, 0), "tonight": time(20, 0), "eod": END_OF_DAY, "end of day": END_OF_DAY,
}
_STANDALONE_TIMES = ("tonight", "this evening", "this morning", "this afternoon", "eod", "end of day",
                     "noon", "midday", "this noon")


def parse_when(text: str, *, now: datetime | None = None, zone: tzinfo = UTC,
               dayfirst: bool | None = None, default_time: time = DEFAULT_TIME, order: str | None = None,
               day_zone: tzinfo | None = None, order_hint: str | None = None) -> datetime:
    """A point in time, in UTC. A date given without a time gets `default_time`, in `day_zone`
    (the team's, for a calendar day) when given, else in `zone`.

    An ambiguous numeric date (03/04/2027) is read in `order` ("dmy", "mdy" or "ymd", the user's
    `date_order`); `dayfirst` (an import's --dayfirst/--monthfirst) overrides it. With neither, it is
    refused, naming `order_hint` (where the person can say how they write dates)."""
    raw = " ".join((text or "").strip().lower().split())
    if not raw:
        raise InvalidInput(f"no date given; {_HINT}")
    local_now = resolve_now(now).astimezone(zone)
    reading = _reading(raw, text.strip(), dayfirst, order, order_hint or f"Set {ORDER_SETTING}")
    try:
        result = _relative(raw, local_now, zone, default_time)
        if result is None:
            result = _absolute(raw, local_now, zone, day_zone or zone, reading, default_time)
    except (ValueError, OverflowError):
        result = None
    if result is None:
        raise InvalidInput(f"can't read {text.strip()!r} as a date; {_HINT}")
    return moment_in_range(result, text.strip())




def _reading(raw: str, typed: str, dayfirst: bool | None, order: str | None, hint: str) -> dict:
    """How dateutil should read `raw`: ISO year-first as it is; a numeric day/month decided by the
    value when it can be (13/04), else by `dayfirst`, else by `order`, else refused."""
    order = check_order(order)
    if _YEAR_FIRST.match(raw):
        return {"dayfirst": False, "yearfirst": True}  # 2027-04-03 is ISO (dateutil would swap it)
    if dayfirst is None and order is not None:
        dayfirst = order == "dmy"
    match = _NUMERIC_DATE.match(raw)
    if not match:
        return {"dayfirst": bool(dayfirst)}
    first, second = int(match[1]), int(match[2] or match[4])
    if order == "ymd" and match[3] and len(match[3]) == 2 and dayfirst is not None and not dayfirst:
        return {"dayfirst": False, "yearfirst": True}  # 27/04/03: 2027-04-03
    if first > 12 or second > 12:  # 13/04 reads one way only (31/31 no way: dateutil refuses it)
        return {"dayfirst": first > 12}
    if first != second and dayfirst is None:
        raise DateOrderError(f"ambiguous date {typed!r}: day {first} of month {second}, or month {first} "
                           f"day {second}? {hint}")
    return {"dayfirst": bool(dayfirst)}


def team_zone(actor: Actor) -> tzinfo:
    """The team's zone, as the CLI and the app resolved it for `actor` (config.team_timezone);
    UTC when the actor came without one. Never the machine's zone."""
    return get_zone(actor.team_timezone or "UTC")


def start_of_day(day: date, zone: tzinfo) -> datetime:
    """The UTC instant the calendar day `day` begins in `zone` (a local day can be 23 or 25 hours)."""
    return datetime.combine(day, time(0, 0)).replace(tzinfo=zone).astimezone(UTC)


def end_of_day(day: date, zone: tzinfo, now: datetime | None = None) -> datetime:
    """The instant a thing done "on `day`" (a deal closed that day) is put at: the last microsecond
    of that calendar day in `zone`, so it falls in that day's report bucket ([midnight, next
    midnight)) whatever the zone; `now` instead when `day` is today there (nothing is closed later
    than now)."""
    last = start_of_day(day + timedelta(days=1), zone) - timedelta(microseconds=1)
    if now is not None and start_of_day(day, zone) <= resolve_now(now) <= last:
        return resolve_now(now)
    return last


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


class DateOrderError(InvalidInput):
    """A numeric date that two orders read differently (03/04/2027), when none was given."""


def _out_of_range(label: str) -> InvalidInput:
    return DateOutOfRange(f"date {label!r} is out of range: use a year from {FIRST_YEAR} to {LAST_YEAR}")


def parse_day(text: str, *, now: datetime | None = None, zone: tzinfo = UTC, dayfirst: bool | None = None,
              order: str | None = None, order_hint: str | None = None) -> date:
    """A calendar day (for expected close dates and the like) in `zone`: the team's, for a deal's
    close date or a report's range, so "end of month" is the same day for everyone."""
    moment = parse_when(text, now=now, zone=zone, dayfirst=dayfirst, default_time=time(12, 0), order=order,
                        order_hint=order_hint)
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
    if raw in _STANDALONE_TIMES:
        return _at(now.date(), _TIME_WORDS[raw.removeprefix("this ")], zone)
    if raw in ("midnight", "tonight at midnight"):  # the coming midnight: the end of today
        return _at(now.date() + timedelta(days=1), time(0, 0), zone)
    if match := _END_OF.match(raw):
        return _with_time(_end_of(match["span"], match["which"] == "next", now.date()), match["rest"], zone,
                          END_OF_DAY)
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


def _end_of(span: str, following: bool, today: date) -> date:
    """The last day of this (or the next) week, month, quarter or year; a week ends on Friday,
    the end of the working week (on a weekend, the coming Friday)."""
    if span == "week":
        friday = today + timedelta(days=(4 - today.weekday()) % 7)
        return friday + timedelta(days=7 * following)
    if span == "month":
        first = today.replace(day=1)
        step = relativedelta(months=1)
    elif span == "quarter":
        first = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        step = relativedelta(months=3)
    else:
        first = today.replace(month=1, day=1)
        step = relativedelta(years=1)
    if following:
        first += step
    return first + step - timedelta(days=1)


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
    if rest == "midnight":  # "fri midnight": the night after Friday, when Friday ends
        return _at(day + timedelta(days=1), time(0, 0), zone)
    from dateutil import parser as dateutil_parser  # on first use: about 25 ms to import

    parsed = dateutil_parser.parse(rest, default=datetime.combine(day, time(0, 0)))
    if parsed.date() != day:
        raise ValueError("a time was expected after the day")
    return _at(day, parsed.time(), zone)


def _absolute(raw: str, now: datetime, zone: tzinfo, day_zone: tzinfo, reading: dict,
              default_time: time) -> datetime | None:
    base = now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    from dateutil import parser as dateutil_parser

    first = dateutil_parser.parse(raw, default=base, **reading)
    # Parse again with a different default time: if the time moved, none was typed.
    second = dateutil_parser.parse(raw, default=base.replace(hour=1, minute=1, second=1), **reading)
    if first.tzinfo is not None:
        return first
    if (first.hour, first.minute) != (second.hour, second.minute):
        return datetime.combine(first.date(), default_time, tzinfo=day_zone)
    return first.replace(tzinfo=zone)
