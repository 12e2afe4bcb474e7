"""Amounts as people type them, read one way on every path (CLI, app, import): exactly, or not at all.

A number is read with the user's locale's separators (babel, strict: "12,34,5" and "12,5,00" are
refused, not guessed). Spaces group thousands in any locale. A number that uses both "." and ","
says by itself which is the decimal mark (the last one), so "€1.234,50" reads the same for everyone.
A currency symbol or code may come before or after the number. Exponents ("1e309"), suffixes
("12k", "$1.2M") and signs or brackets for negative amounts ("-5", "(500)") are refused: a deal's
amount is never negative, and a shorthand read wrong costs more than retyping it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from crm_tui.errors import InvalidInput

DEFAULT_LOCALE = "en_US"
MAX_AMOUNT_MINOR = 10**15  # a quadrillion cents: far above any deal, far below BIGINT

_SYMBOLS = "$€£¥₹₩₽"
_SYMBOL_CODES = {"€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₽": "RUB"}  # "$" and "¥" name several
_SPACES = re.compile(r"[ \u00a0\u202f\u2009_]")  # space, no-break spaces, thin space, 1_000
_LEADING = re.compile(rf"^(?P<code>[A-Za-z]{{3}}(?![A-Za-z]))?\s*(?P<symbol>[A-Za-z]{{0,2}}[{_SYMBOLS}])?\s*")
_TRAILING = re.compile(rf"\s*(?P<symbol>[{_SYMBOLS}])?\s*(?P<code>(?<![A-Za-z])[A-Za-z]{{3}})?$")
_EXPONENT = re.compile(r"^\d[\d.,]*e[+-]?\d+$", re.IGNORECASE)
_SUFFIX = re.compile(r"^\d[\d.,]*\s*(k|m|mm|bn|b|mn|mio|thousand|million|billion)$", re.IGNORECASE)
_NUMBER_CHARS = re.compile(r"^[0-9.,'\u2019\u202f]+$")
_PLAIN = re.compile(r"^[0-9]+(?:([.,])[0-9]+)?$")  # 12500, 12500.50: most cells of a big file


def currency_code(value: str) -> str:
    from babel.numbers import list_currencies

    code = (value or "").strip().upper()
    if code not in list_currencies():
        raise InvalidInput(f"unknown currency {value!r}: use an ISO 4217 code such as USD or EUR") from None
    return code


def currency_digits(code: str) -> int:
    from babel.numbers import get_currency_precision

    return get_currency_precision(code)


@lru_cache(maxsize=64)
def check_locale(name: str | None) -> str:
    """The locale name amounts are read in (en_US when none is configured); refuses unknown ones."""
    from babel import Locale, UnknownLocaleError

    if not name:
        return DEFAULT_LOCALE
    try:
        return str(Locale.parse(name.strip().replace("-", "_").split(".")[0]))
    except (UnknownLocaleError, ValueError, TypeError):
        raise InvalidInput(f"unknown locale {name!r}: use a name such as en_US, de_DE or fr_FR") from None


def parse_amount(value: str | int | Decimal, currency: str, *, locale: str | None = None) -> int:
    """An amount in the currency's minor units (cents): from an int (a whole amount), a Decimal,
    or text as typed in `locale` ("12,500.50" in en_US, "12.500,50" in de_DE, "$900", "1 200 EUR")."""
    code = currency_code(currency)
    if isinstance(value, bool):
        raise InvalidInput(f"invalid amount {value!r}")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    else:
        amount = _read(str(value), code, check_locale(locale))
    if not amount.is_finite():
        raise InvalidInput(f"invalid amount {value!r}")
    if amount < 0:
        raise InvalidInput(f"amount must not be negative (got {value})")
    digits = currency_digits(code)
    minor = amount.scaleb(digits)
    if minor != minor.to_integral_value():
        raise InvalidInput(f"{code} amounts have at most {digits} decimal places (got {value})")
    if minor >= MAX_AMOUNT_MINOR:
        raise InvalidInput(f"amount {value} is too large")
    return int(minor)


def input_text(amount_minor: int, currency: str, *, locale: str | None = None) -> str:
    """An amount as a form shows it for editing: the number alone, in `locale`, which
    parse_amount reads back to the same value."""
    from babel.numbers import format_decimal

    digits = currency_digits(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(amount_minor).scaleb(-digits), format=pattern, locale=check_locale(locale),
                          decimal_quantization=False)


def _read(text: str, code: str, locale: str) -> Decimal:
    raw = " ".join(text.split())
    body = _strip_affixes(raw, code, locale)
    if body.startswith("(") and body.endswith(")") or body.startswith(("-", "\u2212")) or body.endswith("-"):
        raise InvalidInput(f"amount must not be negative (got {raw})")
    body = body.removeprefix("+").strip()
    if _EXPONENT.match(body):
        raise InvalidInput(f"invalid amount {raw!r}: exponents are not supported; type the number in full")
    if match := _SUFFIX.match(body):
        raise InvalidInput(f"invalid amount {raw!r}: suffixes such as {match[1]!r} are not supported; "
                           f"type the number in full, e.g. 12000 for 12k")
    if (plain := _PLAIN.match(body)) and (not plain[1] or plain[1] == _symbols(locale)[1]):
        return Decimal(body.replace(",", "."))  # no grouping to check: read it as it is, fast
    grouped = _SPACES.sub("\u202f", body)
    if not grouped or not _NUMBER_CHARS.match(grouped) or not grouped[0].isdigit() and grouped[0] not in ".,":
        raise _unreadable(raw, locale)
    for candidate in _readings(grouped, locale):
        number = _strict(grouped, candidate)
        if number is not None:
            return number
    raise _unreadable(raw, locale)


def _strip_affixes(text: str, code: str, locale: str) -> str:
    """The number without the currency's symbol or code around it ("$ 12", "12 EUR", "US$12");
    a symbol or code of another currency is refused, not dropped."""
    body = text
    for pattern in (_LEADING, _TRAILING):
        match = pattern.search(body)
        named = (match["code"] or "").upper()
        if named and named not in _currencies():
            raise _unreadable(text, locale)  # "12abc", "NaN": letters that name no currency
        symbol = (match["symbol"] or "")[-1:]
        if named and named != code or _SYMBOL_CODES.get(symbol, code) != code:
            other = named if named and named != code else _SYMBOL_CODES[symbol]
            raise InvalidInput(f"amount {text!r} is in {other}, not {code}: give the currency as well")
        body = (body[:match.start()] + body[match.end():]).strip()
    return body


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def _readings(text: str, locale: str) -> list[str]:
    """The locales to try: the user's; and, when the text uses two kinds of separator (so the
    last of "." and "," can only be the decimal mark), the convention that reading implies."""
    readings = [locale]
    kinds = {ch for ch in text if ch in ".,\u202f'\u2019"}
    marks = [i for i, ch in enumerate(text) if ch in ".,"]
    if len(kinds) >= 2 and marks:
        readings.append("en_US" if text[marks[-1]] == "." else "de_DE")
    return readings


@lru_cache(maxsize=64)
def _symbols(locale: str) -> tuple[str, str]:
    """(group, decimal) symbols of the locale."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    return get_group_symbol(locale), get_decimal_symbol(locale)


def _strict(text: str, locale: str) -> Decimal | None:
    from babel.numbers import NumberFormatError, parse_decimal

    group = _symbols(locale)[0]
    candidate = text.replace("\u202f", group)
    if group in ("'", "\u2019"):
        candidate = candidate.replace("\u2019", "'").replace("'", group)
    try:
        return parse_decimal(candidate, locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        return None


def _unreadable(raw: str, locale: str) -> InvalidInput:
    from babel.numbers import format_decimal

    example = format_decimal(Decimal("12500.50"), format="#,##0.00", locale=locale)
    plain = format_decimal(Decimal("12500"), format="0", locale=locale)
    return InvalidInput(f"invalid amount {raw!r}: use a number such as {plain} or {example}")
