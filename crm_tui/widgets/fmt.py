"""How the screens write times and amounts: short, in the user's zone, relative to the app clock."""

from __future__ import annotations

from datetime import datetime, tzinfo

from crm_tui.clock import in_zone
from crm_tui.services.validation import format_money


def when(value: datetime | None, now: datetime, zone: tzinfo) -> str:
    """"today 14:05", "yesterday", "3d ago", "in 2d", or a date, as a person scans a list."""
    if value is None:
        return "—"
    local, today = in_zone(value, zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    if days == 0:
        return f"today {local:%H:%M}"
    if days == -1:
        return "yesterday"
    if days == 1:
        return f"tomorrow {local:%H:%M}"
    if -30 < days < 0:
        return f"{-days}d ago"
    if 0 < days < 30:
        return f"in {days}d"
    return f"{local:%Y-%m-%d}"


def stamp(value: datetime | None, zone: tzinfo) -> str:
    return "—" if value is None else f"{in_zone(value, zone):%Y-%m-%d %H:%M}"


def money(amount_minor: int | None, currency: str) -> str:
    return "—" if amount_minor is None else format_money(amount_minor, currency)
