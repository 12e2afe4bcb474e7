"""Counts in words, for the app and the CLI alike: "1 deal", "3 deals", "1 new company"."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """"1 row", "2 rows", "1,204 rows" (`many` for a noun that does not take an s)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"
