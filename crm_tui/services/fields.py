"""Typed custom fields: define, edit, archive and promote them; validate, show, filter and sort their values.

The values live where untyped custom values always have, in the record's `custom` JSON column, so
an import, an export, a merge or a workflow that knows nothing of types keeps working. A field
definition (models/custom_field.py) gives one key a type; every write of that key is then checked
and stored in the type's form:

    text, url      a string                     choice        one of the options (a string)
    number         a JSON number                multi         a list of options
    money          an integer of cents          yesno         true or false
    date           "YYYY-MM-DD"

Defining a field creates two expression indexes on the kind's table: (value, list order, id), so a
filter on the field walks the index in the list's order, and (value, id), so a sort by it does. On
PostgreSQL a number, an amount or a date gets a third, (list order, id, value), for a range in the
list's order (`RANGED`).
The SQL expression of a value is written the same way in the index and in every query
(`value_sql`), which is what lets SQLite and PostgreSQL match the one to the other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import exists, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import Conflict, InvalidInput, NotFound
from crm_tui.models import Company, Contact, CustomField, Deal
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit, check_version, flush
from crm_tui.services.paging import SortKey

ENTITY = "field"
PERMISSION = "field.admin"
KINDS: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal}
# the column each kind's list is ordered by by default: the filter index's second column
LIST_ORDER = {"contact": "sort_name", "company": "name_key", "deal": "title_key"}
TYPES = ("text", "number", "money", "date", "choice", "multi", "yesno", "url")
TYPE_LABELS = {"text": "text", "number": "number", "money": "money", "date": "date", "choice": "choice",
               "multi": "multi-choice", "yesno": "yes/no", "url": "URL"}
_TYPE_ALIASES = {"multi-choice": "multi", "multichoice": "multi", "multi_choice": "multi", "yes/no": "yesno",
                 "bool": "yesno", "boolean": "yesno", "yes-no": "yesno", "string": "text", "int": "number",
                 "integer": "number", "decimal": "number", "link": "url"}
NUMERIC = ("number", "money")
CHOICES = ("choice", "multi")
# a key is inlined in SQL (an index expression cannot take a parameter), so its letters are few
_KEY = re.compile(r"^[^\W\d][\w .-]{0,62}$")
_OPTION = re.compile(r"^[^,;\n\r\t]{1,64}$")
_YES = {"yes", "y", "true", "t", "1", "on"}
_NO = {"no", "n", "false", "f", "0", "off"}
MAX_TEXT = 2000
MAX_OPTIONS = 100
OPS = ("=", "!=", "<", "<=", ">", ">=", "has", "set", "unset")


@dataclass(frozen=True)
class FieldRead:
    id: int
    kind: str
    key: str
    label: str
    type: str
    required: bool
    default: Any
    options: tuple[str, ...]
    retired: tuple[str, ...]
    position: int
    archived: bool
    version: int

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.type]

    @property
    def offered(self) -> tuple[str, ...]:
        """The choices a person may pick now (retired ones stay on records, not in pickers)."""
        return tuple(o for o in self.options if o not in self.retired)


@dataclass(frozen=True)
class BadValue:
    record_id: int
    value: Any
    error: str


def _read(row: CustomField) -> FieldRead:
    return FieldRead(row.id, row.kind, row.key, row.label or row.key, row.type, bool(row.required), row.default,
                     tuple(row.options or ()), tuple(row.retired or ()), row.position, bool(row.archived),
                     row.version)


# --- parsing values -----------------------------------------------------------------------


def check_kind(kind: str) -> str:
    name = (kind or "").strip().lower()
    if name.endswith("s") and name[:-1] in KINDS:
        name = name[:-1]
    if name == "companie":
        name = "company"
    if name not in KINDS:
        raise InvalidInput(f"no record kind {kind!r}: choose contact, company or deal")
    return name


def check_type(type_: str) -> str:
    name = (type_ or "").strip().lower()
    name = _TYPE_ALIASES.get(name, name)
    if name not in TYPES:
        raise InvalidInput(f"no field type {type_!r}: choose text, number, money, date, choice, multi-choice, "
                           f"yes/no or url")
    return name


def check_key(key: str) -> str:
    name = " ".join(v.clean_text(str(key or "")).split())
    if not _KEY.match(name):
        raise InvalidInput(f"invalid field name {key!r}: a letter first, then letters, digits, space, . _ or -, "
                           f"at most 63")
    return name


def _options(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        for part in str(raw).split(","):
            option = " ".join(part.split())
            if not option:
                continue
            if not _OPTION.match(option):
                raise InvalidInput(f"invalid choice {option!r}: at most 64 characters, no commas or semicolons")
            if option.casefold() not in (o.casefold() for o in out):
                out.append(option)
    if len(out) > MAX_OPTIONS:
        raise InvalidInput(f"a field has at most {MAX_OPTIONS} choices")
    return out


def _one_choice(field: FieldRead, text_: str, *, allow_retired: bool) -> str:
    for option in field.options:
        if option.casefold() == text_.strip().casefold():
            if option in field.retired and not allow_retired:
                raise InvalidInput(f"{field.key}: {option!r} is retired; choose one of {', '.join(field.offered)}")
            return option
    raise InvalidInput(f"{field.key}: {text_.strip()!r} is not one of {', '.join(field.offered) or '(no choices)'}")


def parse_value(field: FieldRead, raw: Any, *, allow_retired: bool = True) -> Any:
    """`raw` (typed text, or a value already in some JSON form) as the field stores it; None for
    empty. Raises InvalidInput with a one-line message naming the field."""
    if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
        return None
    t, key = field.type, field.key
    if t in ("text", "url"):
        if isinstance(raw, (dict, list)):
            raise InvalidInput(f"{key}: must be text")
        value = v.clean_text(str(raw).strip() if t == "url" else str(raw), multiline=t == "text")
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"{key}: at most {MAX_TEXT} characters")
        if t == "url":
            parts = urlsplit(value if "://" in value else "https://" + value)
            if parts.scheme not in ("http", "https") or "." not in (parts.hostname or "") or " " in value:
                raise InvalidInput(f"{key}: {value!r} is not a web address (e.g. https://example.com)")
            value = value if "://" in value else "https://" + value
        return value
    if t in NUMERIC:
        if isinstance(raw, bool):
            raise InvalidInput(f"{key}: {raw!r} is not a number")
        if t == "money" and isinstance(raw, int):
            return raw  # stored cents
        text_ = str(raw).strip().replace(",", "").replace(" ", "").replace("_", "")
        if t == "money":
            text_ = text_.lstrip("$€£¥").removeprefix("USD").removeprefix("EUR").removeprefix("GBP")
        try:
            number = Decimal(text_)
        except InvalidOperation:
            raise InvalidInput(f"{key}: {str(raw).strip()!r} is not a {'amount' if t == 'money' else 'number'}") from None
        if not number.is_finite() or abs(number) >= Decimal(10) ** 15:
            raise InvalidInput(f"{key}: {str(raw).strip()!r} is out of range")
        if t == "money":
            cents = number * 100
            if cents != cents.to_integral_value():
                raise InvalidInput(f"{key}: {str(raw).strip()!r} has more than two decimals")
            return int(cents)
        return int(number) if number == number.to_integral_value() and "." not in text_ and "e" not in text_.lower() \
            else float(number)
    if t == "date":
        if isinstance(raw, datetime):
            return raw.date().isoformat()
        if isinstance(raw, date):
            return raw.isoformat()
        text_ = str(raw).strip()
        try:
            return date.fromisoformat(text_).isoformat()
        except ValueError:
            pass
        from crm_tui.services import dates
        try:
            return dates.parse_day(text_).isoformat()
        except InvalidInput:
            raise InvalidInput(f"{key}: {text_!r} is not a date (e.g. 2026-12-31)") from None
    if t == "yesno":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
        raise InvalidInput(f"{key}: {str(raw).strip()!r} is not yes or no")
    if t == "choice":
        if isinstance(raw, (list, dict)):
            raise InvalidInput(f"{key}: one choice only")
        return _one_choice(field, str(raw), allow_retired=allow_retired)
    # multi
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"[,;]", str(raw))
    out = []
    for item in items:
        if str(item).strip():
            choice = _one_choice(field, str(item), allow_retired=allow_retired)
            if choice not in out:
                out.append(choice)
    return sorted(out, key=field.options.index) or None


def display(field: FieldRead, value: Any) -> str:
    """A stored value as a person reads it."""
    if value is None or value == []:
        return ""
    t = field.type
    if t == "money" and isinstance(value, int) and not isinstance(value, bool):
        sign, cents = ("-" if value < 0 else ""), abs(value)
        return f"{sign}{cents // 100:,}.{cents % 100:02d}"
    if t == "yesno" and isinstance(value, bool):
        return "yes" if value else "no"
    if t == "multi" and isinstance(value, list):
        return ", ".join(str(x) for x in value)
    if t == "number" and isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".")
    return str(value)


def export_value(field: FieldRead, value: Any) -> Any:
    """A stored value as an export writes it, so that it imports back: an amount as 1234.50 (not
    its cents); the others as stored."""
    if field.type == "money" and isinstance(value, int) and not isinstance(value, bool):
        return input_text(field, value)
    return value


def input_text(field: FieldRead, value: Any) -> str:
    """A stored value as a form's input shows it for editing (reads back the same through parse_value)."""
    if value is None or value == []:
        return ""
    if field.type == "money" and isinstance(value, int) and not isinstance(value, bool):
        sign, cents = ("-" if value < 0 else ""), abs(value)
        return f"{sign}{cents // 100}.{cents % 100:02d}"
    return display(field, value).replace(",", "") if field.type == "number" else display(field, value)


