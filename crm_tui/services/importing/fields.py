"""What an import file's columns mean: the fields of each kind of record, the header spellings
that name them, and how --map, --set, --custom and --value/--values change the detected mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from crm_tui.errors import InvalidInput
from crm_tui.services.validation import strip_accents

ENTITIES = ("contacts", "companies", "deals", "activities", "tasks", "users", "products")
CUSTOM_PREFIX = "custom."
# fields that take several values: every column mapped to one adds to its list
LIST_FIELDS = frozenset({"email", "phone", "tags", "social"})


def header_key(text: str) -> str:
    """"E-mail Address", "email_address" and "EmailAddress" all become "emailaddress"."""
    return re.sub(r"[^a-z0-9]", "", strip_accents(str(text).casefold()))


def _spellings(*names: str) -> tuple[str, ...]:
    return tuple(header_key(n) for n in names)


_OWNER = _spellings("owner", "owner name", "owner email", "sales agent", "sales rep", "salesperson", "rep",
                    "account owner", "contact owner", "deal owner", "assigned to", "user", "responsible")
_COMPANY = _spellings("company", "company name", "account", "account name", "organization", "organisation",
                      "organization name", "org", "employer", "business", "customer")
_CONTACT = _spellings("contact", "contact email", "contact name", "primary contact", "person", "email",
                      "e-mail", "email address", "contact person")
_DEAL = _spellings("deal", "deal name", "deal title", "opportunity", "opportunity name", "opportunity title")

# field -> header spellings, per kind of record; the first field claiming a header wins
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "first_name": _spellings("first name", "given name", "first", "forename", "fname", "contact first name"),
        "last_name": _spellings("last name", "surname", "family name", "last", "lname", "contact last name"),
        "full_name": _spellings("name", "full name", "contact name", "contact", "display name", "person"),
        "email": _spellings("email", "e-mail", "email address", "e-mail address", "mail", "work email",
                            "primary email", "business email", "email 1", "email 2", "other email",
                            "personal email", "secondary email", "home email"),
        "phone": _spellings("phone", "phone number", "telephone", "tel", "mobile", "mobile phone", "cell",
                            "cell phone", "work phone", "business phone", "direct phone", "office phone",
                            "phone 1", "phone 2", "home phone", "mobile number"),
        "title": _spellings("title", "job title", "position", "role", "job", "job role"),
        "company": _COMPANY,
        "owner": _OWNER,
        "lifecycle": _spellings("lifecycle", "lifecycle stage", "lifecyclestage", "contact type"),
        "source": _spellings("source", "lead source", "origin", "channel", "contact source"),
        "address": _spellings("address", "street address", "mailing address", "home address", "postal address"),
        "birthday": _spellings("birthday", "birth date", "date of birth", "birthdate", "dob"),
        "social": _spellings("social", "social profile", "social profiles", "profile url", "linkedin",
                             "linkedin url", "twitter", "github", "facebook", "instagram"),
        "description": _spellings("description", "about", "bio", "background"),
        "tags": _spellings("tags", "tag", "labels", "label", "categories", "groups"),
    },
    "companies": {
        "name": _spellings("name", *("company", "company name", "account", "account name", "organization",
                                      "organisation", "organization name", "org", "business")),
        "domain": _spellings("domain", "website", "web site", "web", "url", "site", "company domain",
                             "homepage", "company website"),
        "industry": _spellings("industry", "sector", "vertical"),
        "size": _spellings("size", "employees", "company size", "number of employees", "headcount",
                           "employee count"),
        "address": _spellings("address", "street address", "street", "location", "billing address"),
        "owner": _OWNER,
        "parent": _spellings("parent", "parent company", "parent account", "parent account name", "subsidiary of",
                             "part of", "parent organization", "parent organisation", "group"),
        "notes": _spellings("notes", "note", "description", "comments", "about"),
    },
    "deals": {
        "title": _spellings("title", "name", "deal", "deal name", "deal title", "opportunity",
                            "opportunity name", "opportunity title", "subject"),
        "amount": _spellings("amount", "value", "deal value", "deal amount", "revenue", "price", "total",
                             "deal size", "amount usd", "opportunity amount", "opportunity value",
                             "expected revenue"),
        "currency": _spellings("currency", "currency code"),
        "stage": _spellings("stage", "deal stage", "pipeline stage", "sales stage", "phase"),
        "status": _spellings("status", "deal status", "won lost", "result"),
        "pipeline": _spellings("pipeline", "pipeline name", "sales pipeline"),
        "close_date": _spellings("close date", "closedate", "expected close", "expected close date",
                                 "closing date", "closed on", "date closed", "close", "closed date",
                                 "expected_close"),
        "owner": _OWNER,
        "company": _COMPANY,
        "contact": _CONTACT,
        "lost_reason": _spellings("lost reason", "reason lost", "loss reason", "closed lost reason"),
        # the deal's history: when it was opened (its created_at) and entered its current stage
        "opened_at": _spellings("opened at", "opened", "opened on", "open date", "date opened", "created",
                                "created date", "created on", "created at", "date created", "creation date",
                                "created time", "deal created", "deal created date", "start date", "started"),
        "stage_entered_at": _spellings("stage entered", "stage entered at", "stage entered on",
                                       "stage entered date", "date entered stage", "entered stage",
                                       "last stage change", "last stage change date", "stage changed",
                                       "stage changed at", "stage changed on", "stage change date",
                                       "stage date", "in stage since"),
    },
    "activities": {
        "kind": _spellings("type", "kind", "activity type", "activity", "activity kind"),
        "subject": _spellings("subject", "title", "summary"),
        "body": _spellings("body", "notes", "note", "description", "details", "content", "comments"),
        "occurred_at": _spellings("date", "when", "occurred at", "occurred", "datetime", "activity date",
                                  "time", "timestamp", "logged at", "date time"),
        "contact": _CONTACT,
        "company": _COMPANY,
        "deal": _DEAL,
        "user": _OWNER + _spellings("by", "logged by"),
        "direction": _spellings("direction", "inbound outbound"),
        "duration": _spellings("duration", "duration minutes", "minutes", "length", "duration min"),
        "outcome": _spellings("outcome", "result", "disposition", "call result"),
    },
    "tasks": {
        "title": _spellings("title", "task", "subject", "name", "task name", "to do", "todo"),
        "notes": _spellings("notes", "note", "description", "details", "body"),
        "due": _spellings("due", "due date", "due at", "deadline", "due datetime", "remind at", "reminder",
                          "date", "due on"),
        "assignee": _spellings("assignee", "assigned to", "owner", "user", "sales agent", "responsible"),
        "contact": _CONTACT,
        "company": _COMPANY,
        "deal": _DEAL,
        "done": _spellings("done", "completed", "status", "done at", "completed at", "completed on",
                           "is done", "done date", "complete"),
    },
    "users": {
        "login": _spellings("login", "username", "user name", "user", "user login", "login name", "user id",
                            "alias", "handle"),
        "name": _spellings("name", "full name", "display name", "user full name", "employee", "employee name"),
        "email": _spellings("email", "e-mail", "email address", "e-mail address", "work email", "mail"),
        "role": _spellings("role", "profile", "user role", "user profile", "crm role", "access", "permission set"),
        "manager": _spellings("manager", "reports to", "manager login", "manager email", "manager username",
                              "line manager", "supervisor", "reporting to", "boss"),
        "team": _spellings("team", "region", "territory", "sales team", "team name", "sales region", "division",
                           "department", "group"),
    },
    "products": {
        "sku": _spellings("sku", "code", "product code", "item code", "article", "article number", "part number",
                          "item number", "product id", "product sku", "ref", "reference"),
        "name": _spellings("name", "product", "product name", "item", "item name", "title", "article name"),
        "price": _spellings("price", "list price", "unit price", "sales price", "price per unit", "rate",
                            "amount"),
        "currency": _spellings("currency", "currency code", "price currency"),
        "unit": _spellings("unit", "uom", "unit of measure", "units"),
        "tax": _spellings("tax", "tax rate", "vat", "vat rate", "tax percent", "sales tax"),
        "description": _spellings("description", "details", "notes", "long description"),
    },
}

# what a file of each kind must give (one of each group), by a column or by --set
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "contacts": (("first_name", "last_name", "full_name", "email"),),
    "companies": (("name",),),
    "deals": (("title",),),
    "activities": (("occurred_at",), ("kind",)),
    "tasks": (("title",),),
    "users": (("login", "email"),),
    "products": (("sku",), ("name",)),  # prices: "price" (and "currency"), or "price.EUR" columns
}
HAS_CUSTOM = frozenset({"contacts", "companies", "deals"})


@dataclass(frozen=True)
class ColumnMap:
    """One column of the file and what becomes of it."""

    index: int
    column: str
    field: str | None  # None: skipped
    how: str  # detected, --map, custom, or skipped

    @property
    def label(self) -> str:
        return self.field or "(skipped)"


@dataclass(frozen=True)
class Mapping:
    entity: str
    columns: tuple[ColumnMap, ...]
    constants: tuple[tuple[str, str], ...]  # (field, value) from --set
    values: tuple[tuple[str, str, str], ...] = ()  # (field, from, to) from --value/--values

    @cached_property
    def rewrites(self) -> dict[tuple[str, str], str]:
        """(field, folded text) -> the text it becomes (see `rewrite`)."""
        return {(name, value_key(old)): new for name, old, new in self.values}

    def rewrite(self, name: str, text: str) -> str:
        """A cell's (trimmed) text as --value rewrites it: an exact match, ignoring case."""
        if not self.values:
            return text
        return self.rewrites.get((name, value_key(text)), text)

    def fields(self) -> set[str]:
        return {c.field for c in self.columns if c.field} | {f for f, _ in self.constants}

    def skipped(self) -> list[str]:
        return [c.column for c in self.columns if c.field is None]


