"""Validation of what people type: emails, phones, money and its display (pure: no database)."""

from __future__ import annotations

import pytest

from crm_tui.errors import InvalidInput
from crm_tui.services import validation as v


@pytest.mark.parametrize("raw, expected", [
    ("ada@example.com", "ada@example.com"),
    ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
    ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
])
def test_emails_are_trimmed_and_lower_cased(raw, expected):
    assert v.email(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "ada", "ada@", "@example.com", "ada@@example.com", "ada example@x.com",
                                 "ada@example", "a\x00b@example.com"])
def test_bad_emails_are_refused(raw):
    with pytest.raises(InvalidInput) as caught:
        v.email(raw)
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("raw, region, expected", [
    ("+1 (415) 555-2671", None, "+14155552671"),
    ("+1.415.555.2671", None, "+14155552671"),
    ("415-555-2671", "US", "+14155552671"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("020 7946 0958", "gb", "+442079460958"),
    ("+44 20 7946 0958", "US", "+442079460958"),  # a country code beats the region
    ("+33 1 42 68 53 00", None, "+33142685300"),
    ("12345", None, "12345"),  # looks like a phone but does not parse: kept as typed
    # the extension is kept after the number: with a default country the app and the CLI normalise
    # too now (issue 17 #6), and must not drop what people type there
    ("+1 415 555 2671 ext 12", None, "+14155552671 x12"),
])
def test_phones_become_e164_where_they_parse(raw, region, expected):
    assert v.phone(raw, region=region) == expected


@pytest.mark.parametrize("raw", ["", "abc", "555-CALL-NOW", "12", "1234", "+1 415 555 2671 !!", "1" * 18,
                                 "mailto:ada@example.com"])
def test_bad_phones_are_refused(raw):
    with pytest.raises(InvalidInput, match="phone number"):
        v.phone(raw)


@pytest.mark.parametrize("raw, currency, expected", [
    ("12,500.50", "USD", 1250050),
    ("12500", "USD", 1250000),
    ("$900", "USD", 90000),
    (" 900 USD ", "USD", 90000),
    ("USD 1.5", "usd", 150),
    ("0", "EUR", 0),
    ("€1 000.00", "EUR", 100000),
    ("1200", "JPY", 1200),  # no minor unit
    ("¥1,200", "JPY", 1200),
    ("1.234", "KWD", 1234),  # three decimals
    (1200, "USD", 120000),  # an int is a whole amount
])
def test_money_in_minor_units(raw, currency, expected):
    assert v.money(raw, currency) == expected


@pytest.mark.parametrize("raw, currency, message", [
    ("-5", "USD", "must not be negative"),
    (-5, "USD", "must not be negative"),
    ("10.001", "USD", "USD amounts have at most 2 decimal places"),
    ("10.5", "JPY", "JPY amounts have at most 0 decimal places"),
    ("lots", "USD", "invalid amount 'lots'"),
    ("", "USD", "invalid amount"),
    ("1.2.3", "USD", "invalid amount"),
    ("NaN", "USD", "invalid amount"),
    ("Infinity", "USD", "invalid amount"),
    ("1" * 20, "USD", "too large"),
    ("100", "XYZ", "unknown currency 'XYZ'"),
    ("100", "", "unknown currency"),
    ("100", "dollars", "unknown currency"),
])
def test_bad_money_is_refused(raw, currency, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        v.money(raw, currency)
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("minor, currency, expected", [
    (1250050, "USD", "$12,500.50"),
    (0, "USD", "$0.00"),
    (1200, "JPY", "¥1,200"),
    (99, "EUR", "€0.99"),
    (1234, "KWD", "KWD1.234"),
])
def test_format_money(minor, currency, expected):
    assert v.format_money(minor, currency) == expected


def test_money_round_trips_through_format():
    for text in ("0.01", "12,500.50", "999,999.99"):
        assert v.money(v.format_money(v.money(text, "USD"), "USD"), "USD") == v.money(text, "USD")


def test_text_and_choices():
    assert v.required_text("  Acme  ", "name") == "Acme"
    assert v.optional_text("  ", "title") is None
    assert v.optional_text("a\x00b", "title") == "ab"
    with pytest.raises(InvalidInput, match="name is required"):
        v.required_text(" ", "name")
    with pytest.raises(InvalidInput, match="title is too long \\(201 characters; at most 200\\)"):
        v.optional_text("x" * 201, "title")
    assert v.currency_code(" eur ") == "EUR"
    assert v.percent(0) == 0 and v.percent(100) == 100
    with pytest.raises(InvalidInput, match="between 0 and 100"):
        v.percent(101)
    assert v.search_text("José", "Ñandú") == "josé ñandú jose nandu"
    assert v.fold("  Ada   LOVELACE ") == "ada lovelace"


@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP", "JPY"])
def test_amounts_written_without_babel_are_written_as_babel_writes_them(currency):
    """format_money writes the common currencies' en_US amounts itself (babel's locale data loads
    only for the others, and for other locales): each as babel would."""
    from decimal import Decimal

    from babel.numbers import format_currency

    from crm_tui.services.validation import _EN_US_PLAIN, currency_digits, format_money

    assert _EN_US_PLAIN[currency][1] == currency_digits(currency)
    for amount in (0, 1, 5, 99, 100, 1234, 100000, 123456789, 10**15, -1, -100, -123456789):
        expected = format_currency(Decimal(amount).scaleb(-currency_digits(currency)), currency, locale="en_US")
        assert format_money(amount, currency) == expected, amount
    assert format_money(123456, currency, locale="de_DE") == format_currency(
        Decimal(123456).scaleb(-currency_digits(currency)), currency, locale="de_DE")