def clean_custom(value: dict) -> dict:
    """Custom values as any record keeps them, typed or not: names of 1-64 characters, values text
    (cleaned, at most 2000), numbers, true/false, or lists of text (a multi-choice field's picks)."""
    out = {}
    for key, item in value.items():
        name = v.clean_text(str(key)).strip()
        if not name or len(name) > 64:
            raise InvalidInput(f"invalid custom field name {key!r}")
        if isinstance(item, list) and all(isinstance(x, str) for x in item):  # a multi-choice field's picks
            item = [v.clean_text(x) for x in item]
            if len(item) > 100 or any(len(x) > 200 for x in item):
                raise InvalidInput(f"custom field {name!r} is too long")
            out[name] = item
            continue
        if item is not None and not isinstance(item, (str, int, float, bool)):
            raise InvalidInput(f"custom field {name!r} must be text, a number or true/false")
        if isinstance(item, str):
            item = v.clean_text(item, multiline=True)
        if isinstance(item, str) and len(item) > 2000:
            raise InvalidInput(f"custom field {name!r} is too long")
        out[name] = item
    return out


# --- reading definitions ------------------------------------------------------------------


def list_fields(session: Session, *, kind: str | None = None, include_archived: bool = False) -> list[FieldRead]:
    stmt = select(CustomField)
    if kind is not None:
        stmt = stmt.where(CustomField.kind == check_kind(kind))
    if not include_archived:
        stmt = stmt.where(CustomField.archived.is_(False))
    rows = session.scalars(stmt.order_by(CustomField.kind, CustomField.position, CustomField.id))
    return [_read(r) for r in rows]