def check_entity(entity: str) -> str:
    name = (entity or "").strip().lower()
    if name not in ENTITIES:
        raise InvalidInput(f"cannot import {entity!r}: choose one of {', '.join(ENTITIES)}")
    return name


def valid_fields(entity: str) -> list[str]:
    return list(FIELDS[entity])


def _check_field(entity: str, name: str, where: str) -> str:
    field = name.strip()
    if field.startswith(CUSTOM_PREFIX):
        if entity not in HAS_CUSTOM:
            raise InvalidInput(f"{where}: {entity} have no custom fields")
        if not field[len(CUSTOM_PREFIX):].strip():
            raise InvalidInput(f"{where}: name the custom field, as in custom.linkedin")
        return CUSTOM_PREFIX + field[len(CUSTOM_PREFIX):].strip()
    if entity == "products" and field.lower().startswith(PRICE_PREFIX):
        found = price_field(entity, "price" + field[len(PRICE_PREFIX):])
        if found is None:
            raise InvalidInput(f"{where}: {field!r} names no currency; write price.EUR, price.USD, ...")
        return found
    field = field.lower().replace(" ", "_").replace("-", "_")
    if field not in FIELDS[entity]:
        raise InvalidInput(f"{where}: {entity} have no field {name.strip()!r}; fields: "
                           f"{', '.join(FIELDS[entity])}" + (", custom.NAME" if entity in HAS_CUSTOM else ""))
    return field


