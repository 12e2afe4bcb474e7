"""The period a report covers: presets (this month, last quarter, ...) and typed ranges, as local days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from dateutil.relativedelta import relativedelta

from crm_tui.clock import UTC, resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.services.dates import DateOrderError, parse_day


PRESETS = ("this-month", "last-month", "this-quarter", "last-quarter", "this-year", "last-year")
DEFAULT_PRESET = "this-quarter"
STEPS = {"month": relativedelta(months=1), "quarter": relativedelta(months=3), "year": relativedelta(years=1)}


@dataclass(frozen=True)
class Period:
    """Calendar days in the team's zone: from `start` up to, not including, `end`."""

    start: date
    end: date
    kind: str  # month, quarter, year or custom
    preset: str | None = None

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        if self.kind == "quarter":
            return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.start.year}"
        return f"{self.start.isoformat()} – {self.last_day.isoformat()}"

    def shift(self, steps: int) -> Period:
        """The period as long, `steps` later (earlier when negative); no longer a preset."""
        if self.kind in STEPS:
            return Period(self.start + STEPS[self.kind] * steps, self.end + STEPS[self.kind] * steps, self.kind)
        length = self.end - self.start
        return Period(self.start + length * steps, self.end + length * steps, "custom")

    def instants(self, zone: tzinfo) -> tuple[datetime, datetime]:
        return local_midnight(self.start, zone), local_midnight(self.end, zone)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The UTC instant a local day begins (a local day can be 23 or 25 hours long)."""
    return datetime.combine(day, time(0, 0)).replace(tzinfo=zone).astimezone(UTC)


def month_start(day: date) -> date:
    return day.replace(day=1)


def quarter_start(day: date) -> date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def preset_period(preset: str, *, now: datetime, zone: tzinfo) -> Period:
    key = (preset or "").strip().lower().replace("_", "-").replace(" ", "-")
    if key not in PRESETS:
        raise InvalidInput(f"invalid period {preset!r}: choose one of {', '.join(PRESETS)}, or give a first and a last day")
    which, kind = key.split("-")
    today = resolve_now(now).astimezone(zone).date()
    start = {"month": month_start(today), "quarter": quarter_start(today), "year": today.replace(month=1, day=1)}[kind]
    if which == "last":
        start -= STEPS[kind]
    return Period(start, start + STEPS[kind], kind, key)


def resolve_period(*, preset: str | None = None, start: date | str | None = None, end: date | str | None = None,
                   now: datetime, zone: tzinfo, order: str | None = None) -> Period:
    """A preset, or a custom range of days (`end` included, as people say "to the 30th"), typed as
    the user writes dates (`order`: their date_order)."""
    if start is None and end is None:
        return preset_period(preset or DEFAULT_PRESET, now=now, zone=zone)
    if preset:
        raise InvalidInput("give a period or a range of days (from and to), not both")
    if start is None:
        raise InvalidInput("give a first day too (from): the range needs one")
    # named as the app's fields and the CLI's options both name them, without the dashes
    first = _day(start, now, zone, "from", order)
    last = _day(end, now, zone, "to", order) if end is not None else resolve_now(now).astimezone(zone).date()
    if last < first:
        raise InvalidInput(f"the range ends ({last}) before it starts ({first})")
    return Period(first, last + timedelta(days=1), "custom")


def _day(value: date | str, now: datetime, zone: tzinfo, label: str, order: str | None) -> date:
    if isinstance(value, date):
        return value
    try:
        return parse_day(str(value), now=now, zone=zone, order=order)
    except DateOrderError as exc:
        raise InvalidInput(f"{label}: {exc.message}") from None
    except InvalidInput:
        raise InvalidInput(f"{label}: can't read {value!r} as a day; use e.g. 2026-11-01") from None