def field_map(session: Session, kind: str) -> dict[str, FieldRead]:
    """{key: field} of a kind's active fields, read once per unit of work."""
    cache = session.info.setdefault("crm_fields", {})
    if kind not in cache:
        cache[kind] = {f.key: f for f in list_fields(session, kind=kind)}
    return cache[kind]


def _forget(session: Session) -> None:
    session.info.pop("crm_fields", None)


def _row(session: Session, kind: str, key: str, *, lock: bool = False) -> CustomField:
    kind, name = check_kind(kind), check_key(key)
    stmt = select(CustomField).where(CustomField.kind == kind, func.lower(CustomField.key) == name.lower())
    row = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound(f"no {kind} field {name!r}", see=f"crm field list {kind}")
    return row


def get_field(session: Session, *, kind: str, key: str) -> FieldRead:
    return _read(_row(session, kind, key))


# --- SQL: the one expression of a value, its indexes, conditions and sorts ------------------


def value_sql(dialect: str, kind: str, field: FieldRead | str, type_: str | None = None,
              table: str | None = None) -> str:
    """The SQL text of a field's value on its kind's table (or on `table`, an alias of it): the
    same text in the index and in every query, with the key inlined (check_key allows no quote)."""
    key = field.key if isinstance(field, FieldRead) else field
    type_ = type_ or (field.type if isinstance(field, FieldRead) else "text")
    table = table or KINDS[kind].__tablename__
    if dialect == "sqlite":
        return f"json_extract({table}.custom, '$.\"{key}\"')"
    expr = f"({table}.custom ->> '{key}')"
    return f"(({expr})::double precision)" if type_ in NUMERIC else expr


def value_column(session: Session, kind: str, field: FieldRead):
    return literal_column(value_sql(session.bind.dialect.name, kind, field))


