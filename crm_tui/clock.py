"""Time in one place: UTC now, the user's zone, and a frozen clock for tests."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_tui.errors import InvalidInput

UTC = timezone.utc


def utcnow() -> datetime:
    return datetime.now(UTC)


def resolve_now(now: datetime | None) -> datetime:
    """Services take an optional `now`; this gives the wall clock when none was passed."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def get_zone(name: str | None) -> tzinfo:
    """The named IANA zone, or the machine's local zone when no name is configured: its IANA zone
    when the machine names one (tzlocal reads TZ and the system's settings), else the offsets
    the C library reports. A ZoneInfo converts in C, several times faster than dateutil's tzlocal
    (a list of 30 rows converts 60 times as it is drawn)."""
    if not name:
        import tzlocal  # on first use: only a user without a zone of their own needs it

        try:
            return tzlocal.get_localzone()
        except (ZoneInfoNotFoundError, ValueError, LookupError, OSError):
            from dateutil import tz as dateutil_tz

            return dateutil_tz.tzlocal()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}; use an IANA name such as Europe/Paris") from None


def in_zone(value: datetime, zone: tzinfo) -> datetime:
    """`value` in `zone`, for showing it. Entry keeps dates to the years 1900-2200, but an older row
    (or a direct SQL write) may hold 9999-12-31 23:59 UTC, which has no local time east of UTC:
    such a value is shown as the last (or first) moment a datetime can hold, instead of failing."""
    try:
        return value.astimezone(zone)
    except (OverflowError, ValueError):
        edge = datetime.max if value.year > 1 else datetime.min
        return edge.replace(tzinfo=zone)