def parse_pairs(values: list[str] | tuple[str, ...], option: str) -> list[tuple[str, str]]:
    """"Column=field" (or "field=value") texts as pairs; the first "=" splits."""
    out = []
    for text in values or ():
        left, sep, right = str(text).partition("=")
        if not sep or not left.strip():
            raise InvalidInput(f"{option} {text!r}: write it as LEFT=RIGHT")
        out.append((left.strip(), right.strip()))
    return out


PRICE_PREFIX = "price."  # products: "price.EUR", a price in that currency (columns "Price EUR", "EUR price")
_PRICE_IN = re.compile(r"^(?:price|listprice|unitprice)([a-z]{3})$|^([a-z]{3})(?:price|listprice|unitprice)$")


def price_field(entity: str, header: str) -> str | None:
    """A products column holding prices in one currency: "Price EUR", "price_usd", "GBP list price"."""
    match = _PRICE_IN.match(header_key(header)) if entity == "products" else None
    if match is None:
        return None
    from babel.numbers import list_currencies

    code = (match[1] or match[2]).upper()
    return PRICE_PREFIX + code if code in list_currencies() else None


def detect_field(entity: str, header: str) -> str | None:
    key = header_key(header)
    if not key:
        return None
    for field, spellings in FIELDS[entity].items():
        if key in spellings:
            return field
    return price_field(entity, header)


def custom_field(entity: str, header: str) -> str | None:
    """"custom.linkedin" -> the custom field linkedin, as `crm export` names the columns. It wins
    over the spellings ("custom.er" folds to "customer", a company spelling)."""
    text = header.strip()
    if entity not in HAS_CUSTOM or not text[:len(CUSTOM_PREFIX)].lower() == CUSTOM_PREFIX:
        return None
    name = text[len(CUSTOM_PREFIX):].strip()
    return CUSTOM_PREFIX + name if name else None


