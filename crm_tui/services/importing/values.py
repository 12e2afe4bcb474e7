"""Cell values as spreadsheets hold them: dates in any order (an ambiguous one read as --dayfirst or
--monthfirst, else the user's date_order, else refused, never guessed),
the currency an amount names, phones without a country code, yes/no flags, "Last, First".
Amounts themselves are read by services/money.py, as everywhere else."""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

from crm_tui.errors import InvalidInput
from crm_tui.services import validation as v
from crm_tui.services.dates import ORDER_SETTING, DateOrderError, DateOutOfRange, parse_when

_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b")
_YEAR_FIRST = re.compile(r"^\s*\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}")
ORDER_HINT = f"Re-run with --dayfirst or --monthfirst, or set {ORDER_SETTING}"
_SIMPLE_EMAIL = re.compile(
    r"^[a-z0-9](?:[a-z0-9_%+\-]|\.(?!\.))*(?<!\.)@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB"}
_TRUE = frozenset({"yes", "y", "true", "1", "x", "done", "completed", "complete", "closed", "finished"})
_FALSE = frozenset({"no", "n", "false", "0", "", "open", "not started", "in progress", "pending", "todo",
                    "to do", "waiting", "deferred"})


def email(text: str) -> str:
    """The normalised (lower-case) email. Plain ASCII addresses, nearly all of a big file, are
    checked by one regular expression; anything else goes through email-validator."""
    lowered = text.strip().lower()
    if _SIMPLE_EMAIL.match(lowered) and len(lowered) <= 254 and len(lowered.split("@")[0]) <= 64:
        return lowered
    return v.email(text)


def phone(text: str, region: str | None) -> str:
    """E.164 where it parses; a number already in E.164 form is returned as it is either way."""
    raw = text.strip()
    if _E164.match(raw):
        return raw
    return v.phone(raw, region=region)


def check_declared(text: str, dayfirst: bool | None) -> None:
    """A numeric day and month that no order reads (31/31) is refused, and so is an unambiguous
    value (13/04) that contradicts the order the import declared: the file is not written the way
    the person said, and its ambiguous dates would be misread."""
    if _YEAR_FIRST.match(text) or not (match := _NUMERIC_DATE.match(text)):
        return
    first, second = int(match[1]), int(match[2])
    if first > 12 and second > 12:
        raise InvalidInput(f"invalid date {text.strip()!r}")
    if dayfirst is None:
        return
    if (first > 12) != (second > 12) and dayfirst != (first > 12):
        order = "day-first" if dayfirst else "month-first"
        raise InvalidInput(f"date {text.strip()!r} is not {order} as the import says")


def moment(text: str, *, dayfirst: bool | None, zone: tzinfo, now: datetime,
           default_time: time = time(12, 0), order: str | None = None, day_zone: tzinfo | None = None) -> datetime:
    """A point in time (UTC) from a date or date-time cell, read in `zone`; a date without a time is
    that calendar day in `day_zone` (the team's). An ambiguous date follows --dayfirst/--monthfirst,
    else `order` (the importing user's date_order), and is refused with neither."""
    check_declared(text, dayfirst)
    try:
        return parse_when(text, now=now, zone=zone, dayfirst=dayfirst, default_time=default_time, order=order,
                          day_zone=day_zone, order_hint=ORDER_HINT)
    except (DateOutOfRange, DateOrderError):
        raise
    except InvalidInput:
        raise InvalidInput(f"can't read {text.strip()!r} as a date") from None


def day(text: str, *, dayfirst: bool | None, zone: tzinfo, now: datetime, order: str | None = None,
        day_zone: tzinfo | None = None) -> date:
    """A calendar day: the team's (`day_zone`) day of the moment the cell names."""
    return moment(text, dayfirst=dayfirst, zone=zone, now=now, order=order,
                  day_zone=day_zone).astimezone(day_zone or zone).date()


def currency_in(text: str) -> str | None:
    """The currency an amount names by symbol or code ("€1.200", "1200 EUR"), if any."""
    for symbol, code in _SYMBOLS.items():
        if symbol in text:
            return code
    match = re.search(r"\b([A-Z]{3})\b", text) if re.search(r"\d", text) else None
    return match[1] if match else None


def flag(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(f"can't read {text.strip()!r} as yes or no")


def split_name(text: str) -> tuple[str, str]:
    """(first, last) from a full name: "Ann Lee", "Lee, Ann", "Ann", "Mary Ann de la Cruz" (last word)."""
    name = " ".join(v.clean_text(text).split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip(), last.strip()
    first, _, last = name.rpartition(" ")
    return (first, last) if first else (last, "")


def split_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;|]", text) if part.strip()]
