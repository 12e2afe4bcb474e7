"""Bulk edits: one change to every marked record of a list (contacts, companies, deals), set-based.

A selection is either some ids, or "every record matching the list's filters, minus some ids"
(what `*` marks: 100k records are never listed one by one). A change runs as a few statements
whatever the number of records: the audit rows are written first by INSERT..SELECT (one per
record and field, old value read from the row), and the rows they name are then updated by
UPDATE..WHERE id IN (those audit rows), with the version bumped, so a form opened before the
change is refused as stale. Records the actor may not change (permissions.may_condition, the
same gate every service uses) are counted, named and left alone. Undo replays the audit rows
backwards, again set-based, on the records still as the bulk edit left them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import (
    String, Text, and_, case, cast, delete, exists, false, func, insert, literal, not_, null, select, true, update,
)
from sqlalchemy.dialects.postgresql import JSON as PG_JSON
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import Forbidden, InvalidInput, NotFound
from crm_tui.models import (
    Activity, AuditEvent, BulkEdit, Company, Contact, ContactTag, Deal, Lifecycle, Source, Stage, StageKind, Tag,
    CustomField, Task, User,
)
from crm_tui.models.schemas import ContactFilter, DealFilter
from crm_tui.services import contacts, deal_list, export, fields, permissions, search, tasks
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, parse_shape
from crm_tui.services.files import csv_safe

KINDS = ("contact", "company", "deal")
MAX_NAMED = 20  # refused records named in a result; the rest are counted
CHANGES = ("owner", "add_tag", "remove_tag", "set", "stage", "archive", "task")


@dataclass(frozen=True)
class _Kind:
    model: Any
    edit: str  # the permission to change one
    assign: str  # the permission to give one to another owner
    edit_by_owner: bool  # edit is checked against the record's owner ("own" scope)
    unowned_is_own: bool  # giving away a record nobody owns counts as giving one's own
    label: Any  # the column a person knows a record by
    export_name: str
    fields: dict[str, str]  # the fields `set` may change -> how they are named in messages


SPECS = {
    "contact": _Kind(Contact, "contact.edit", "contact.assign", False, True, Contact.full_name, "contacts",
                     {"lifecycle": "lifecycle stage", "source": "source", "owner": "owner"}),
    "company": _Kind(Company, "company.edit", "contact.assign", False, True, Company.name, "companies",
                     {"industry": "industry", "size": "size", "owner": "owner"}),
    "deal": _Kind(Deal, "deal.edit", "deal.assign", True, False, Deal.title, "deals",
                  {"owner": "owner", "stage": "stage"}),
}


@dataclass(frozen=True)
class Selection:
    """The marked records of a list: `ids`, or with `all_matching` every record matching `filters`
    and `query` (the list's search) but those in `excluded`."""

    kind: str
    ids: frozenset[int] = frozenset()
    all_matching: bool = False
    excluded: frozenset[int] = frozenset()
    filters: dict = field(default_factory=dict)
    query: str | None = None


@dataclass(frozen=True)
class Change:
    """What to do to each marked record. `what` is one of CHANGES; `field` and `value` for `set`
    (owner and stage are `set` too; a typed custom field is `set` with field "custom.KEY"), the tag for
    add_tag/remove_tag, `title`/`due_at` for a task."""

    what: str
    field: str | None = None
    value: Any = None
    title: str | None = None
    due_at: datetime | None = None


@dataclass
class BulkResult:
    kind: str
    summary: str
    matched: int = 0  # records selected
    changed: int = 0  # records changed (or, in a dry run, that would be)
    refused: int = 0  # records the actor may not change: left alone
    refused_named: list[tuple[int, str]] = field(default_factory=list)
    unchanged: int = 0  # records already so, or that the change does not apply to
    bulk_id: int | None = None
    dry_run: bool = False
    refusal: str = ""  # why the refused records were refused

    @property
    def message(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        parts = [f"{self.summary}: {verb} {self.changed:,} of {self.matched:,} {_plural(self.kind, self.matched)}"]
        if self.unchanged:
            parts.append(f"{self.unchanged:,} already so or not applicable")
        if self.refused:
            names = ", ".join(f"#{i} {n}" for i, n in self.refused_named[:5])
            more = f" and {self.refused - 5:,} more" if self.refused > 5 else ""
            parts.append(f"{self.refused:,} left alone ({self.refusal}): {names}{more}")
        return "; ".join(parts)


def _plural(kind: str, n: int) -> str:
    return {"contact": "contact", "company": "company", "deal": "deal"}[kind] + ("" if n == 1 else
                                                                                ("ies" if kind == "company" else "s"))


# --- parsing what a person typed ---------------------------------------------------------------


def check_kind(kind: str) -> str:
    kind = (kind or "").strip().lower()
    if kind not in SPECS:
        raise InvalidInput(f"no bulk edit of {kind!r}: choose one of {', '.join(KINDS)}")
    return kind


def parse_set(session: Session, kind: str, pair: str) -> Change:
    """ "owner=bob", "lifecycle=customer", "stage=Proposal" -> a checked Change."""
    name, sep, raw = pair.partition("=")
    name, raw = name.strip().lower(), raw.strip()
    spec = SPECS[check_kind(kind)]
    if not sep or not name:
        raise InvalidInput(f"invalid --set {pair!r}: use FIELD=VALUE, e.g. owner=bob")
    if name not in spec.fields:
        name = CUSTOM + _custom_field(session, kind, name).key
    return check_change(session, kind, Change("set", name, raw))


CUSTOM = "custom."  # a Change's field naming a typed custom field: "custom.segment"


def _custom_field(session: Session, kind: str, name: str) -> fields.FieldRead:
    """The kind's active typed field `name` ("segment" or "custom.segment", any case), or the one
    line saying what may be set instead."""
    field = fields.find(session, kind, name)
    if field is None:
        spec = SPECS[kind]
        typed = ", ".join(fields.field_map(session, kind))
        extra = f", or a custom field ({typed})" if typed else " (no custom fields defined)"
        raise InvalidInput(f"cannot set {name.removeprefix(CUSTOM)!r} on {spec.export_name} in bulk: "
                           f"choose one of {', '.join(spec.fields)}{extra}")
    return field


def check_change(session: Session, kind: str, change: Change) -> Change:
    """Validate a change and resolve its value (a login to a user id, a stage name to a stage)."""
    kind = check_kind(kind)
    spec = SPECS[kind]
    what = change.what
    if what not in CHANGES:
        raise InvalidInput(f"no bulk change {what!r}: choose one of {', '.join(CHANGES)}")
    if what == "owner":
        change, what = Change("set", "owner", change.value), "set"
    if what == "stage":
        change, what = Change("set", "stage", change.value), "set"
    if what in ("add_tag", "remove_tag"):
        if kind != "contact":
            raise InvalidInput(f"{spec.export_name} have no tags; tags are on contacts")
        tag = contacts._tags([str(change.value or "")])
        if not tag:
            raise InvalidInput("no tag given")
        return Change(what, value=tag[0])
    if what == "task":
        title = v.required_text(change.title, "task title", max_length=300)
        if isinstance(change.due_at, str):
            raise InvalidInput("a task's due time must be read first (bulk_edit.task_change)")
        return Change("task", title=title, due_at=change.due_at)
    if what == "archive":
        return change
    name, raw = change.field, change.value
    if name and name.startswith(CUSTOM):
        field = _custom_field(session, kind, name)
        value = fields.parse_value(field, raw, allow_retired=False)
        if value is None and field.required:
            raise InvalidInput(f"{field.label} is required: it cannot be emptied")
        return Change("set", CUSTOM + field.key, value)
    if name not in spec.fields:
        raise InvalidInput(f"cannot set {name!r} on {spec.export_name} in bulk: choose one of {', '.join(spec.fields)}")
    if name == "owner":
        return Change("set", "owner", _user_id(session, raw))
    if name == "stage":
        return Change("set", "stage", _stage(session, raw))
    text = str(raw or "").strip()
    if name == "lifecycle":
        text = v.choice(text, Lifecycle, "lifecycle stage")
    elif name == "source":
        text = v.choice(text, Source, "source") if text else None
    else:
        text = v.optional_text(text, name, max_length=100 if name == "industry" else 32)
    return Change("set", name, text)


def task_change(*, title: str, due: str | datetime | None, actor: Actor, now: datetime | None = None) -> Change:
    """A task for each record, its due time typed as a person types it ("+2d", "next fri 9am")."""
    if isinstance(due, str) and due.strip():
        due = tasks._when(due, actor, resolve_now(now))
    return Change("task", title=title, due_at=due or None)


def _user_id(session: Session, raw: Any) -> int | None:
    if isinstance(raw, int):
        if session.get(User, raw) is None:
            raise NotFound(f"no user with id {raw}")
        return raw
    text = str(raw or "").strip().lower()
    if text in ("", "none", "-"):
        return None
    found = session.scalar(select(User.id).where(func.lower(User.login) == text))
    if found is None:
        raise NotFound(f"no user {text!r}")
    return found


def _stage(session: Session, raw: Any) -> int:
    if isinstance(raw, int):
        stage = session.get(Stage, raw)
    else:
        text = str(raw or "").strip()
        rows = session.execute(select(Stage).where(func.lower(Stage.name) == text.lower())).scalars().all()
        if len(rows) > 1:
            raise InvalidInput(f"several pipelines have a stage {text!r}: give the stage's id")
        stage = rows[0] if rows else None
    if stage is None:
        raise NotFound(f"no stage {raw!r}")
    if stage.kind != StageKind.OPEN:
        raise InvalidInput(f"stage {stage.name!r} closes deals: win or lose deals one at a time")
    return stage.id


# --- which records -----------------------------------------------------------------------------


def matching(session: Session, selection: Selection, now: datetime) -> list:
    """The SQL conditions that pick the selection's records."""
    spec = SPECS[check_kind(selection.kind)]
    model = spec.model
    if not selection.all_matching:
        ids = sorted(i for i in selection.ids if isinstance(i, int))
        return [model.id.in_(ids)] if ids else [false()]
    conditions = _filter_conditions(session, selection, now)
    if selection.excluded:
        conditions.append(model.id.not_in(sorted(selection.excluded)))
    return conditions


def _filter_conditions(session: Session, selection: Selection, now: datetime) -> list:
    f, query = dict(selection.filters or {}), selection.query
    if selection.kind == "contact":
        return contacts.filter_conditions(session, query, parse_shape(ContactFilter, f), now)
    if selection.kind == "company":
        conditions = [Company.archived.is_(bool(f.get("archived", False)))]
        if f.get("owner_id") is not None:
            conditions.append(Company.owner_id == f["owner_id"])
        if (cond := search.company_condition(session.bind.dialect.name, query)) is not None:
            conditions.append(cond)
        return conditions
    # the deals list's own WHERE (services/deal_list.py): `crm deal bulk` and `*` on the list pick
    # exactly the deals `crm deal list` and the list show
    return deal_list.conditions(session, query, parse_shape(DealFilter, f))


def _may(session: Session, actor: Actor, kind: str, change: Change) -> tuple[Any, str]:
    """The condition on the records the actor may make this change to, and why the others not."""
    spec = SPECS[kind]
    model = spec.model
    owner = model.owner_id if spec.edit_by_owner else None
    cond = permissions.may_condition(session, actor, spec.edit, owner_column=owner)
    why = f"you may not {permissions.ACTIONS[spec.edit]}" + (" of other people" if owner is not None else "")
    if change.what == "set" and change.field == "owner":
        give = permissions.may_condition(session, actor, spec.assign, owner_column=model.owner_id,
                                         unowned_is_own=spec.unowned_is_own)
        cond = and_(cond, give)
        why = f"you may not {permissions.ACTIONS[spec.edit]} or {permissions.ACTIONS[spec.assign]} of other people"
    if change.what == "task":
        permissions.require(session, actor, "task.edit", owner=actor.user_id)
    return cond, why


# --- the plan and the change -------------------------------------------------------------------


def apply(session: Session, *, selection: Selection, changes: list[Change], actor: Actor,
          now: datetime | None = None, dry_run: bool = False) -> BulkResult:
    """Make `changes` to every selected record the actor may change, in the caller's transaction.
    With `dry_run`, count what would change and write nothing."""
    kind = check_kind(selection.kind)
    if not changes:
        raise InvalidInput("no change given: --set, --add-tag, --remove-tag, --archive or --task")
    now = resolve_now(now)
    changes = [check_change(session, kind, c) for c in changes]
    spec = SPECS[kind]
    model = spec.model
    where = matching(session, selection, now)
    allowed = true()
    why = ""
    for change in changes:
        cond, reason = _may(session, actor, kind, change)
        allowed, why = and_(allowed, cond), why or reason
    result = BulkResult(kind, "; ".join(describe(session, kind, c) for c in changes), dry_run=dry_run,
                        refusal=why)
    result.matched = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    refused = [*where, not_(allowed)]
    result.refused = session.scalar(select(func.count()).select_from(model).where(*refused)) or 0
    result.refused_named = [(r[0], r[1] or "") for r in session.execute(
        select(model.id, spec.label).where(*refused).order_by(model.id).limit(MAX_NAMED))]
    target = [*where, allowed]
    if dry_run:
        result.changed = max(_would_change(session, kind, target, c) for c in changes)
        result.unchanged = result.matched - result.refused - result.changed
        return result
    if result.matched - result.refused == 0:
        result.unchanged = 0
        return result
    bulk = BulkEdit(at=now, actor_id=actor.user_id, actor=actor.login, entity=kind,
                    change=changes[0].what if len(changes) == 1 else "several", summary=result.summary,
                    refused=result.refused)
    session.add(bulk)
    session.flush()
    ctx = _Ctx(session, actor, kind, bulk.id, now)
    if session.bind.dialect.name == "postgresql":
        # the rows stay as read from their audit rows' old values to their UPDATE (SQLite's
        # BEGIN IMMEDIATE holds the whole file already)
        session.execute(select(model.id).where(*target).with_for_update(of=model.__table__)).close()
    for change in changes:
        _APPLY[change.what](ctx, target, change)
    result.changed = ctx.touched()
    result.unchanged = result.matched - result.refused - result.changed
    bulk.changed = result.changed
    result.bulk_id = bulk.id
    session.flush()
    session.expire_all()  # rows this session holds are older than the database now
    return result


def describe(session: Session, kind: str, change: Change) -> str:
    if change.what == "set":
        value = change.value
        if change.field == "owner":
            value = session.scalar(select(User.login).where(User.id == value)) if value else "nobody"
        elif change.field == "stage":
            value = session.scalar(select(Stage.name).where(Stage.id == value))
        elif change.field.startswith(CUSTOM):
            field = fields.find(session, kind, change.field)
            if field is not None:
                return f"set {field.label} to {fields.display(field, value) or 'nothing'}"
        return f"set {change.field} to {value if value is not None else 'nothing'}"
    if change.what == "add_tag":
        return f"add tag {change.value}"
    if change.what == "remove_tag":
        return f"remove tag {change.value}"
    if change.what == "archive":
        return "archive"
    due = f" due {change.due_at:%Y-%m-%d %H:%M} UTC" if change.due_at else ""
    return f"add task “{change.title}”{due}"


@dataclass
class _Ctx:
    session: Session
    actor: Actor
    kind: str
    bulk_id: int
    now: datetime

    @property
    def model(self) -> Any:
        return SPECS[self.kind].model

    def audit_select(self, *, entity_id: Any, action: str, field_name: str | None, old: Any, new: Any,
                     entity: str | None = None):
        return [literal(self.now, AuditEvent.__table__.c.at.type).label("at"),
                literal(self.actor.user_id, AuditEvent.__table__.c.actor_id.type).label("actor_id"),
                literal(self.actor.login, String).label("actor"), literal(self.actor.via, String).label("via"),
                literal(entity or self.kind, String).label("entity"), entity_id.label("entity_id"),
                literal(action, String).label("action"), literal(field_name, String).label("field"),
                _text(old).label("old_value"), _text(new).label("new_value"),
                literal(self.bulk_id).label("bulk_id")]

    def write_audit(self, source, **kw) -> None:
        cols = ["at", "actor_id", "actor", "via", "entity", "entity_id", "action", "field", "old_value",
                "new_value", "bulk_id"]
        stmt = select(*self.audit_select(**kw)).select_from(source[0]).where(*source[1])
        self.session.execute(insert(AuditEvent).from_select(cols, stmt))

    def record_ids(self, *, field_name: str | None = None, action: str | None = None, value: str | None = None):
        """The ids of the records this bulk edit wrote audit rows for (of one field or action)."""
        q = select(AuditEvent.entity_id).where(AuditEvent.bulk_id == self.bulk_id, AuditEvent.entity == self.kind)
        if field_name is not None:
            q = q.where(AuditEvent.field == field_name)
        if action is not None:
            q = q.where(AuditEvent.action == action)
        if value is not None:
            q = q.where((AuditEvent.new_value == value) | (AuditEvent.old_value == value))
        return q

    def bump(self) -> dict:
        return {"version": self.model.version + 1, "updated_at": self.now}

    def touched(self) -> int:
        return self.session.scalar(select(func.count(func.distinct(AuditEvent.entity_id)))
                                   .where(AuditEvent.bulk_id == self.bulk_id, AuditEvent.entity == self.kind)) or 0


def _text(value: Any):
    if value is None:
        return literal(None, String)
    if isinstance(value, (str, int, bool)) and not hasattr(value, "type"):
        return literal(_value_text(value), String)
    return cast(value, String)


def _value_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _columns(kind: str, change: Change) -> dict[str, Any]:
    """The columns a `set` change writes, by name, with their new values."""
    name = change.field
    if name == "owner":
        return {"owner_id": change.value}
    if name == "stage":
        return {"stage_id": change.value}
    return {name: change.value}


def _set_target(kind: str, target: list, change: Change, session: Session | None = None) -> list:
    """The target records whose value differs from the new one (the others need no change)."""
    model = SPECS[kind].model
    if change.field.startswith(CUSTOM):
        key = change.field.removeprefix(CUSTOM)
        dialect = session.bind.dialect.name
        return [*target, _custom_text(dialect, model.custom, key).is_distinct_from(
            _custom_new_text(session, key, change.value))]
    cols = _columns(kind, change)
    first, value = next(iter(cols.items()))
    cond = [*target, getattr(model, first).is_distinct_from(value)]
    if change.field == "stage":
        # a stage of the deal's own pipeline, and only open deals move (closed ones reopen one at a time)
        pipeline = select(Stage.pipeline_id).where(Stage.id == value).scalar_subquery()
        cond += [Deal.pipeline_id == pipeline, Deal.status == "open"]
    return cond


def _would_change(session: Session, kind: str, target: list, change: Change) -> int:
    model = SPECS[kind].model
    if change.what == "set":
        cond = _set_target(kind, target, change, session)
    elif change.what == "archive":
        cond = [*target, model.archived.is_(False)]
    elif change.what in ("add_tag", "remove_tag"):
        has = _has_tag(change.value)
        cond = [*target, not_(has) if change.what == "add_tag" else has]
    else:
        cond = target
    return session.scalar(select(func.count()).select_from(model).where(*cond)) or 0


def _apply_set(ctx: _Ctx, target: list, change: Change) -> None:
    if change.field.startswith(CUSTOM):
        _apply_custom(ctx, target, change)
        return
    model = ctx.model
    cols = _columns(ctx.kind, change)
    cond = _set_target(ctx.kind, target, change)
    if change.field == "stage":
        cols["stage_entered_at"] = ctx.now
    for name, value in cols.items():
        column = getattr(model, name)
        ctx.write_audit((model, cond), entity_id=model.id, action="update", field_name=name, old=column,
                        new=literal(_stored_text(ctx, value), String))
        if name == next(iter(cols)):
            # the later fields' audit rows pick the same records: those of the first field
            cond = [model.id.in_(ctx.record_ids(field_name=name).where(AuditEvent.action == "update"))]
    first = next(iter(cols))
    ctx.session.execute(update(model).where(model.id.in_(ctx.record_ids(field_name=first)))
                        .values(**cols, **ctx.bump()).execution_options(synchronize_session=False))
    if change.field == "stage":
        _log_stage_changes(ctx)


# --- typed custom fields: one key of the records' `custom` JSON ---------------------------------
# A value is read (for the audit trail and to tell whether a record holds it already) as the audit
# trail keeps custom values elsewhere (common.audit): text as itself, a number, yes/no or a list
# as JSON text, absent as NULL. It is written by json_set / jsonb `||`, all in one UPDATE.


def _custom_text(dialect: str, source: Any, key: str) -> Any:
    """SQL: the text of `source`'s (a custom JSON) value of `key`, or NULL when it holds none."""
    if dialect == "sqlite":
        path = f'$."{key}"'
        kind = func.json_type(source, path)
        return case((kind.in_(("true", "false")), kind), (kind == "null", null()),
                    else_=cast(func.json_extract(source, path), String))
    value = source.op("->")(literal(key, Text))
    kind = func.json_typeof(value)
    return case((kind == "string", source.op("->>")(literal(key, Text))), (kind == "null", null()),
                else_=cast(value, String))


def _custom_set(dialect: str, source: Any, key: str, value: Any) -> Any:
    """SQL: `source` (a custom JSON) with `key` set to the JSON value `value` (SQL), or removed
    when `value` is None."""
    if dialect == "sqlite":
        base = func.coalesce(source, "{}")
        return func.json_remove(base, f'$."{key}"') if value is None else func.json_set(base, f'$."{key}"', value)
    base = func.coalesce(cast(source, JSONB), cast(literal("{}"), JSONB))
    out = base.op("-")(literal(key, Text)) if value is None else \
        base.op("||")(func.jsonb_build_object(literal(key, Text), value))
    return cast(out, PG_JSON)


def _custom_json(dialect: str, value: Any) -> Any:
    """SQL: a Python value (as a field stores it) as a JSON value to set, or None to remove."""
    if value is None:
        return None
    text_ = json.dumps(value)
    return func.json(literal(text_, String)) if dialect == "sqlite" else cast(literal(text_, String), JSONB)


def _custom_new_text(session: Session, key: str, value: Any) -> str | None:
    """The text _custom_text reads back once `value` is set (asked of the database itself, so the
    audit trail's new value compares equal to what the records hold after)."""
    dialect = session.bind.dialect.name
    empty = literal("{}", String)
    return session.scalar(select(_custom_text(dialect, _custom_set(dialect, empty, key, _custom_json(dialect, value)),
                                              key)))


def _apply_custom(ctx: _Ctx, target: list, change: Change) -> None:
    """Set (or empty) one typed custom field on the target records that hold another value: an
    audit row per record (old value read from the row), then one UPDATE of those records."""
    model, dialect = ctx.model, ctx.session.bind.dialect.name
    key = change.field.removeprefix(CUSTOM)
    cond = _set_target(ctx.kind, target, change, ctx.session)
    new_text = _custom_new_text(ctx.session, key, change.value)
    ctx.write_audit((model, cond), entity_id=model.id, action="update", field_name=change.field,
                    old=_custom_text(dialect, model.custom, key), new=literal(new_text, String))
    ids = ctx.record_ids(field_name=change.field)
    ctx.session.execute(update(model).where(model.id.in_(ids))
                        .values(custom=_custom_set(dialect, model.custom, key, _custom_json(dialect, change.value)),
                                **ctx.bump())
                        .execution_options(synchronize_session=False))


def _undo_custom(ctx: _Ctx, bulk_id: int, field_name: str, allowed: Any) -> None:
    """Records whose custom value still reads as the bulk edit wrote it get back what they had
    (or lose the key, when they had none), in one UPDATE."""
    model, dialect = ctx.model, ctx.session.bind.dialect.name
    key = field_name.removeprefix(CUSTOM)
    done = AuditEvent.__table__.alias("done")
    current = _custom_text(dialect, model.custom, key)
    still = select(done.c.entity_id).where(done.c.bulk_id == bulk_id, done.c.field == field_name,
                                           done.c.entity_id == model.id,
                                           func.coalesce(done.c.new_value, "") == func.coalesce(current, ""))
    old = select(done.c.old_value).where(done.c.bulk_id == bulk_id, done.c.field == field_name,
                                         done.c.entity_id == model.id).limit(1).scalar_subquery()
    ctx.write_audit((model, [exists(still), allowed]), entity_id=model.id, action="update", field_name=field_name,
                    old=current, new=old)
    mine = AuditEvent.__table__.alias("mine")
    back = select(mine.c.new_value).where(mine.c.bulk_id == ctx.bulk_id, mine.c.field == field_name,
                                          mine.c.entity_id == model.id).limit(1).scalar_subquery()
    type_ = ctx.session.scalar(select(CustomField.type).where(CustomField.kind == ctx.kind,
                                                              CustomField.key == key))
    if type_ in ("text", "url", "choice", "date"):  # kept as text: set back as a JSON string
        value = back if dialect == "sqlite" else func.to_jsonb(cast(back, Text))
    else:  # a number, yes/no or a list: kept as its JSON
        value = func.json(back) if dialect == "sqlite" else cast(back, JSONB)
    restored = case((back.is_(None), _custom_set(dialect, model.custom, key, None)),
                    else_=_custom_set(dialect, model.custom, key, value))
    ctx.session.execute(update(model).where(model.id.in_(ctx.record_ids(field_name=field_name)))
                        .values(custom=restored, **ctx.bump()).execution_options(synchronize_session=False))


def _log_stage_changes(ctx: _Ctx) -> None:
    """A stage-change activity on each deal moved (as move_deal logs one), from the audit rows:
    the deals' timelines and the reports' stage history read these."""
    old_stage, new_stage = Stage.__table__.alias("old_stage"), Stage.__table__.alias("new_stage")
    rows = (select(literal("stage_change", String), literal(ctx.now, AuditEvent.__table__.c.at.type),
                   old_stage.c.name + " → " + new_stage.c.name, Deal.id, Deal.contact_id, Deal.company_id,
                   literal(ctx.actor.user_id, AuditEvent.__table__.c.actor_id.type), literal("open", String),
                   literal(1), literal(ctx.now, AuditEvent.__table__.c.at.type),
                   literal(ctx.now, AuditEvent.__table__.c.at.type))
            .select_from(AuditEvent)
            .join(Deal, Deal.id == AuditEvent.entity_id)
            .join(old_stage, cast(old_stage.c.id, String) == AuditEvent.old_value)
            .join(new_stage, cast(new_stage.c.id, String) == AuditEvent.new_value)
            .where(AuditEvent.bulk_id == ctx.bulk_id, AuditEvent.field == "stage_id"))
    ctx.session.execute(insert(Activity).from_select(
        ["kind", "occurred_at", "subject", "deal_id", "contact_id", "company_id", "user_id", "outcome", "version",
         "created_at", "updated_at"], rows))


def _stored_text(ctx: _Ctx, value: Any) -> str | None:
    """A new value as the audit trail keeps it (as a column read back as text would be)."""
    if isinstance(value, datetime):
        return ctx.session.scalar(select(cast(literal(value, AuditEvent.__table__.c.at.type), String)))
    return _value_text(value)


def _apply_archive(ctx: _Ctx, target: list, change: Change) -> None:
    model = ctx.model
    cond = [*target, model.archived.is_(False)]
    ctx.write_audit((model, cond), entity_id=model.id, action="archive", field_name="archived",
                    old="false", new="true")
    ctx.session.execute(update(model).where(model.id.in_(ctx.record_ids(field_name="archived")))
                        .values(archived=True, **ctx.bump()).execution_options(synchronize_session=False))


def _has_tag(name: str):
    return exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id == Tag.id, Tag.name == name)


def _apply_tag(ctx: _Ctx, target: list, change: Change) -> None:
    add = change.what == "add_tag"
    tag_id = contacts.tag_id(ctx.session, change.value)
    has = exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id == tag_id)
    cond = [*target, not_(has) if add else has]
    ctx.write_audit((Contact, cond), entity_id=Contact.id, action="tag" if add else "untag", field_name="tag",
                    old=None if add else change.value, new=change.value if add else None)
    ids = ctx.record_ids(field_name="tag", action="tag" if add else "untag", value=change.value)
    if add:
        ctx.session.execute(insert(ContactTag).from_select(
            ["contact_id", "tag_id"], select(AuditEvent.entity_id, literal(tag_id)).where(
                AuditEvent.bulk_id == ctx.bulk_id, AuditEvent.action == "tag", AuditEvent.new_value == change.value)))
    else:
        ctx.session.execute(delete(ContactTag).where(ContactTag.tag_id == tag_id, ContactTag.contact_id.in_(ids))
                            .execution_options(synchronize_session=False))
    _bump(ctx, ids)


