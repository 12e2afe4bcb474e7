"""What every import row kind builds on: the row on its way in, what one run shares (Ctx), the
Kind a record type plugs into the driver, and the batched, audited update of matched records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit_rows
from crm_tui.services import fields as custom_fields
from crm_tui.services.contacts import _custom
from crm_tui.services.importing import values as iv
from crm_tui.services.importing.fields import CUSTOM_PREFIX
from crm_tui.services.importing.match import Ids, Relations, batches
from crm_tui.services.importing.write import write_audit


@dataclass(eq=False)
class Row:
    """One data row of the file on its way in."""

    line: int
    values: dict[str, list[tuple[str, str]]]  # field -> [(column, text)], empty cells left out
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (column, value, message)
    action: str = ""  # create, update, skip or invalid
    target: int | None = None
    reason: str = ""

    def first(self, name: str) -> tuple[str, str] | None:
        found = self.values.get(name)
        return found[0] if found else None

    def text(self, name: str) -> str | None:
        found = self.first(name)
        return found[1] if found else None

    def column(self, name: str) -> str:
        found = self.first(name)
        return found[0] if found else name

    def check(self, name: str, parse: Callable[[str], Any]) -> Any:
        """parse(the field's text), or None with the problem noted (None when the cell is empty)."""
        found = self.first(name)
        if found is None:
            return None
        try:
            return parse(found[1])
        except InvalidInput as exc:
            self.problems.append((found[0], found[1], exc.message))
            return None

    def custom(self) -> dict:
        return {name[len(CUSTOM_PREFIX):]: texts[0][1] for name, texts in self.values.items()
                if name.startswith(CUSTOM_PREFIX)}


@dataclass
class Ctx:
    """What every row of one import shares."""

    session: Session
    rel: Relations
    ids: Ids
    actor_id: int | None
    now: datetime
    zone: Any
    dayfirst: bool | None
    country: str | None
    currency: str
    locale: str | None = None  # the importing user's number format (amounts)
    tags: dict[str, int] = field(default_factory=dict)
    new_tags: list[dict] = field(default_factory=list)
    actor: Actor | None = None  # whose changes the audit records (None: tests of cleaning only)
    # contacts: every record a weak key (phone, name) names, and who each matched record is
    # (emails, name key), so that a phone shared by two people does not make them one
    candidates: dict[tuple, list[int]] = field(default_factory=dict)
    people: dict[int, tuple[frozenset[str], str]] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)  # what a kind keeps for its finish()
    team_zone: Any = None  # a date without a time is a calendar day here (the team's zone)
    date_order: str | None = None  # the importing user's date_order, when the file's order is not given

    def moment(self, text: str, default_time: time = time(12, 0)) -> datetime:
        return iv.moment(text, dayfirst=self.dayfirst, zone=self.zone, now=self.now, default_time=default_time,
                         order=self.date_order, day_zone=self.team_zone)

    def day(self, text: str) -> date:
        return iv.day(text, dayfirst=self.dayfirst, zone=self.zone, now=self.now, order=self.date_order,
                      day_zone=self.team_zone)


def stamps(ctx: Ctx) -> dict:
    return {"version": 1, "created_at": ctx.now, "updated_at": ctx.now}


def owner_field(row: Row, ctx: Ctx, name: str = "owner") -> int | None:
    return row.check(name, lambda t: ctx.rel.user(t, ctx.ids))


def text_field(row: Row, name: str, limit: int = 200, multiline: bool = False) -> str | None:
    return row.check(name, lambda t: v.optional_text(t, name.replace("_", " "), max_length=limit,
                                                     multiline=multiline))


def row_custom(row: Row, ctx: Ctx | None = None, kind: str | None = None) -> dict:
    """The row's custom values; a typed field's (services/fields.py) read as its type, and one
    that does not read is the row's problem (the row is reported, not written)."""
    try:
        custom = _custom(row.custom())
    except InvalidInput as exc:
        row.problems.append(("", "", exc.message))
        return {}
    if ctx is None or kind is None or not custom:
        return custom
    try:
        return custom_fields.check_values(ctx.session, kind, custom, creating=False)
    except InvalidInput as exc:
        key = exc.message.partition(":")[0]
        found = row.first(CUSTOM_PREFIX + key) or ("", "")
        row.problems.append((found[0], found[1], exc.message))
        return {}


def changed_values(current: dict, new: dict) -> dict:
    """The values of `new` that are set and differ from `current`; custom fields merge."""
    out = {}
    for name, value in new.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        if name == "custom":
            value = {**(current.get("custom") or {}), **value}
        if current.get(name) != value:
            out[name] = value
    return out


