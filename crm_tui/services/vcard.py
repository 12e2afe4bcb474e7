"""vCard 3.0 for contacts, through vobject: one card per contact out, and cards read back as
contact fields (the import calls `read_contacts` for .vcf files). The CRM's own fields a card has
no property for travel as X-CRM-* properties, so an export reads back whole."""

from __future__ import annotations

import binascii
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crm_tui.errors import InvalidInput

CUSTOM_PREFIX = "custom."
# CRM field -> the X- property that carries it
X_FIELDS = {"lifecycle": "X-CRM-LIFECYCLE", "source": "X-CRM-SOURCE", "owner": "X-CRM-OWNER"}
X_CUSTOM = "X-CRM-CUSTOM"


def contact_vcard(record: dict[str, Any]) -> str:
    """One contact (an export record: see services.export) as vCard 3.0 text."""
    import vobject

    card = vobject.vCard()
    first, last = record.get("first_name") or "", record.get("last_name") or ""
    emails, phones = list(record.get("email") or []), list(record.get("phone") or [])
    card.add("n").value = vobject.vcard.Name(family=last, given=first)
    card.add("fn").value = " ".join(p for p in (first, last) if p) or (emails[0] if emails else "")
    for i, email in enumerate(emails):
        prop = card.add("email")
        prop.value = email
        prop.type_param = ["INTERNET", "PREF"] if i == 0 else ["INTERNET"]
    for i, phone in enumerate(phones):
        prop = card.add("tel")
        prop.value = phone
        prop.type_param = ["VOICE", "PREF"] if i == 0 else ["VOICE"]
    if record.get("company"):
        card.add("org").value = [record["company"]]
    if record.get("title"):
        card.add("title").value = record["title"]
    if record.get("tags"):
        card.add("categories").value = list(record["tags"])
    for name, prop in X_FIELDS.items():
        if record.get(name):
            card.add(prop.lower()).value = str(record[name])
    custom = {k[len(CUSTOM_PREFIX):]: v for k, v in record.items() if k.startswith(CUSTOM_PREFIX) and v is not None}
    if custom:
        card.add(X_CUSTOM.lower()).value = json.dumps(custom, ensure_ascii=False, sort_keys=True)
    return card.serialize()


def read_contacts(path: str | Path) -> Iterator[dict[str, Any]]:
    """The contacts of a .vcf file (vCard 2.1, 3.0 or 4.0), one dict per card, card by card.

    Keys are the import's contact fields (services/importing/run.py's docstring): first_name,
    last_name, title, company (the ORG name), email and phone (lists, preferred first), tags,
    custom (a dict), and lifecycle, source and owner when the card carries them (X-CRM-*), and
    `line`, where the card begins in the file. A card with neither a name nor an email still comes
    out, so the import can report it; a card that cannot be read (a line that is not a property,
    bad base64 data, no END:VCARD) comes as {"line": ..., "problem": ...}, and the cards after it
    are read as usual."""
    path = Path(path)
    try:
        stream = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        stream = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise InvalidInput(f"cannot read {str(path)!r}: {exc.strerror}") from None
    found = False
    for line, text in _cards(stream):
        found = True
        yield _read_card(line, text)
    if not found:
        raise InvalidInput(f"{path.name} holds no vCard: a card begins with a BEGIN:VCARD line")


_BEGIN = re.compile(r"\s*BEGIN\s*:\s*VCARD\s*", re.IGNORECASE)
_END = re.compile(r"\s*END\s*:\s*VCARD\s*", re.IGNORECASE)


def _cards(stream: str) -> Iterator[tuple[int, str | None]]:
    """(the line a card begins on, its text) for each top-level card; text None for a card the
    file never closes. A card is split out before vobject reads it, so one bad card is one bad row."""
    start, depth, lines = 0, 0, []
    # only CR and LF end a line (str.splitlines would also split at U+2028 and friends, as vobject does not)
    for number, text in enumerate(io.StringIO(stream, newline=""), start=1):
        if _BEGIN.fullmatch(text):
            if depth == 0:
                start, lines = number, []
            depth += 1
        if depth:
            lines.append(text)
        if depth and _END.fullmatch(text):
            depth -= 1
            if depth == 0:
                yield start, "".join(lines)
    if depth:
        yield start, None


def _read_card(line: int, text: str | None) -> dict[str, Any]:
    import vobject

    if text is None:
        return {"line": line, "problem": "the card never ends: no END:VCARD line follows"}
    try:
        # strict: a line vobject cannot read makes the card invalid, instead of being dropped
        return {**card_fields(vobject.readOne(text, ignoreUnreadable=False)), "line": line}
    except binascii.Error:
        return {"line": line, "problem": "data marked ENCODING=b (base64), such as a PHOTO, is not valid base64"}
    except vobject.base.VObjectError as exc:  # its line numbers are not the file's: the card's line is
        return {"line": line, "problem": _one_line(f"the card cannot be read: {exc.msg!s}")}
    except Exception as exc:  # noqa: BLE001 - vobject raises many kinds for a damaged card
        return {"line": line, "problem": _one_line(f"the card cannot be read ({type(exc).__name__}: {exc})")}


def _one_line(text: str) -> str:
    """A library's message about a card, which may quote the card: one line, no control characters."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", " ".join(text.split()))[:200]


def card_fields(card) -> dict[str, Any]:
    out: dict[str, Any] = {"first_name": "", "last_name": ""}
    contents = card.contents
    name = contents.get("n", [None])[0]
    if name is not None and (name.value.given or name.value.family):
        out["first_name"] = _text(name.value.given)
        out["last_name"] = _text(name.value.family)
    elif "fn" in contents:
        first, _sep, last = str(contents["fn"][0].value).strip().partition(" ")
        out["first_name"], out["last_name"] = first, last.strip()
    out["email"] = [str(p.value).strip() for p in _preferred_first(contents.get("email", [])) if p.value]
    out["phone"] = [str(p.value).strip() for p in _preferred_first(contents.get("tel", [])) if p.value]
    if "org" in contents:
        org = contents["org"][0].value
        out["company"] = (org[0] if isinstance(org, list) and org else str(org or "")).strip() or None
    if "title" in contents:
        out["title"] = str(contents["title"][0].value).strip() or None
    if "categories" in contents:
        tags: list[str] = []
        for prop in contents["categories"]:
            values = prop.value if isinstance(prop.value, list) else str(prop.value).split(",")
            tags += [t.strip() for t in values if t.strip()]
        out["tags"] = tags
    for field, prop in X_FIELDS.items():
        if prop.lower() in contents:
            out[field] = str(contents[prop.lower()][0].value).strip()
    if X_CUSTOM.lower() in contents:
        try:
            custom = json.loads(contents[X_CUSTOM.lower()][0].value)
        except (TypeError, ValueError):
            custom = None
        if isinstance(custom, dict):
            out["custom"] = custom
    return out


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value if v).strip()
    return str(value or "").strip()


def _preferred_first(props: list) -> list:
    def preferred(prop) -> bool:
        types = [str(t).upper() for t in prop.params.get("TYPE", [])]
        return "PREF" in types or "PREF" in {k.upper() for k in prop.params}
    return sorted(props, key=lambda p: not preferred(p))
