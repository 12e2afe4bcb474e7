"""Conditions: compare a field of the record (or of its deal, contact or company) with a value,
as a SQL condition added to the trigger's query, so filtering stays in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, String, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import aliased

from crm_tui.errors import InvalidInput
from crm_tui.models import Company, Contact, ContactTag, Deal, Pipeline, Stage, Tag, Task, User
from crm_tui.models.case import Case
from crm_tui.services import fields
from crm_tui.workflows.triggers import SpecError

OPS = {"=": "=", "==": "=", "eq": "=", "!=": "!=", "ne": "!=", "<": "<", "lt": "<", "<=": "<=", "le": "<=",
       ">": ">", "gt": ">", ">=": ">=", "ge": ">=", "in": "in", "not in": "not in", "not_in": "not in",
       "set": "set"}
MODELS = {"deal": Deal, "contact": Contact, "task": Task, "company": Company, "case": Case}
# fields each kind of record has; "custom.NAME" is any custom field (deals, contacts, companies)
FIELDS = {
    "deal": ("title", "amount", "currency", "status", "stage", "pipeline", "owner", "custom"),
    "contact": ("name", "email", "lifecycle", "source", "owner", "tag", "title", "custom"),
    "company": ("name", "domain", "industry", "size", "owner", "custom"),
    "task": ("title", "owner", "origin", "rule"),
    # a case's owner is its assignee
    "case": ("subject", "status", "priority", "channel", "category", "team", "owner"),
}
# where an unqualified field is looked for, nearest first
NEAREST = {"deal": ("deal", "contact", "company"), "contact": ("contact", "company"),
           "task": ("task", "deal", "contact", "company"), "company": ("company",),
           "case": ("case", "contact", "company")}
# the column of the trigger's record that points at a related record
LINKS = {("deal", "contact"): Deal.contact_id, ("deal", "company"): Deal.company_id,
         ("contact", "company"): Contact.company_id, ("task", "deal"): Task.deal_id,
         ("task", "contact"): Task.contact_id, ("task", "company"): Task.company_id,
         ("case", "contact"): Case.contact_id, ("case", "company"): Case.company_id}
NUMERIC = {"amount"}


@dataclass(frozen=True)
class Condition:
    target: str      # deal, contact, company or task: whose field
    name: str        # the field (custom fields: "custom")
    key: str | None  # the custom field's name
    op: str
    value: Any
    base: str        # the trigger's record

    def describe(self) -> str:
        name = f"{self.target}.{self.name}" + (f".{self.key}" if self.key else "")
        return f"{name} {self.op} {self.value!r}"

    def sql(self, session=None):
        """The SQL condition; with a session, a typed custom field (services/fields.py) compares
        as its type (a number as a number, a choice as one of its choices, a date as a day), on
        its index when the field is the trigger record's own."""
        if session is not None and self.name == "custom" and self.target in fields.KINDS:
            field = fields.find(session, self.target, self.key)
            if field is not None:
                return _typed_sql(self, field, session)
        return _sql(self)


def parse(raw: dict, base: str) -> Condition:
    if not isinstance(raw, dict):
        raise SpecError("a condition is a table: { field = \"amount\", op = \">=\", value = 5000 }", "conditions")
    unknown = set(raw) - {"field", "op", "value"}
    if unknown:
        raise SpecError(f"unknown key {sorted(unknown)[0]!r} in a condition (known: field, op, value)", sorted(unknown)[0])
    name = raw.get("field")
    if not isinstance(name, str) or not name.strip():
        raise SpecError("a condition needs a field, e.g. field = \"stage\"", "conditions")
    target, field_name, key = resolve_field(name.strip(), base)
    op = OPS.get(str(raw.get("op", "=")).strip().lower())
    if op is None:
        raise SpecError(f"unknown op {raw.get('op')!r} (known: =, !=, <, <=, >, >=, in, not in, set)", "op", raw.get("op"))
    if "value" not in raw:
        raise SpecError(f"the condition on {name} needs a value", "field", name)
    value = raw["value"]
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise SpecError(f"{op} needs a list of values, e.g. value = [\"web\", \"referral\"]", "value")
    elif op == "set":
        if not isinstance(value, bool):
            raise SpecError("set needs value = true or false", "value")
    elif isinstance(value, (list, dict)):
        raise SpecError(f"{op} compares with one value, not a list", "value")
    if field_name in NUMERIC and op not in ("set",):
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise SpecError(f"{name} is a number (in the currency's main unit, e.g. 5000)", "value")
    if field_name == "tag" and op not in ("=", "!=", "in", "not in", "set"):
        raise SpecError("tag takes =, !=, in, not in or set", "op")
    return Condition(target, field_name, key, op, value, base)


