"""Validation of what people type: emails, phones, money, names and fixed choices.

Each function returns the normalised value or raises InvalidInput with a one-line message.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from enum import StrEnum

from crm_tui.errors import InvalidInput

MAX_AMOUNT_MINOR = 10**15  # a quadrillion cents: far above any deal, far below BIGINT


def email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    raw = (value or "").strip()
    if not raw:
        raise InvalidInput("email is empty")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"invalid email {raw!r}: {exc}") from None
    return result.normalized.lower()


_PHONE_CHARS = re.compile(r"^[+\d\s().\-/]+(?:\s*(?:x|ext\.?)\s*\d+)?$", re.IGNORECASE)


def phone(value: str, *, region: str | None = None) -> str:
    """E.164 where the number parses (with `region` for numbers without a country code);
    otherwise the number as typed, if it at least looks like a phone number."""
    import phonenumbers

    raw = (value or "").strip()
    if not raw:
        raise InvalidInput("phone number is empty")
    digits = re.sub(r"\D", "", raw)
    if not _PHONE_CHARS.match(raw) or not 5 <= len(digits) <= 17:
        raise InvalidInput(f"invalid phone number {raw!r}: use digits, with +country code where you can")
    try:
        parsed = phonenumbers.parse(raw, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return raw
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return raw


def currency_code(value: str) -> str:
    from babel.numbers import list_currencies

    code = (value or "").strip().upper()
    if code not in list_currencies():
        raise InvalidInput(f"unknown currency {value!r}: use an ISO 4217 code such as USD or EUR") from None
    return code


def currency_digits(code: str) -> int:
    from babel.numbers import get_currency_precision

    return get_currency_precision(code)


def money(value: str | int | Decimal, currency: str, *, locale: str | None = None) -> int:
    """An amount as typed ("12,500.50", "$900", 1200) in the currency's minor units: read by the
    one amount parser, services/money.py."""
    from crm_tui.services.money import parse_amount

    return parse_amount(value, currency, locale=locale)


def format_money(amount_minor: int, currency: str, *, locale: str = "en_US") -> str:
    from babel.numbers import format_currency

    digits = currency_digits(currency)
    return format_currency(Decimal(amount_minor).scaleb(-digits), currency, locale=locale)


def required_text(value: str | None, label: str, *, max_length: int = 200) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{label} is required")
    return optional_text(text, label, max_length=max_length) or ""


def optional_text(value: str | None, label: str, *, max_length: int = 200) -> str | None:
    if value is None:
        return None
    text = value.replace("\x00", "").strip()
    if len(text) > max_length:
        raise InvalidInput(f"{label} is too long ({len(text)} characters; at most {max_length})")
    return text or None


def choice(value: str | None, enum: type[StrEnum], label: str) -> str:
    text = (value or "").strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return enum(text).value
    except ValueError:
        options = ", ".join(member.value for member in enum)
        raise InvalidInput(f"invalid {label} {value!r}: choose one of {options}") from None


def percent(value: int, label: str = "probability") -> int:
    if not 0 <= int(value) <= 100:
        raise InvalidInput(f"{label} must be between 0 and 100 (got {value})")
    return int(value)


def non_negative(value: int | None, label: str) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput(f"{label} must not be negative (got {value})")
    return value


def fold(text: str) -> str:
    """Casefolded, for sort keys and duplicate matching."""
    return " ".join(text.casefold().split())


def strip_accents(text: str) -> str:
    if text.isascii():  # nothing to strip; the common case, and bulk loads call this per row
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_text(*parts: str | None) -> str:
    """The text a search index sees: casefolded, plus an accent-free copy where it differs,
    so "jose" finds "José"."""
    text = fold(" ".join(p for p in parts if p))
    plain = strip_accents(text)
    return text if plain == text else f"{text} {plain}"