def _index_names(kind: str, field_id: int) -> tuple[str, str, str]:
    table = KINDS[kind].__tablename__
    return f"ix_cf_{table}_{field_id}", f"ix_cf_{table}_{field_id}_sort", f"ix_cf_{table}_{field_id}_walk"


# The types a range filter (seats>=990, renewal<2027-01-01) is for. PostgreSQL, asked for such a
# range in the list's order, walks the list's order index fetching and testing row after row
# (it takes the matches to lie evenly along that order): 5,000 heap rows for a page of 51 at 1%,
# 50-70 ms at 100k contacts. With the value in an index after the list's order it tests the range
# on the index entries and fetches the matches alone (under 1 ms); for a range of very few it
# still reads them off the field's index and sorts them, as its statistics tell it. SQLite is
# steered to the field's index instead (see `condition`), and needs no third index.
RANGED = ("number", "money", "date")


def _create_indexes(session: Session, field: FieldRead) -> None:
    dialect = session.bind.dialect.name
    table = KINDS[field.kind].__tablename__
    expr = value_sql(dialect, field.kind, field)
    if dialect == "sqlite":
        expr = expr.replace(f"{table}.", "")  # an index names its own table's columns bare
    filter_ix, sort_ix, walk_ix = _index_names(field.kind, field.id)
    session.execute(text(f"CREATE INDEX IF NOT EXISTS {filter_ix} ON {table} "
                         f"(({expr}), {LIST_ORDER[field.kind]}, id)"))
    session.execute(text(f"CREATE INDEX IF NOT EXISTS {sort_ix} ON {table} (({expr}), id)"))
    if dialect == "postgresql" and field.type in RANGED:
        session.execute(text(f"CREATE INDEX IF NOT EXISTS {walk_ix} ON {table} "
                             f"({LIST_ORDER[field.kind]}, id, ({expr}))"))


def _drop_indexes(session: Session, field: FieldRead) -> None:
    for name in _index_names(field.kind, field.id):
        session.execute(text(f"DROP INDEX IF EXISTS {name}"))


def sort_key(session: Session, kind: str, key: str) -> SortKey:
    """A keyset sort by a field ("custom.KEY" in a list's sorts): the field's sort index."""
    field = _active(session, kind, key)
    model = KINDS[kind]
    return SortKey(value_column(session, kind, field), model.id, nullable=True)


def find(session: Session, kind: str, key: str) -> FieldRead | None:
    """The active typed field `key` of `kind` (any case), or None for an untyped key."""
    name = key.removeprefix("custom.").strip().lower()
    return next((f for k, f in field_map(session, kind).items() if k.lower() == name), None)


def _active(session: Session, kind: str, key: str) -> FieldRead:
    field = find(session, kind, key)
    if field is None:
        raise InvalidInput(f"no {kind} field {key.removeprefix('custom.')!r}", see=f"crm field list {kind}")
    return field


def parse_filter(text_: str) -> tuple[str, str, str]:
    """"segment=smb", "amount>=1000", "renewal<2027-01-01", "tags has vip", "segment set" ->
    (key, op, value)."""
    raw = (text_ or "").strip()
    for word in (" has ", " set", " unset"):
        head, sep, tail = raw.partition(word)
        if sep and (word == " has " or not tail.strip()):
            return head.strip(), word.strip(), tail.strip()
    match = re.match(r"^(.+?)\s*(!=|<=|>=|=|<|>)\s*(.*)$", raw)
    if not match:
        raise InvalidInput(f"invalid field filter {raw!r}: write it as name=value, name>value, name has value, "
                           f"name set or name unset")
    return match.group(1).strip(), match.group(2), match.group(3).strip()