def resolve_field(name: str, base: str) -> tuple[str, str, str | None]:
    """(target record, field, custom key) of a field name such as "stage", "contact.lifecycle",
    "custom.region" or "company.custom.tier"."""
    parts = name.split(".")
    target = None
    if parts[0] in FIELDS:
        target, parts = parts[0], parts[1:]
        if target not in NEAREST[base]:
            raise SpecError(f"a {base} rule has no {target} fields (it can use {', '.join(NEAREST[base])})", "field", name)
    if not parts or not parts[0]:
        raise SpecError(f"unknown field {name!r}", "field", name)
    field_name = parts[0]
    key = None
    if field_name == "custom":
        if len(parts) != 2 or not parts[1]:
            raise SpecError(f"a custom field is written custom.NAME, not {name!r}", "field", name)
        key = parts[1]
    elif len(parts) != 1:
        raise SpecError(f"unknown field {name!r}", "field", name)
    candidates = [target] if target else list(NEAREST[base])
    for candidate in candidates:
        if field_name in FIELDS[candidate]:
            return candidate, field_name, key
    known = sorted({f for c in candidates for f in FIELDS[c]})
    raise SpecError(f"unknown field {name!r} (known: {', '.join(known)}, custom.NAME)", "field", name)


# --- SQL ----------------------------------------------------------------------------------


def _column(model, target: str, name: str, key: str | None, numeric: bool):
    if name == "custom":
        return model.custom[key].as_float() if numeric else model.custom[key].as_string()
    if name == "owner":
        owner_col = model.assignee_id if target in ("task", "case") else model.owner_id
        return select(User.login).where(User.id == owner_col).scalar_subquery()
    if name == "stage":
        return select(Stage.name).where(Stage.id == model.stage_id).scalar_subquery()
    if name == "pipeline":
        return select(Pipeline.name).where(Pipeline.id == model.pipeline_id).scalar_subquery()
    if name == "amount":
        return model.amount_minor
    if name == "name" and hasattr(model, "full_name"):
        return model.full_name
    if name == "rule":
        return model.rule_name
    return getattr(model, name)


def _related(base: str, target: str):
    """The target record's model (the base itself, or an alias in a correlated subquery)."""
    if base == target:
        return MODELS[base], None
    return aliased(MODELS[target]), LINKS[(base, target)]


def _value_sql(c: Condition):
    numeric = c.name in NUMERIC or (c.name == "custom" and c.op in ("<", "<=", ">", ">=")
                                    and isinstance(c.value, (int, float)))
    model, link = _related(c.base, c.target)
    column = _column(model, c.target, c.name, c.key, numeric)
    if link is not None:
        column = select(column).where(model.id == link).scalar_subquery()
    return column, numeric


def _contact_id(base: str):
    return {"contact": Contact.id, "deal": Deal.contact_id, "task": Task.contact_id, "case": Case.contact_id}[base]