def _apply_task(ctx: _Ctx, target: list, change: Change) -> None:
    model = ctx.model
    marker = f"bulk edit #{ctx.bulk_id}"
    link = {"contact": "contact_id", "company": "company_id", "deal": "deal_id"}[ctx.kind]
    at = AuditEvent.__table__.c.at.type
    stmt = select(literal(change.title, String), literal(change.due_at, at), literal(ctx.actor.user_id),
                  model.id, literal("manual", String), literal(marker, String), literal(ctx.actor.user_id),
                  literal(1), literal(ctx.now, at), literal(ctx.now, at)).where(*target)
    ctx.session.execute(insert(Task).from_select(
        ["title", "due_at", "assignee_id", link, "origin", "rule_name", "created_by_id", "version", "created_at",
         "updated_at"], stmt))
    task_link = getattr(Task, link)
    ctx.write_audit((Task, [Task.rule_name == marker]), entity_id=task_link, action="task", field_name="task",
                    old=None, new=Task.id)
    _bump(ctx, ctx.record_ids(action="task"))


def _bump(ctx: _Ctx, ids) -> None:
    """A version step and the change time for the records `ids` (a subquery) names, where the
    change wrote no column of theirs (a tag, a task: the record changed all the same). A field's
    change bumps in its own UPDATE: rewriting 20k rows twice costs twice."""
    ctx.session.execute(update(ctx.model).where(ctx.model.id.in_(ids)).values(**ctx.bump())
                        .execution_options(synchronize_session=False))


