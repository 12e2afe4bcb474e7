"""Business-hours arithmetic: adding business minutes to an instant, and counting them between two.

A `Calendar` is a time zone, working hours per weekday in local wall time ({"mon": [["09:00",
"17:00"]], ...}, several intervals a day, "24:00" for midnight at the end of a day, and an end
before its start for an overnight shift that belongs to the day it starts on) and a set of holiday
dates (a holiday closes the shifts that start on it).

Each day's intervals are built in local wall time and converted to UTC on their own, so a day of
a DST change counts the real minutes it has: a 24x7 calendar has 23 hours on the spring-forward day
and 25 on the fall-back day, and adding minutes to an instant is then plain addition. A wall time
in a DST gap is read with the offset before the change (02:30 on a Berlin spring-forward day is
03:30 CEST); a wall time that happens twice is read as the first for a start and the second for an
end, so an interval covers all of the wall clock it names.

The arithmetic walks day by day and never minute by minute: a target of weeks costs one step per
day of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_tui.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
             "sat": "Saturday", "sun": "Sunday"}
MINUTES_A_DAY = 24 * 60
MAX_DAYS = 366 * 30  # the walk gives up past thirty years: a calendar with (almost) no working time
_CLOCK = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*$")
UTC = timezone.utc

# one interval of a day, minutes after local midnight: (start, end), end > start (overnight: end > 1440)
Interval = tuple[int, int]


def parse_clock(text: str, *, end: bool = False) -> int:
    """Minutes after midnight of "9:00", "09:30", "17" (and "24:00" for an end)."""
    m = _CLOCK.match(str(text))
    if not m:
        raise InvalidInput(f"{text!r} is not a time of day: write it as 9:00 or 17:30")
    hours, minutes = int(m[1]), int(m[2] or 0)
    value = hours * 60 + minutes
    if minutes > 59 or value > MINUTES_A_DAY or (value == MINUTES_A_DAY and not end):
        raise InvalidInput(f"{text!r} is not a time of day: from 0:00 to 23:59 (24:00 only as an end)")
    return value


def clock_text(minutes: int) -> str:
    minutes %= MINUTES_A_DAY * 2
    if minutes > MINUTES_A_DAY:
        minutes -= MINUTES_A_DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def get_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}: use a name such as Europe/Berlin, America/New_York "
                           "or UTC") from None


def parse_days(text: str) -> list[str]:
    """"mon-fri", "sat,sun", "mon-wed,fri", "all" -> the weekdays' keys, in week order."""
    spec = str(text).strip().lower()
    if spec in ("all", "every", "daily", "mon-sun"):
        return list(DAYS)
    found: set[str] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        first, _, last = part.partition("-")
        a, b = _day(first), _day(last) if last else _day(first)
        i, j = DAYS.index(a), DAYS.index(b)
        span = range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)]  # fri-mon wraps
        found.update(DAYS[k] for k in span)
    if not found:
        raise InvalidInput(f"no days in {text!r}: write them as mon-fri, sat,sun or all")
    return [d for d in DAYS if d in found]


def _day(text: str) -> str:
    key = text.strip().lower()[:3]
    if key not in DAYS:
        raise InvalidInput(f"{text!r} is not a day: use mon, tue, wed, thu, fri, sat, sun")
    return key


def parse_hours(hours: dict | None) -> tuple[tuple[Interval, ...], ...]:
    """{"mon": [["09:00", "17:00"], ...], ...} -> per weekday (Monday first) its sorted intervals,
    checked: no overlaps in a day, and an overnight shift ends before the next day's first starts."""
    hours = hours or {}
    unknown = [k for k in hours if k not in DAYS]
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not a day: use mon, tue, wed, thu, fri, sat, sun")
    week: list[tuple[Interval, ...]] = []
    for day in DAYS:
        spans = []
        for pair in hours.get(day) or []:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise InvalidInput(f"{DAY_NAMES[day]}: each interval is a pair of times, e.g. [\"09:00\", \"17:00\"]")
            start, end = parse_clock(pair[0]), parse_clock(pair[1], end=True)
            if end == start:
                raise InvalidInput(f"{DAY_NAMES[day]}: {pair[0]}-{pair[1]} is empty")
            if end < start:
                end += MINUTES_A_DAY  # overnight: ends the next morning
            spans.append((start, end))
        spans.sort()
        for (s1, e1), (s2, _) in zip(spans, spans[1:]):
            if s2 < e1:
                raise InvalidInput(f"{DAY_NAMES[day]}: {clock_text(s1)}-{clock_text(e1)} overlaps the interval "
                                   f"from {clock_text(s2)}")
        week.append(tuple(spans))
    for i, spans in enumerate(week):
        nxt = week[(i + 1) % 7]
        if spans and spans[-1][1] > MINUTES_A_DAY and nxt and spans[-1][1] - MINUTES_A_DAY > nxt[0][0]:
            raise InvalidInput(f"{DAY_NAMES[DAYS[i]]}'s shift until {clock_text(spans[-1][1])} runs into "
                               f"{DAY_NAMES[DAYS[(i + 1) % 7]]}'s from {clock_text(nxt[0][0])}")
    return tuple(week)


def hours_text(hours: dict | None) -> dict[str, str]:
    """{"mon": "09:00-12:00, 13:00-17:00", ..., "sun": "closed"} for people."""
    week = parse_hours(hours)
    return {day: ", ".join(f"{clock_text(s)}-{clock_text(e)}" for s, e in spans) or "closed"
            for day, spans in zip(DAYS, week)}