class Kind:
    """The behaviour one kind of record plugs into the driver."""

    table = None
    label = ""

    def prepare(self, rows: list[Row], ctx: Ctx) -> None:
        """Bulk lookups the rows' relations need (one query per batch, not per row)."""

    def clean(self, row: Row, ctx: Ctx) -> None:
        raise NotImplementedError

    def new_record(self, row: Row, ctx: Ctx) -> tuple[str, str, str] | None:
        """A row that creates a record: its typed custom fields' defaults go where it has no
        value; a required field it still has none for is its problem (column, value, message):
        the row is reported and nothing of it written. (A row that updates a record keeps what
        the record has.)"""
        if "custom" not in row.data or self.label not in custom_fields.KINDS:
            return None
        try:
            row.data["custom"] = custom_fields.check_values(ctx.session, self.label, row.data["custom"] or {},
                                                            creating=True)
        except InvalidInput as exc:
            field = custom_fields.find(ctx.session, self.label, exc.message.partition(" is required")[0])
            column = (row.first(CUSTOM_PREFIX + field.key) or (CUSTOM_PREFIX + field.key, ""))[0] if field else ""
            return column, "", f"{exc.message}: the row has no value and the field no default"
        return None

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        """Duplicate keys, strongest first; the same key means the same record."""
        return []

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        """{key: id} for the keys that already name a record in the database."""
        return {}

    def describe(self, key: tuple) -> str:
        return f"same {key[0]}"

    def matches(self, key: tuple, found: dict[tuple, int], ctx: Ctx) -> list[int]:
        """The records of the database `key` names (from `existing`), best first."""
        return [found[key]] if key in found else []

    def holds(self, row: Row, key: tuple, record_id: int, ctx: Ctx) -> bool:
        """Whether `key` makes the row record `record_id`: a strong key always does; a weak one
        only when nothing stronger disagrees (see ContactRows)."""
        return True

    def noted(self, row: Row, ctx: Ctx) -> None:
        """The row now creates or updates row.target (for the rows after it)."""

    def reserved(self, row: Row, ctx: Ctx) -> int | None:
        """An id this import already promised the row's record (see CompanyRows); None for a new one."""
        return None

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        raise NotImplementedError

    def update(self, pairs: list[tuple[int, Row]], ctx: Ctx, write: bool) -> tuple[int, int]:
        """Apply rows to the records they duplicate, audited; (updated, unchanged)."""
        return update_columns(self.table, pairs, ctx, write, self.updatable, entity=self.label)

    updatable: tuple[str, ...] = ()

    def after_insert(self, rows: list[Row], ctx: Ctx) -> None:
        """Set-based follow-ups of a written chunk."""

    def finish(self, ctx: Ctx, write: bool) -> tuple[int, int, list[tuple[int, str, str, str]]]:
        """Once every row is in: (updated, unchanged, problems as (line, column, value, message))."""
        return 0, 0, []


# columns derived from others: written, but not audited (as the commands leave them out)
_DERIVED = frozenset({"title_key", "name_key", "search_text", "stage_entered_at", "company_key", "sort_name"})


def audit_updates(ctx: Ctx, entity: str, changed: list[tuple[int, dict, dict]], table_name: str,
                  action: Callable[[dict, dict], list[tuple[str, dict]]] | None = None) -> None:
    """One audit event per changed record (a row per field, old and new), in one executemany, as
    the commands write it. Records this run created have the run's own summary instead.
    `action(old, changes)` splits a record's changes among actions (a deal's move); default "update"."""
    events = []
    for target, old, changes in changed:
        if ctx.actor is None or ctx.ids.is_new(table_name, target):
            continue
        fields = {name: (old.get(name), new) for name, new in changes.items() if name not in _DERIVED}
        for name, part in (action(old, fields) if action else [("update", fields)]):
            if part:
                events.append((entity, target, name, part))
    if events:
        write_audit(ctx.session, audit_rows(actor=ctx.actor, now=ctx.now, events=events))


def update_columns(table, pairs: list[tuple[int, Row]], ctx: Ctx, write: bool,
                    columns: tuple[str, ...], extra: Callable[[dict, dict], None] | None = None,
                    entity: str = "", written: Callable[[list[tuple[int, dict, dict]]], None] | None = None,
                    ) -> tuple[int, int]:
    """Merge each row's set values into its record: one SELECT per batch, one executemany; then
    audit each changed record (`written(changes)` when the kind writes more, as a deal's move)."""
    updated = unchanged = 0
    for batch in batches(pairs):
        ids = sorted({target for target, _ in batch})
        cols = [table.c.id, *(table.c[name] for name in columns)]
        current = {r.id: dict(r._mapping) for r in ctx.session.execute(select(*cols).where(table.c.id.in_(ids)))}
        params: dict[int, dict] = {}
        for target, row in batch:
            record = {**current[target], **params.get(target, {})}
            changes = changed_values(record, {k: row.data.get(k) for k in columns})
            if extra is not None and changes:
                extra(record, changes)
            if changes:
                params.setdefault(target, {}).update(changes)
                updated += 1
            else:
                unchanged += 1
        if write and params:
            by_shape: dict[tuple, list[dict]] = {}
            for target, changes in params.items():
                by_shape.setdefault(tuple(sorted(changes)), []).append({"_id": target, **changes})
            for shape, batch_params in by_shape.items():
                ctx.session.execute(
                    update(table).where(table.c.id == bindparam("_id"))
                    .values(version=table.c.version + 1, updated_at=ctx.now), batch_params)
            changed = [(target, current[target], params[target]) for target in sorted(params)]
            if written is not None:
                written(changed)
            else:
                audit_updates(ctx, entity, changed, table.name)
    return updated, unchanged