_APPLY = {"set": _apply_set, "archive": _apply_archive, "add_tag": _apply_tag, "remove_tag": _apply_tag,
          "task": _apply_task}


# --- undo --------------------------------------------------------------------------------------


def last_undoable(session: Session, *, actor: Actor, kind: str | None = None) -> BulkEdit | None:
    """The actor's latest bulk edit not undone yet (of one kind of record), if any."""
    q = select(BulkEdit).where(BulkEdit.actor_id == actor.user_id if actor.user_id else BulkEdit.actor == actor.login,
                               BulkEdit.undone_at.is_(None), BulkEdit.undoes_id.is_(None))
    if kind:
        q = q.where(BulkEdit.entity == kind)
    return session.scalars(q.order_by(BulkEdit.id.desc()).limit(1)).first()


def undo(session: Session, *, bulk_id: int, actor: Actor, now: datetime | None = None) -> BulkResult:
    """Put back what bulk edit `bulk_id` changed, on the records still as it left them (a record
    changed since keeps the later change). Audited per record as a bulk edit of its own."""
    now = resolve_now(now)
    bulk = session.get(BulkEdit, bulk_id)
    if bulk is None:
        raise NotFound(f"no bulk edit #{bulk_id}")
    if bulk.undone_at is not None:
        raise InvalidInput(f"bulk edit #{bulk_id} was undone already")
    if bulk.undoes_id is not None:
        raise InvalidInput(f"bulk edit #{bulk_id} is an undo; make the change again instead")
    if bulk.actor_id != actor.user_id and not actor.is_system:
        permissions.require(session, actor, "user.admin")  # someone else's: an admin's to undo
    kind = bulk.entity
    spec = SPECS[kind]
    model = spec.model
    mine = BulkEdit(at=now, actor_id=actor.user_id, actor=actor.login, entity=kind, change="undo",
                    summary=f"undo “{bulk.summary}”", undoes_id=bulk.id)
    session.add(mine)
    session.flush()
    ctx = _Ctx(session, actor, kind, mine.id, now)
    gone = AuditEvent.__table__.alias("done")
    rows = session.execute(select(gone.c.field, gone.c.action).where(gone.c.bulk_id == bulk.id)
                           .group_by(gone.c.field, gone.c.action)).all()
    # one's own change is undone on every record it changed (a seller who gave their deals away may
    # take them back: it changed them under their permission); someone else's, as the admin may
    allowed = true() if bulk.actor_id == actor.user_id else permissions.may_condition(
        session, actor, spec.edit, owner_column=model.owner_id if spec.edit_by_owner else None)
    columns = [f for f, a in rows if a in ("update", "archive") and not f.startswith(CUSTOM)]
    if columns:
        _undo_fields(ctx, bulk.id, sorted(columns, key=_first_field), allowed)
    for field_name in sorted(f for f, a in rows if a == "update" and f.startswith(CUSTOM)):
        _undo_custom(ctx, bulk.id, field_name, allowed)
    for field_name, action in rows:
        if action in ("tag", "untag"):
            _undo_tags(ctx, bulk.id, action, allowed)
        elif action == "task":
            _undo_tasks(ctx, bulk.id, allowed)
    bulk.undone_at = now
    mine.changed = ctx.touched()
    session.flush()
    session.expire_all()
    result = BulkResult(kind, mine.summary, matched=bulk.changed, changed=mine.changed, bulk_id=mine.id)
    result.unchanged = max(0, bulk.changed - mine.changed)
    return result