def build_mapping(entity: str, headers: list[str], *, overrides: list[tuple[str, str]] = (),
                  constants: list[tuple[str, str]] = (), custom: bool = False,
                  not_custom: frozenset[str] = frozenset()) -> Mapping:
    """Detected fields for each column, then --map overrides, then --custom for the rest (but for
    the columns named in `not_custom`)."""
    entity = check_entity(entity)
    by_key: dict[str, str] = {}
    for column, field in overrides:
        if header_key(column) not in {header_key(h) for h in headers}:
            raise InvalidInput(f"--map {column}={field}: the file has no column {column!r}; columns: "
                               f"{', '.join(h for h in headers if h)}")
        by_key[header_key(column)] = _check_field(entity, field, f"--map {column}={field}") if field not in (
            "", "-") else ""
    columns, taken = [], set()
    for index, header in enumerate(headers):
        key = header_key(header)
        if key in by_key:
            field = by_key[key] or None
            columns.append(ColumnMap(index, header, field, "--map" if field else "skipped"))
            continue
        field = custom_field(entity, header) or detect_field(entity, header)
        # a second "Name" column is not a second name: only list fields take several columns
        if field is not None and field in taken and field not in LIST_FIELDS:
            field = None
        if field is not None:
            columns.append(ColumnMap(index, header, field, "detected"))
        elif custom and entity in HAS_CUSTOM and header.strip() and header.strip() not in not_custom:
            columns.append(ColumnMap(index, header, CUSTOM_PREFIX + header.strip(), "custom"))
        else:
            columns.append(ColumnMap(index, header, None, "skipped"))
        if field:
            taken.add(field)
    fixed = tuple((_check_field(entity, f, f"--set {f}={value}"), value) for f, value in constants)
    mapping = Mapping(entity, tuple(columns), fixed)
    _check_header(mapping, headers)
    return mapping


def _looks_like_data(cell: str) -> bool:
    text = cell.strip()
    return "@" in text or bool(re.fullmatch(r"[+\d\s().,/:-]+", text))


def _check_header(mapping: Mapping, headers: list[str]) -> None:
    fields = mapping.fields()
    if not any(c.field for c in mapping.columns if c.how != "custom"):
        first = ", ".join(repr(h) for h in headers[:4])
        if any(_looks_like_data(h) for h in headers):
            raise InvalidInput(f"the file has no header row: its first row ({first}) looks like data; "
                               f"add a row naming the columns (for {mapping.entity}: "
                               f"{', '.join(valid_fields(mapping.entity)[:6])}, ...)")
        if not fields:
            raise InvalidInput(f"no column of the file names a {mapping.entity} field (first row: {first}); "
                               f"rename the columns or map them with --map \"Column=field\"")
    for group in REQUIRED[mapping.entity]:
        if not fields & set(group):
            need = " or ".join(group)
            raise InvalidInput(f"missing required column: {mapping.entity} need {need}; the file has "
                               f"{', '.join(repr(h) for h in headers if h)} (map one with --map \"Column={group[0]}\")")


# --- rewriting values (--value FIELD:FROM=TO, --values FILE with columns field,from,to) -------------


def value_key(text: str) -> str:
    """What a rewrite matches on: the text trimmed, in any case ("Widget-Pro " is "widget-pro")."""
    return str(text).strip().casefold()


def parse_value(text: str) -> tuple[str, str, str]:
    """"field:from=to" as (field, from, to): the first ":" ends the field, the first "=" the value."""
    name, colon, rest = str(text).partition(":")
    old, equals, new = rest.partition("=")
    if not colon or not equals or not name.strip():
        raise InvalidInput(f"--value {text!r}: write it as FIELD:FROM=TO, as in \"stage:Closed Won=Won\"")
    return name.strip(), old.strip(), new.strip()


def _value_field(mapping: Mapping, headers: list[str], name: str, where: str) -> str:
    """The field a rewrite names: a field of the kind, a custom field, or a column of the file
    (the field that column maps to)."""
    key = header_key(name)
    for column in mapping.columns:  # a custom field by its own name ("product" for custom.Product)
        if column.field and column.field.startswith(CUSTOM_PREFIX) and \
                header_key(column.field[len(CUSTOM_PREFIX):]) == key:
            return column.field
    try:
        return _check_field(mapping.entity, name, where)
    except InvalidInput:
        column = next((c for c in mapping.columns if header_key(c.column) == key), None)
        if column is None:
            raise
        if column.field is None:
            raise InvalidInput(f"{where}: the column {column.column!r} is skipped; map it to a field first") from None
        return column.field


def with_values(mapping: Mapping, headers: list[str], rewrites: list[tuple[str, str, str, str]]) -> Mapping:
    """The mapping with its value rewrites, each (name, from, to, where the person wrote it)."""
    values: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for name, old, new, where in rewrites:
        if not old:
            raise InvalidInput(f"{where}: name the value to rewrite (an empty cell is filled with --set)")
        field = _value_field(mapping, headers, name, where)
        key = (field, value_key(old))
        if key in values and values[key][2] != new:
            raise InvalidInput(f"{where}: {field} {old!r} is already rewritten to {values[key][2]!r} "
                               f"({values[key][3]})")
        values.setdefault(key, (field, old, new, where))
    return Mapping(mapping.entity, mapping.columns, mapping.constants,
                   tuple((f, old, new) for f, old, new, _ in values.values()))