class Calendar:
    """A zone, weekly hours and holidays. `more_holidays(year)` (optional) supplies the holidays of
    a year the arithmetic reaches that `holidays` does not cover, once per year (so a caller can
    load a database's holidays a year at a time)."""

    def __init__(self, zone: str | ZoneInfo = "UTC", hours: dict | None = None,
                 holidays: Iterable[date] = (), *, more_holidays: Callable[[int], Iterable[date]] | None = None,
                 holiday_years: Iterable[int] = ()) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else get_zone(zone)
        self.week = parse_hours(hours)
        self.holidays = set(holidays)
        self._loader = more_holidays
        self._years = set(holiday_years)
        self.week_minutes = sum(e - s for spans in self.week for s, e in spans)

    @classmethod
    def always_open(cls, zone: str | ZoneInfo = "UTC") -> Calendar:
        """24 hours a day, 7 days a week: business minutes are plain minutes."""
        return cls(zone, {d: [["00:00", "24:00"]] for d in DAYS})

    def is_holiday(self, day: date) -> bool:
        if self._loader is not None and day.year not in self._years:
            self._years.add(day.year)
            self.holidays.update(self._loader(day.year))
        return day in self.holidays

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals that start on local date `day`, as UTC instants."""
        spans = self.week[day.weekday()]
        if not spans or self.is_holiday(day):
            return []
        midnight = datetime.combine(day, time())
        out = []
        for start, end in spans:
            a = _utc(midnight + timedelta(minutes=start), self.zone, end=False)
            b = _utc(midnight + timedelta(minutes=end), self.zone, end=True)
            if b > a:
                out.append((a, b))
        return out

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()


def _utc(wall: datetime, zone: ZoneInfo, *, end: bool) -> datetime:
    """A naive local wall time as a UTC instant (see the module's docstring for gaps and folds)."""
    first = wall.replace(tzinfo=zone, fold=0)
    if end:
        second = wall.replace(tzinfo=zone, fold=1)
        if first.utcoffset() != second.utcoffset() and second.astimezone(UTC).astimezone(zone).replace(
                tzinfo=None) == wall:
            return second.astimezone(UTC)  # a repeated wall time: the later one ends the interval
    return first.astimezone(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def _check(cal: Calendar) -> None:
    if cal.week_minutes == 0:
        raise InvalidInput("the business calendar has no working hours: set them with crm sla hours set")


def add_business_minutes(start: datetime, minutes: int, cal: Calendar) -> datetime:
    """The instant `minutes` business minutes after `start` (a start outside business hours counts
    from the next opening: a case opened on Saturday counts from Monday's first hour)."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    _check(cal)
    start = _aware(start, "start")
    left = timedelta(minutes=minutes)
    day = cal.local_date(start) - timedelta(days=1)  # yesterday's overnight shift may still run
    for _ in range(MAX_DAYS):
        for a, b in cal.intervals(day):
            if b <= start:
                continue
            a = max(a, start)
            if left <= b - a:
                return a + left
            left -= b - a
        day += timedelta(days=1)
    raise InvalidInput(f"{minutes} business minutes reach past {MAX_DAYS // 366} years of this calendar")


def business_minutes_between(a: datetime, b: datetime, cal: Calendar) -> int:
    """Whole business minutes from `a` to `b` (negative when b is before a)."""
    a, b = _aware(a, "a"), _aware(b, "b")
    if b < a:
        return -business_minutes_between(b, a, cal)
    total = timedelta()
    day, last = cal.local_date(a) - timedelta(days=1), cal.local_date(b)
    while day <= last:
        for s, e in cal.intervals(day):
            lo, hi = max(s, a), min(e, b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds() // 60)


# --- durations as people type them ------------------------------------------------------------

DAY_MINUTES = 8 * 60  # "1d" in a target is one business day of 8 business hours, whatever the calendar
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhm]?)", re.I)


def parse_duration(text: str | int, *, day_minutes: int = DAY_MINUTES) -> int:
    """Business minutes of "4h", "1d" (8 business hours), "30m", "1d 4h", "1h30m" or a bare number
    of minutes ("90"). A span of wall-clock time passes day_minutes=1440."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        spec = str(text).strip().lower().replace(" ", "")
        if not spec or _PART.sub("", spec):
            raise InvalidInput(f"{text!r} is not a duration: write it as 30m, 4h, 1d (8 business hours) or 1d4h")
        total = 0.0
        for number, unit in _PART.findall(spec):
            total += float(number) * {"d": day_minutes, "h": 60, "m": 1, "": 1}[unit]
        if total != int(total):
            raise InvalidInput(f"{text!r} is not a whole number of minutes")
        value = int(total)
    if value <= 0 or value > DAY_MINUTES * 366 * 5:
        raise InvalidInput(f"{text!r}: a target is from 1 minute to 5 years of business days")
    return value


def duration_text(minutes: int, *, days: bool = True) -> str:
    """"1d 4h" (a d of 8 hours) for business minutes; with days=False, hours and minutes only."""
    minutes = int(minutes)
    parts = []
    if days and minutes >= DAY_MINUTES:
        parts.append(f"{minutes // DAY_MINUTES}d")
        minutes %= DAY_MINUTES
    if minutes >= 60:
        parts.append(f"{minutes // 60}h")
        minutes %= 60
    if minutes or not parts:
        parts.append(f"{minutes}m")
    return " ".join(parts)