def _first_field(name: str) -> int:
    """The field whose value says whether a record is still as the bulk edit left it: the one the
    change was about (stage_id), not the ones that came with it (stage_entered_at)."""
    return 1 if name == "stage_entered_at" else 0


def _undo_fields(ctx: _Ctx, bulk_id: int, names: list[str], allowed: Any) -> None:
    """Records whose (first) field still holds what the bulk edit wrote get back what they had, in
    one UPDATE (one version step)."""
    model = ctx.model
    done = AuditEvent.__table__.alias("done")
    first = getattr(model, names[0])
    # a flag reads back as "1" on SQLite and "true" on PostgreSQL: compared as itself, not as text
    same = (first.is_(True) if names[0] == "archived"
            else func.coalesce(done.c.new_value, "") == func.coalesce(cast(first, String), ""))
    still = select(done.c.entity_id).where(done.c.bulk_id == bulk_id, done.c.field == names[0],
                                           done.c.entity_id == model.id, same)
    cond = [exists(still), allowed]
    values: dict[str, Any] = {}
    for i, field_name in enumerate(names):
        column = getattr(model, field_name)
        old = select(done.c.old_value).where(done.c.bulk_id == bulk_id, done.c.field == field_name,
                                             done.c.entity_id == model.id).limit(1).scalar_subquery()
        action = "unarchive" if field_name == "archived" else "update"
        ctx.write_audit((model, cond), entity_id=model.id, action=action, field_name=field_name, old=column, new=old)
        if i == 0:
            cond = [model.id.in_(ctx.record_ids(field_name=field_name))]
        values[field_name] = False if field_name == "archived" else _restore(ctx, column, old)
    mine = ctx.record_ids(field_name=names[0])
    ctx.session.execute(update(model).where(model.id.in_(mine)).values({**values, **ctx.bump()})
                        .execution_options(synchronize_session=False))
    if "stage_id" in names:
        _log_stage_changes(ctx)  # moved back: the timeline says so


