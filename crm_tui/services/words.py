"""Counts and spans of time in words, for the app, the CLI and the reports alike: "1 deal",
"3 deals", "1 new company"; "45m", "1h 30m", "2d 4h"."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """"1 row", "2 rows", "1,204 rows" (`many` for a noun that does not take an s)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def span(minutes: int) -> str:
    """Minutes as a person reads a wait, in the two largest units, the second left out when it is
    0: "0m", "45m", "1h", "3h 5m", "2d", "2d 4h" (days of 24 hours; the sign is the caller's)."""
    days, rest = divmod(abs(int(minutes)), 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"
