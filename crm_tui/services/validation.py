"""Validation of what people type: emails, phones, money, names and fixed choices.

Each function returns the normalised value or raises InvalidInput with a one-line message.
Control characters are dealt with here both ways: `clean_text` on the way in, `printable` on
the way out (the CLI's console and the app's line filter).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from enum import StrEnum

from crm_tui.config import phone_country  # noqa: F401 - v.phone_country, the setting's rule too
from crm_tui.errors import InvalidInput
from crm_tui.services.money import currency_code, currency_digits, parse_amount  # noqa: F401 - v.currency_code


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
    """The one rule for storing a phone: E.164 where the number parses as a valid number (with
    `region`, the default country, for numbers without a +code); otherwise the number as typed,
    if it at least looks like a phone number (an extension, an internal or foreign number is
    kept rather than refused or guessed)."""
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
        number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        # E.164 has no extension: it is kept after the number, not dropped
        return f"{number} x{parsed.extension}" if parsed.extension else number
    return raw


def money(value: str | int | Decimal, currency: str, *, locale: str | None = None) -> int:
    """An amount as typed ("12,500.50", "$900", 1200) in the currency's minor units: read by the
    one amount parser, services/money.py."""
    return parse_amount(value, currency, locale=locale)


# en_US's symbol and minor digits of the currencies most amounts are in, as babel has them: their
# amounts are written here without loading babel and its locale data (a few times what the rest of
# the board's first frame costs); tests/unit/test_money.py checks them against babel
_EN_US_PLAIN = {"USD": ("$", 2), "EUR": ("€", 2), "GBP": ("£", 2), "JPY": ("¥", 0)}


def format_money(amount_minor: int, currency: str, *, locale: str = "en_US") -> str:
    plain = _EN_US_PLAIN.get(currency) if locale == "en_US" else None
    if plain is not None:
        symbol, digits = plain
        text = f"{symbol}{Decimal(abs(amount_minor)).scaleb(-digits):,.{digits}f}"
        return f"-{text}" if amount_minor < 0 else text
    from babel.numbers import format_currency

    digits = currency_digits(currency)
    return format_currency(Decimal(amount_minor).scaleb(-digits), currency, locale=locale)


# C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F): none is text; a terminal acts on them
_C0_C1 = "\x00-\x1f\x7f-\x9f"
_CONTROLS = re.compile(f"[{_C0_C1}]")
_CONTROLS_BUT_LAYOUT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85]")
# whole escape sequences (ECMA-48), so that a pasted colour code or link leaves no "[31m" behind
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, "clear the screen"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # OSC, DCS..: titles, links
    r"|\x1b[ -/]*[0-~]"  # the short ones: ESC c resets the terminal
)


def clean_text(value: str, *, multiline: bool = False) -> str:
    """`value` without control characters: the one place every text field passes on its way in.

    Control characters are STRIPPED, not refused: a name pasted from a coloured terminal or a
    cell of a spreadsheet or a vCard holding one should not fail a command or an import row for
    something nobody can see. Whole escape sequences go (CSI such as ESC[2J, OSC such as a window
    title or an OSC 8 link, and the short ESC ones), then every other C0/C1 character and DEL.
    Where the field allows several lines (`multiline`), tab and newline stay and CR LF or a lone
    CR becomes a newline; in a one-line field, tab and line breaks become a space.
    Surrounding whitespace is left as it is (the callers strip)."""
    if value.isprintable():  # the common case: nothing to do
        return value
    text = _ESCAPE_SEQUENCE.sub("", value)
    if multiline:
        return _CONTROLS_BUT_LAYOUT.sub("", _LINE_BREAKS.sub("\n", text))
    return _CONTROLS.sub("", re.sub("[\t\n\r\x0b\x0c\x85]", " ", text))


def printable(text: str, *, layout: bool = True) -> str:
    """`text` safe to send to a terminal: every C0/C1 control character and DEL removed (they are
    zero-width, so the line keeps its width), tab and newline kept when `layout` is true.
    For text on its way out, which an older database or a direct SQL write may still hold."""
    if text.isprintable():
        return text
    return (_CONTROLS_BUT_LAYOUT if layout else _CONTROLS).sub("", text)


def required_text(value: str | None, label: str, *, max_length: int = 200, multiline: bool = False) -> str:
    text = clean_text(value or "", multiline=multiline).strip()
    if not text:
        raise InvalidInput(f"{label} is required")
    return optional_text(text, label, max_length=max_length, multiline=multiline) or ""


def optional_text(value: str | None, label: str, *, max_length: int = 200,
                  multiline: bool = False) -> str | None:
    """`value` cleaned (see clean_text) and stripped, or None when that leaves nothing."""
    if value is None:
        return None
    text = clean_text(value, multiline=multiline).strip()
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


def non_negative(value: int | None, label: str, *, maximum: int | None = None) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput(f"{label} must not be negative (got {value})")
    if value is not None and maximum is not None and value > maximum:
        raise InvalidInput(f"{label} must be at most {maximum} (got {value})")
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