def _restore(ctx: _Ctx, column: Any, old: Any) -> Any:
    """The old text back into the column's type: SQLite's column affinity reads it as it was
    stored; PostgreSQL needs the cast."""
    if ctx.session.bind.dialect.name == "sqlite":
        return old
    return cast(old, column.type)


def _undo_tags(ctx: _Ctx, bulk_id: int, action: str, allowed: Any) -> None:
    done = AuditEvent.__table__.alias("done")
    pairs = ctx.session.execute(
        select(done.c.new_value, done.c.old_value).where(done.c.bulk_id == bulk_id, done.c.action == action)
        .group_by(done.c.new_value, done.c.old_value)).all()
    for new, old in pairs:
        name = new if action == "tag" else old
        tag_id = contacts.tag_id(ctx.session, name)
        has = exists().where(ContactTag.contact_id == Contact.id, ContactTag.tag_id == tag_id)
        was = exists().where(done.c.bulk_id == bulk_id, done.c.action == action, done.c.entity_id == Contact.id,
                             (done.c.new_value if action == "tag" else done.c.old_value) == name)
        cond = [was, allowed, has if action == "tag" else not_(has)]
        back = "untag" if action == "tag" else "tag"
        ctx.write_audit((Contact, cond), entity_id=Contact.id, action=back, field_name="tag",
                        old=name if back == "untag" else None, new=name if back == "tag" else None)
        ids = ctx.record_ids(field_name="tag", action=back, value=name)
        if back == "untag":
            ctx.session.execute(delete(ContactTag).where(ContactTag.tag_id == tag_id, ContactTag.contact_id.in_(ids))
                                .execution_options(synchronize_session=False))
        else:
            ctx.session.execute(insert(ContactTag).from_select(["contact_id", "tag_id"],
                                                               select(ids.subquery().c.entity_id, literal(tag_id))))
        _bump(ctx, ids)


