"""Argument parsers every command shares: a record id is read one way, and refused in one line."""

from __future__ import annotations

import ipaddress

from crm_tui.errors import InvalidInput
from crm_tui.services.common import MAX_ID, is_id, parse_id


def record_id(value: str | int) -> int:
    """A record id (typer's `parser=`): a whole number from 1 to MAX_ID, what the id columns hold.
    Anything else is refused before the database sees it; a larger number would overflow the
    driver instead of finding nothing."""
    number = parse_id(value)
    if number is None or not is_id(number):
        raise InvalidInput(f"bad id {str(value)!r}: an id is a whole number from 1 to {MAX_ID}")
    return number

FIELD_HELP = "A custom field as name=value (name= clears it; repeat for more); see `crm field list`."


def custom_fields(pairs: list[str]) -> tuple[dict, list[str]]:
    """--field name=value pairs: (the values to set, the names to clear)."""
    set_, clear = {}, []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"invalid field {pair!r}: use name=value")
        if value == "":
            clear.append(key.strip())
        else:
            set_[key.strip()] = value
    return set_, clear


def is_loopback(host: str) -> bool:
    """Whether --host names this machine only (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
