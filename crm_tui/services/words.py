"""Counts and spans of time in words, for the app, the CLI and the reports alike: "1 deal",
"3 deals", "1 new company"; "45m", "1h 30m", "2d 4h"."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """"1 row", "2 rows", "1,204 rows" (`many` for a noun that does not take an s)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def span(minutes: int, *, fit: int | None = None) -> str:
    """Minutes as a person reads a wait, in the two largest units, the second left out when it is
    0: "0m", "45m", "1h", "3h 5m", "2d", "2d 4h" (days of 24 hours; the sign is the caller's).
    `fit`: at most that many characters where it can be, the largest unit alone ("231d") when the
    two do not fit."""
    days, rest = divmod(abs(int(minutes)), 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        largest, text = f"{days}d", f"{days}d {hours}h" if hours else f"{days}d"
    elif hours:
        largest, text = f"{hours}h", f"{hours}h {mins}m" if mins else f"{hours}h"
    else:
        largest = text = f"{mins}m"
    return largest if fit is not None and len(text) > fit else text