def condition(session: Session, kind: str, key: str, op: str, value: Any = None):
    """The SQL condition "the record's field `key` `op` `value`", with `value` parsed as the
    field's type; = and ranges use the field's index."""
    kind = check_kind(kind)
    if op not in OPS:
        raise InvalidInput(f"invalid operator {op!r}: choose one of {', '.join(OPS)}")
    field = _active(session, kind, key)
    dialect = session.bind.dialect.name
    column = value_column(session, kind, field)
    if op == "set":
        return column.is_not(None)
    if op == "unset":
        return column.is_(None)
    if field.type == "multi":
        if op not in ("has", "=", "!="):
            raise InvalidInput(f"{field.key}: a multi-choice field takes has, set or unset")
        wanted = parse_value(field, value)
        if not wanted:
            raise InvalidInput(f"{field.key}: which choice?")
        table = KINDS[kind].__tablename__
        if dialect == "sqlite":
            has = exists(select(literal_column("1")).select_from(
                func.json_each(literal_column(f"{table}.custom"), f'$."{field.key}"').table_valued("value"))
                .where(literal_column("value") == wanted[0]))
        else:
            has = literal_column(f"(CAST({table}.custom AS jsonb) -> '{field.key}')").op("?")(wanted[0])
        return ~has if op == "!=" else has
    if op == "has":
        if field.type not in ("text", "url"):
            raise InvalidInput(f"{field.key}: 'has' is for text and multi-choice fields")
        return func.lower(column).contains(str(value).lower(), autoescape=True)
    parsed = parse_value(field, value)
    if parsed is None:
        return column.is_(None) if op == "=" else column.is_not(None)
    if field.type == "yesno":
        if op not in ("=", "!="):
            raise InvalidInput(f"{field.key}: a yes/no field takes = or !=")
        parsed = (1 if parsed else 0) if dialect == "sqlite" else ("true" if parsed else "false")
    if field.type in CHOICES + ("text", "url") and op not in ("=", "!="):
        if field.type in CHOICES:
            raise InvalidInput(f"{field.key}: a choice field takes =, != or has")
    compare = {"=": column.__eq__, "!=": column.__ne__, "<": column.__lt__, "<=": column.__le__,
               ">": column.__gt__, ">=": column.__ge__}[op]
    out = compare(parsed)
    if op == "!=":
        return or_(out, column.is_(None))
    if op != "=" and dialect == "sqlite" and _few(session, kind, field, out):
        # SQLite keeps no statistics of a range (no STAT4): it walks the list's order index and
        # tests every row, though the field's index holds the few that match. Told they are few
        # (they are: counted above on that index), it reads them there and sorts them.
        return func.unlikely(out)
    return out


FEW = 2000  # a range matching fewer rows than this reads them off the field's index


def _few(session: Session, kind: str, field: FieldRead, range_: Any) -> bool:
    """Whether fewer than FEW records match the range: an index-only count that stops at FEW."""
    model = KINDS[kind]
    found = select(model.id).where(range_).limit(FEW).subquery()
    return session.scalar(select(func.count()).select_from(found)) < FEW


def conditions(session: Session, kind: str, filters: dict[str, str] | Iterable[str] | None) -> list:
    """The conditions of several filters: {"segment": "smb"} (equality), or ["amount>=10", ...]."""
    if not filters:
        return []
    if isinstance(filters, dict):
        return [condition(session, kind, k, "=", value) for k, value in filters.items()]
    return [condition(session, kind, *parse_filter(f)) for f in filters]


# --- validating a record's values ---------------------------------------------------------


def check_values(session: Session, kind: str, custom: dict, *, creating: bool,
                 before: dict | None = None) -> dict:
    """A record's custom values with its typed fields parsed and checked: the first bad one
    raises InvalidInput naming the field. Untyped keys pass as they are. Creating, a required
    field left empty takes its default, or is refused; editing, a required field may not be
    emptied (an old record that never had it may keep going without)."""
    fields = field_map(session, kind)
    multi = {key.lower() for key, field in fields.items() if field.type == "multi"}
    for key, item in custom.items():  # a list is a multi-choice field's picks, and nothing else's
        if isinstance(item, list) and str(key).lower() not in multi:
            raise InvalidInput(f"custom field {key!r} must be text, a number or true/false "
                               "(a list of picks only for a multi-choice field)")
    if not fields:
        return custom
    out = dict(custom)
    folded = {k.lower(): k for k in out}
    for key, field in fields.items():
        given = folded.get(key.lower())
        if given is not None and given != key:
            out[key] = out.pop(given)
        old = (before or {}).get(key)
        if key in out:
            # a retired choice a record already holds may stay; a new pick may not be retired
            value = parse_value(field, out[key], allow_retired=True)
            if field.type in CHOICES and value is not None and value != old:
                picks = value if isinstance(value, list) else [value]
                olds = old if isinstance(old, list) else [old]
                for pick in picks:
                    if pick in field.retired and pick not in olds:
                        raise InvalidInput(f"{key}: {pick!r} is retired; choose one of {', '.join(field.offered)}")
            out[key] = value
        if out.get(key) is None:
            if creating and field.default is not None:
                out[key] = field.default
            elif field.required and (creating or key in out or old is not None):
                raise InvalidInput(f"{field.label} is required")
        if out.get(key) is None:
            out.pop(key, None)
    return out