def _undo_tasks(ctx: _Ctx, bulk_id: int, allowed: Any) -> None:
    """The tasks the bulk edit added and nobody has completed go."""
    model = ctx.model
    link = getattr(Task, {"contact": "contact_id", "company": "company_id", "deal": "deal_id"}[ctx.kind])
    marker = f"bulk edit #{bulk_id}"
    open_tasks = [Task.rule_name == marker, Task.done_at.is_(None),
                  link.in_(select(model.id).where(allowed))]
    ctx.write_audit((Task, open_tasks), entity_id=link, action="untask", field_name="task", old=Task.id, new=None)
    ctx.session.execute(delete(Task).where(*open_tasks).execution_options(synchronize_session=False))
    _bump(ctx, ctx.record_ids(action="untask"))


# --- export ------------------------------------------------------------------------------------


def export_csv(session: Session, *, selection: Selection, out: IO[str], actor: Actor,
               now: datetime | None = None) -> int:
    """The selected records as the export's CSV (the same columns as `crm export`)."""
    kind = check_kind(selection.kind)
    spec = SPECS[kind]
    export.require_export(session, actor)
    ids = set(session.scalars(select(spec.model.id).where(*matching(session, selection, resolve_now(now)))))
    names = export.columns(session, spec.export_name)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    n = 0
    for record in export.records(session, spec.export_name):
        if record["id"] in ids:
            writer.writerow([csv_safe(export.cell_text(record.get(name))) for name in names])
            n += 1
    return n


def refuse_if_none(result: BulkResult) -> None:
    """A change the actor may make to none of the records is an error, not a silent no-op."""
    if result.matched and result.refused == result.matched:
        raise Forbidden(f"{result.refusal}: none of the {result.matched:,} marked records can be changed")