def _sql(c: Condition):
    if c.name == "tag":
        return _tag_sql(c)
    column, numeric = _value_sql(c)
    if c.op == "set":
        present = and_(column.is_not(None), column != "") if not numeric else column.is_not(None)
        return present if c.value else not_(present)
    if numeric:
        scale = 100 if c.name == "amount" else 1  # amounts are stored in minor units (cents)
        values = [v * scale for v in (c.value if isinstance(c.value, list) else [c.value])]
        column = column if c.name == "amount" else column.cast(Float)
    else:
        values = [str(v).lower() if not isinstance(v, bool) else ("true" if v else "false")
                  for v in (c.value if isinstance(c.value, list) else [c.value])]
        column = func.lower(column.cast(String)) if c.name == "custom" else func.lower(column)
    if c.op == "in":
        return column.in_(values)
    if c.op == "not in":
        return or_(column.is_(None), column.not_in(values))
    value = values[0]
    return {"=": column == value, "!=": or_(column.is_(None), column != value), "<": column < value,
            "<=": column <= value, ">": column > value, ">=": column >= value}[c.op]


def _typed_value(field: fields.FieldRead, value: Any, dialect: str) -> Any:
    """A condition's value as the field stores it; amounts in the main unit (5000 is 5,000.00)."""
    raw = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    parsed = fields.parse_value(field, raw)
    if field.type == "yesno":
        return (1 if parsed else 0) if dialect == "sqlite" else ("true" if parsed else "false")
    return parsed


def _typed_sql(c: Condition, field: fields.FieldRead, session):
    from sqlalchemy import literal_column

    dialect = session.bind.dialect.name
    if c.base == c.target:
        table, link = None, None
    else:
        table, link = f"wf_{c.target}", LINKS[(c.base, c.target)]
    column = literal_column(fields.value_sql(dialect, c.target, field, table=table))

    def related(condition):
        if link is None:
            return condition
        alias = aliased(MODELS[c.target], name=table)
        return exists(select(alias.id).where(alias.id == link, condition))

    if c.op == "set":
        return related(column.is_not(None)) if c.value else not_(related(column.is_not(None)))
    values = c.value if isinstance(c.value, list) else [c.value]
    try:
        if field.type == "multi":
            wanted = [v for value in values for v in (fields.parse_value(field, value) or [])]
            base_table = table or MODELS[c.target].__tablename__
            if dialect == "sqlite":
                has = or_(*(exists(select(literal_column("1")).select_from(
                    func.json_each(literal_column(f"{base_table}.custom"), f'$."{field.key}"').table_valued("value"))
                    .where(literal_column("value") == w)) for w in wanted))
            else:
                has = or_(*(literal_column(f"(CAST({base_table}.custom AS jsonb) -> '{field.key}')").op("?")(w)
                            for w in wanted))
            if c.op not in ("=", "in", "!=", "not in"):
                raise SpecError(f"custom.{field.key} is a multi-choice field: use =, !=, in, not in or set", "op")
            found = related(has)
            return found if c.op in ("=", "in") else not_(found)
        parsed = [_typed_value(field, v, dialect) for v in values]
    except InvalidInput as exc:
        raise SpecError(exc.message, "value") from None
    if c.op in ("<", "<=", ">", ">=") and field.type in ("choice", "yesno", "text", "url"):
        raise SpecError(f"custom.{field.key} is a {field.type_label} field: use =, !=, in, not in or set", "op")
    if c.op == "in":
        return related(column.in_(parsed))
    if c.op in ("not in", "!="):
        same = column.in_(parsed)
        return or_(column.is_(None), not_(same)) if link is None else not_(related(same))
    value = parsed[0]
    return related({"=": column == value, "<": column < value, "<=": column <= value, ">": column > value,
                    ">=": column >= value}[c.op])


def _tag_sql(c: Condition):
    contact_id = _contact_id(c.base) if c.target == "contact" else None
    if contact_id is None:
        return false()
    any_tag = select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id).where(
        ContactTag.contact_id == contact_id)
    if c.op == "set":
        return exists(any_tag) if c.value else ~exists(any_tag)
    values = [str(v).strip().lower() for v in (c.value if isinstance(c.value, list) else [c.value])]
    tagged = exists(any_tag.where(Tag.name.in_(values)))
    return tagged if c.op in ("=", "in") else ~tagged


__all__ = ["Condition", "parse", "resolve_field", "true"]