def defaults(session: Session, kind: str) -> dict:
    return {k: f.default for k, f in field_map(session, kind).items() if f.default is not None}


# --- defining fields ----------------------------------------------------------------------


def existing_values(session: Session, kind: str, key: str) -> list[tuple[int, Any]]:
    """(record id, value) of every record of `kind` holding `key`, in id order."""
    model = KINDS[kind]
    table = model.__tablename__
    if session.bind.dialect.name == "sqlite":
        has = literal_column(f"json_type({table}.custom, '$.\"{key}\"')").is_not(None)
    else:
        has = literal_column(f"(CAST({table}.custom AS jsonb) ? '{key}')")
    return [(r.id, (r.custom or {}).get(key)) for r in session.execute(
        select(model.id, model.custom).where(has).order_by(model.id))]


def check_existing(session: Session, *, kind: str, key: str, type: str, options: Iterable[str] = ()) -> list[BadValue]:
    """The records whose `key` would not read as `type` (with these choices): what a promotion
    would refuse. Read-only."""
    kind, key, type_ = check_kind(kind), check_key(key), check_type(type)
    probe = FieldRead(0, kind, key, key, type_, False, None, tuple(_options(options)), (), 0, False, 1)
    bad = []
    for record_id, value in existing_values(session, kind, key):
        try:
            parse_value(probe, value)
        except InvalidInput as error:
            bad.append(BadValue(record_id, value, str(error).removeprefix(f"{key}: ")))
    return bad


def _bad_message(kind: str, key: str, bad: list[BadValue]) -> str:
    shown = "; ".join(f"#{b.record_id} {b.value!r} ({b.error})" for b in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return (f"{len(bad)} {kind}{'s' if len(bad) != 1 else ''} hold a {key!r} that does not fit: {shown}{more}; "
            f"correct them first (crm field check {kind} {key!r} --type ...)")


def add_field(session: Session, *, kind: str, key: str, type: str, actor: Actor, label: str | None = None,
              options: Iterable[str] = (), required: bool = False, default: Any = None,
              now: datetime | None = None) -> FieldRead:
    """Define a field. Over a key records already hold (untyped values), every value must read as
    the type: the ones that do not are listed and nothing is written; the ones that do are
    stored in the type's form (the promotion)."""
    now = resolve_now(now)
    permissions.require(session, actor, PERMISSION)
    kind, key, type_ = check_kind(kind), check_key(key), check_type(type)
    label = v.optional_text(label, "label", max_length=100) or key
    opts = _options(options)
    if type_ in CHOICES and not opts:
        raise InvalidInput(f"a {TYPE_LABELS[type_]} field needs its choices: --options a,b,c")
    if type_ not in CHOICES and opts:
        raise InvalidInput(f"only choice and multi-choice fields take --options, not a {TYPE_LABELS[type_]} field")
    taken = session.scalars(select(CustomField).where(CustomField.kind == kind,
                                                      func.lower(CustomField.key) == key.lower())).first()
    if taken is not None:
        state = " (archived: `crm field unarchive`)" if taken.archived else ""
        raise Conflict(f"a {kind} field {taken.key!r} already exists{state}")
    if kind != "contact" and "custom" not in KINDS[kind].__table__.c:
        raise InvalidInput(f"{kind}s have no custom fields")
    probe = FieldRead(0, kind, key, label, type_, required, None, tuple(opts), (), 0, False, 1)
    stored_default = parse_value(probe, default, allow_retired=False) if default is not None else None
    existing = existing_values(session, kind, key)
    bad, converted = [], []
    for record_id, value in existing:
        try:
            new = parse_value(probe, value)
        except InvalidInput as error:
            bad.append(BadValue(record_id, value, str(error).removeprefix(f"{key}: ")))
            continue
        if new != value:
            converted.append((record_id, new))
    if bad:
        raise InvalidInput(_bad_message(kind, key, bad))
    position = (session.scalar(select(func.max(CustomField.position)).where(CustomField.kind == kind)) or 0) + 1
    row = CustomField(kind=kind, key=key, label=label, type=type_, required=required, default=stored_default,
                      options=opts, retired=[], position=position, archived=False, created_at=now, updated_at=now)
    session.add(row)
    flush(session, ENTITY, f"field {key!r}")
    _rewrite(session, kind, key, converted, actor=actor, now=now)
    field = _read(row)
    _create_indexes(session, field)
    _forget(session)
    summary = f"{kind}.{key}: {TYPE_LABELS[type_]}" + (f" ({', '.join(opts)})" if opts else "") + \
        (", required" if required else "") + (f", promoted {len(existing)} value(s)" if existing else "")
    audit(session, actor=actor, entity=ENTITY, entity_id=row.id, action="create", now=now, summary=summary)
    return field


def _rewrite(session: Session, kind: str, key: str, values: list[tuple[int, Any]], *, actor: Actor,
             now: datetime) -> None:
    """Store promoted values in their typed form (one audit row per record changed)."""
    if not values:
        return
    model = KINDS[kind]
    for record_id, new in values:
        record = session.get(model, record_id, with_for_update=True)
        custom = dict(record.custom or {})
        old = custom.get(key)
        custom[key] = new
        record.custom = custom
        audit(session, actor=actor, entity=kind, entity_id=record_id, action="update", now=now,
              changes={f"custom.{key}": (old, new)})
    session.flush()


def edit_field(session: Session, *, kind: str, key: str, actor: Actor, label: str | None = None,
               required: bool | None = None, default: Any = None, clear_default: bool = False,
               add_options: Iterable[str] = (), retire_options: Iterable[str] = (),
               restore_options: Iterable[str] = (), version: int | None = None,
               now: datetime | None = None) -> FieldRead:
    """Change a field's label, whether it is required, its default, and its choices: new ones are
    added at the end; a retired one stays on the records that hold it and is no longer offered."""
    now = resolve_now(now)
    permissions.require(session, actor, PERMISSION)
    row = _row(session, kind, key, lock=True)
    check_version(session, row, version, ENTITY, f"field {row.key!r}")
    field = _read(row)
    changes: dict[str, tuple[Any, Any]] = {}
    if label is not None:
        new_label = v.optional_text(label, "label", max_length=100) or row.key
        if new_label != row.label:
            changes["label"] = (row.label, new_label)
            row.label = new_label
    adds, retires, restores = _options(add_options), _options(retire_options), _options(restore_options)
    if (adds or retires or restores) and row.type not in CHOICES:
        raise InvalidInput(f"{row.key} is a {TYPE_LABELS[row.type]} field: it has no choices")
    options, retired = list(row.options or []), list(row.retired or [])
    for option in adds:
        match = next((o for o in options if o.casefold() == option.casefold()), None)
        if match is None:
            options.append(option)
        elif match in retired:
            retired.remove(match)
    for option in restores:
        match = next((o for o in retired if o.casefold() == option.casefold()), None)
        if match is None:
            raise InvalidInput(f"{row.key}: {option!r} is not a retired choice")
        retired.remove(match)
    for option in retires:
        match = next((o for o in options if o.casefold() == option.casefold()), None)
        if match is None:
            raise InvalidInput(f"{row.key}: {option!r} is not one of {', '.join(options)}")
        if match not in retired:
            retired.append(match)
    if len(options) > MAX_OPTIONS:
        raise InvalidInput(f"a field has at most {MAX_OPTIONS} choices")
    if row.type in CHOICES and not [o for o in options if o not in retired]:
        raise InvalidInput(f"{row.key}: keep at least one choice that is not retired")
    if options != list(row.options or []):
        changes["options"] = (", ".join(row.options or []), ", ".join(options))
        row.options = options
    if retired != list(row.retired or []):
        changes["retired"] = (", ".join(row.retired or []), ", ".join(retired))
        row.retired = retired
    probe = FieldRead(row.id, row.kind, row.key, row.label, row.type, row.required, None, tuple(options),
                      tuple(retired), row.position, row.archived, row.version)
    new_default = row.default
    if clear_default:
        new_default = None
    elif default is not None:
        new_default = parse_value(probe, default, allow_retired=False)
    elif row.default is not None and row.type in CHOICES:
        picks = row.default if isinstance(row.default, list) else [row.default]
        if any(p in retired for p in picks):
            raise InvalidInput(f"{row.key}: the default {display(field, row.default)!r} would be retired; "
                               f"change the default first")
    if new_default != row.default:
        changes["default"] = (row.default, new_default)
        row.default = new_default
    if required is not None and bool(required) != bool(row.required):
        changes["required"] = (row.required, bool(required))
        row.required = bool(required)
    if not changes:
        return field
    row.updated_at = now
    flush(session, ENTITY, f"field {row.key!r}")
    _forget(session)
    audit(session, actor=actor, entity=ENTITY, entity_id=row.id, action="update", now=now, changes=changes)
    return _read(row)


def set_field_archived(session: Session, *, kind: str, key: str, archived: bool, actor: Actor,
                       now: datetime | None = None) -> FieldRead:
    """Archive a field: its values stay on the records (untyped again, shown as custom values),
    its indexes go. Unarchiving checks the values again, as a promotion does."""
    now = resolve_now(now)
    permissions.require(session, actor, PERMISSION)
    row = _row(session, kind, key, lock=True)
    if bool(row.archived) == archived:
        return _read(row)
    if not archived:
        bad = check_existing(session, kind=row.kind, key=row.key, type=row.type, options=row.options)
        if bad:
            raise InvalidInput(_bad_message(row.kind, row.key, bad))
    row.archived = archived
    row.updated_at = now
    flush(session, ENTITY, f"field {row.key!r}")
    field = _read(row)
    if archived:
        _drop_indexes(session, field)
    else:
        _create_indexes(session, field)
    _forget(session)
    audit(session, actor=actor, entity=ENTITY, entity_id=row.id, action="archive" if archived else "unarchive",
          now=now, summary=f"{row.kind}.{row.key}")
    return field


EDIT_PERMISSION = {"contact": "contact.edit", "company": "company.edit", "deal": "deal.edit"}


def new_record_values(session: Session, kind: str, custom: dict | None) -> dict:
    """A new record's custom values, checked: typed fields read as their type, defaults filled in,
    a required field left empty refused (create_company and create_deal call it)."""
    return check_values(session, kind, clean_custom(custom or {}), creating=True)


def set_values(session: Session, *, kind: str, record_id: int, actor: Actor, set_: dict | None = None,
               remove: Iterable[str] = (), version: int | None = None, now: datetime | None = None) -> dict:
    """Change some custom values of a company or a deal and keep the others (a contact's go
    through contacts.update_contact). Merged into the values stored now, under the record's lock;
    typed ones checked; audited one row per value. Returns the record's custom values."""
    kind = check_kind(kind)
    now = resolve_now(now)
    model = KINDS[kind]
    record = session.get(model, record_id, with_for_update=True, populate_existing=True)
    if record is None:
        raise NotFound(f"no {kind} with id {record_id}")
    permissions.require(session, actor, EDIT_PERMISSION[kind], owner=record.owner_id)
    check_version(session, record, version, kind, f"{kind} #{record_id}")
    before = dict(record.custom or {})
    drop = {str(k).strip() for k in remove}
    merged = {**{k: val for k, val in before.items() if k not in drop}, **(set_ or {})}
    after = check_values(session, kind, clean_custom(merged), creating=False, before=before)
    changes = {f"custom.{k}": (before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
               if before.get(k) != after.get(k)}
    if not changes:
        return after
    record.custom = after
    record.updated_at = now
    flush(session, kind, f"{kind} #{record_id}")
    audit(session, actor=actor, entity=kind, entity_id=record_id, action="update", now=now, changes=changes)
    return after


def stored_custom(session: Session, kind: str, record_id: int) -> dict:
    """A record's custom values as stored ({} for a record that is gone)."""
    model = KINDS[check_kind(kind)]
    return dict(session.scalar(select(model.custom).where(model.id == record_id)) or {})


def record_fields(session: Session, kind: str, custom: dict | None) -> list[tuple[FieldRead | None, str, str]]:
    """(field or None, label, shown value) of a record's custom values: the typed fields in their
    order (empty ones too), then the untyped keys by name."""
    custom = custom or {}
    fields = field_map(session, kind)
    out: list[tuple[FieldRead | None, str, str]] = [
        (f, f.label, display(f, custom.get(f.key))) for f in fields.values()]
    out += [(None, k, "" if value is None else str(value)) for k, value in sorted(custom.items())
            if k not in fields]
    return out


__all__ = ["BadValue", "FieldRead", "KINDS", "OPS", "TYPES", "TYPE_LABELS", "add_field", "check_existing",
           "check_values", "condition", "conditions", "defaults", "display", "edit_field", "field_map",
           "get_field", "input_text", "list_fields", "parse_filter", "parse_value", "record_fields",
           "set_field_archived", "sort_key", "value_sql"]
