"""Triggers: what makes a rule fire, each as ONE set-based query over the matching rows.

A trigger's query returns (record id, occurrence time, occurrence key) for every occurrence that
matches now and has no firing yet (an anti-join on workflow_firings), so a run with nothing to do
costs one indexed query per rule, never a Python loop over deals or contacts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select, union
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from crm_tui.models import AuditEvent, Company, Contact, Deal, DealStatus, Lifecycle, Pipeline, Stage, Task
from crm_tui.models.base import UTCDateTime
from crm_tui.models.case import Case
from crm_tui.models.workflow import WorkflowFiring
from crm_tui.services import sla

# occurrence_at of date-field firings, whose occurrence is the date itself (occurrence_key)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_ATTEMPTS = 3
DEFAULT_WITHIN_DAYS = 7
MODELS = {"deal": Deal, "contact": Contact, "task": Task, "company": Company, "case": Case}
MAX_DAYS = 36_500  # a hundred years: beyond it "now - days" leaves the calendar
MAX_MINUTES = 366 * 24 * 60  # sla_due: a year ahead at most


class SpecError(Exception):
    """A bad setting in a rule; `key` (and `value`) point at the line it is on."""

    def __init__(self, message: str, key: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message, self.key, self.value = message, key, value


@dataclass(frozen=True)
class Param:
    kind: type
    required: bool = False
    default: Any = None
    help: str = ""


# type -> (entity, {param: Param}, description)
SPECS: dict[str, tuple[str | None, dict[str, Param], str]] = {
    "deal_stale": ("deal", {
        "days": Param(int, True, help="days in the stage without a move"),
        "stage": Param(str, help="only this stage (any open stage if left out)"),
        "pipeline": Param(str, help="only deals of this pipeline")},
        "an open deal has stayed in its stage for N days"),
    "deal_entered_stage": ("deal", {
        "stage": Param(str, True), "pipeline": Param(str),
        "within_days": Param(int, default=DEFAULT_WITHIN_DAYS, help="how far back a move still counts")},
        "a deal entered the stage"),
    "deal_won": ("deal", {"pipeline": Param(str), "within_days": Param(int, default=DEFAULT_WITHIN_DAYS)},
                 "a deal was won"),
    "deal_lost": ("deal", {"pipeline": Param(str), "within_days": Param(int, default=DEFAULT_WITHIN_DAYS)},
                  "a deal was lost"),
    "lead_created": ("contact", {"lifecycle": Param(str, default="lead"),
                                 "within_days": Param(int, default=DEFAULT_WITHIN_DAYS)},
                     "a contact was created as a lead"),
    "customer_inactive": ("contact", {"days": Param(int, True), "lifecycle": Param(str, default="customer")},
                          "a customer has had no call, email or meeting for N days"),
    "task_overdue": ("task", {"days": Param(int, True)}, "an open task is overdue by N days"),
    "date_field": (None, {"field": Param(str, True, help="contact.custom.NAME, deal.custom.NAME, "
                                                          "company.custom.NAME or deal.expected_close"),
                          "days_before": Param(int, default=0)},
                   "a date field comes round in N days"),
    # a case's next SLA target (services/sla.py: sla_next_at); each target of each case fires once
    # (occurrence: its due time, and "first" or "resolution")
    "sla_due": ("case", {"within_minutes": Param(int, True, help="minutes before the due time")},
                "a case's next SLA target is due within N minutes"),
    "sla_breached": ("case", {}, "a case's next SLA target passed unmet"),
}
TYPES = tuple(SPECS)


@dataclass(frozen=True)
class Trigger:
    type: str
    entity: str
    params: dict = field(default_factory=dict, hash=False, compare=False)

    def __getitem__(self, key: str) -> Any:
        return self.params.get(key)

    def describe(self) -> str:
        p = self.params
        stage = f" in {p['stage']}" if p.get("stage") else ""
        pipeline = f" ({p['pipeline']})" if p.get("pipeline") else ""
        return {
            "deal_stale": f"deal{pipeline} not moved{stage or ' in any open stage'} for {p.get('days')} days",
            "deal_entered_stage": f"deal{pipeline} entered {p.get('stage')}",
            "deal_won": f"deal{pipeline} won",
            "deal_lost": f"deal{pipeline} lost",
            "lead_created": f"contact created as {p.get('lifecycle')}",
            "customer_inactive": f"{p.get('lifecycle')} without a call, email or meeting for {p.get('days')} days",
            "task_overdue": f"task overdue by {p.get('days')} days",
            "date_field": f"{p.get('field')} in {p.get('days_before')} days",
            "sla_due": f"case SLA target due within {p.get('within_minutes')} minutes",
            "sla_breached": "case SLA target breached",
        }[self.type]

    def explain(self, occurrence_at: datetime, key: str, now: datetime) -> str:
        """Why one occurrence fires, in words (for `crm workflows check`)."""
        days = (now - occurrence_at).days
        at = f"{occurrence_at:%Y-%m-%d %H:%M} UTC"
        return {
            "deal_stale": f"in its stage since {at} ({days} days; the rule says {self['days']})",
            "deal_entered_stage": f"entered {self['stage']} at {at}",
            "deal_won": f"won at {at}",
            "deal_lost": f"lost at {at}",
            "lead_created": f"created at {at}",
            "customer_inactive": f"last call, email or meeting (or creation) at {at}, {days} days ago",
            "task_overdue": f"due at {at}, {days} days ago",
            "date_field": f"{self['field']} is {key}",
            "sla_due": f"{_target(key)} due at {at}, in {_minutes(occurrence_at - now)}",
            "sla_breached": f"{_target(key)} was due at {at}, {_minutes(now - occurrence_at)} ago",
        }[self.type]


def _target(key: str) -> str:
    return "first response" if key == "first" else "resolution"


def _minutes(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60}h {minutes % 60}m" if minutes >= 60 else f"{minutes}m"


def parse(raw: dict) -> Trigger:
    type_ = raw.get("type")
    if type_ not in SPECS:
        raise SpecError(f"unknown trigger {type_!r} (known: {', '.join(TYPES)})", "type", type_)
    entity, spec, _ = SPECS[type_]
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "type":
            continue
        if key not in spec:
            raise SpecError(f"unknown setting {key!r} for trigger {type_} (known: {', '.join(spec) or 'none'})", key)
        want = spec[key].kind
        unit, most = ("minutes", MAX_MINUTES) if key.endswith("minutes") else ("days", MAX_DAYS)
        if want is int and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most):
            raise SpecError(f"{key} must be a whole number of {unit} from 0 to {most}", key)
        if want is str and (not isinstance(value, str) or not value.strip()):
            raise SpecError(f"{key} must be text", key)
        params[key] = value.strip() if isinstance(value, str) else value
    for key, param in spec.items():
        if key not in params:
            if param.required:
                raise SpecError(f"trigger {type_} needs {key} ({param.help or param.kind.__name__})", "type", type_)
            params[key] = param.default
    if type_ == "date_field":
        entity = _date_field_entity(params["field"])
    if params.get("lifecycle") is not None:
        if params["lifecycle"] not in {m.value for m in Lifecycle}:
            raise SpecError(f"unknown lifecycle {params['lifecycle']!r} (known: {', '.join(m.value for m in Lifecycle)})",
                            "lifecycle")
    return Trigger(type_, entity, params)


def _date_field_entity(name: str) -> str:
    parts = name.split(".")
    if name == "deal.expected_close":
        return "deal"
    if len(parts) == 3 and parts[0] in ("contact", "deal", "company") and parts[1] == "custom" and parts[2]:
        return parts[0]
    raise SpecError(f"date field {name!r} must be contact.custom.NAME, deal.custom.NAME, company.custom.NAME "
                    "or deal.expected_close", "field", name)


# --- the queries ---------------------------------------------------------------------------


def _named(column, model, value: str):
    """`column` refers to a row of `model` (Stage or Pipeline) with this name, in any case."""
    return column.in_(select(model.id).where(func.lower(model.name) == value.lower()))


def _date_expr(trigger: Trigger):
    name = trigger["field"]
    if name == "deal.expected_close":
        return cast(Deal.expected_close, String)
    entity, _, key = name.split(".", 2)
    return func.substr(MODELS[entity].custom[key].as_string(), 1, 10)


def _done(firing) -> Any:
    """A firing that counts as fired: done, or failed for good."""
    return or_(firing.status == "done", firing.attempts >= MAX_ATTEMPTS)


def _stage_entries(stage: str, rule: str, start: datetime, now: datetime):
    """(deal_id, at) of every entry into the stage(s) named `stage` between start and now, as a
    subquery. One row per entry, even if the deal has left the stage again since:

    - moves into the stage: its stage_id audit events (`at` is the stage_entered_at the move set);
    - the current stay: stage_entered_at (deals created, imported or seeded in the stage have no
      audit event of it; for a move it is the audit event's `at`, which the UNION folds into one row);
    - a first stay the deal was created in and has left since: created_at (create_deal sets
      stage_entered_at to it), unless a firing of this rule already covered that stay.
    """
    stage_ids = select(Stage.id).where(func.lower(Stage.name) == stage.lower())
    stage_keys = select(cast(Stage.id, String)).where(func.lower(Stage.name) == stage.lower())
    # lower(entity): keeps SQLite (no ANALYZE statistics) on ix_audit_at, the window's events,
    # instead of ix_audit_record on entity alone, every deal event ever
    moved = select(AuditEvent.entity_id.label("deal_id"), AuditEvent.at.label("at")).where(
        func.lower(AuditEvent.entity) == "deal", AuditEvent.field == "stage_id", AuditEvent.new_value.in_(stage_keys),
        AuditEvent.at >= start, AuditEvent.at <= now)
    staying = select(Deal.id, Deal.stage_entered_at).where(
        Deal.stage_id.in_(stage_ids), Deal.stage_entered_at >= start, Deal.stage_entered_at <= now)
    first, earlier = aliased(AuditEvent), aliased(AuditEvent)
    created = select(Deal.id, Deal.created_at).join(first, first.entity_id == Deal.id).where(
        func.lower(first.entity) == "deal", first.field == "stage_id", first.old_value.in_(stage_keys), first.at >= start,
        Deal.created_at >= start, Deal.created_at <= now,
        ~exists().where(earlier.entity == "deal", earlier.entity_id == first.entity_id, earlier.field == "stage_id",
                        or_(earlier.at < first.at, and_(earlier.at == first.at, earlier.id < first.id))),
        # seeded and imported deals may have entered their first stage after created_at: a firing
        # of that stay (at its stage_entered_at, while the deal was still there) is the same entry
        ~exists().where(WorkflowFiring.rule == rule, WorkflowFiring.entity == "deal",
                        WorkflowFiring.entity_id == Deal.id, WorkflowFiring.occurrence_key == "",
                        WorkflowFiring.occurrence_at >= Deal.created_at, WorkflowFiring.occurrence_at < first.at,
                        _done(WorkflowFiring)))
    return union(moved, staying, created).subquery("stage_entries")


def _base(trigger: Trigger, now: datetime, zone: tzinfo, rule: str = "") -> tuple[Any, Any, Any, list]:
    """(model, occurrence_at, occurrence_key, conditions) of a trigger at `now`."""
    t, p = trigger.type, trigger.params
    no_key = literal("", String)
    if trigger.entity == "deal" and t != "date_field":
        conds = [Deal.archived.is_(False)]
        if p.get("pipeline"):
            conds.append(_named(Deal.pipeline_id, Pipeline, p["pipeline"]))
        if t == "deal_stale":
            conds += [Deal.status == DealStatus.OPEN, Deal.stage_entered_at < now - timedelta(days=p["days"])]
            if p.get("stage"):
                conds.append(_named(Deal.stage_id, Stage, p["stage"]))
            return Deal, Deal.stage_entered_at, no_key, conds
        if t == "deal_entered_stage":
            # every entry in the window, also one the deal has left again before this run
            entries = _stage_entries(p["stage"], rule, now - timedelta(days=p["within_days"]), now)
            conds.append(Deal.id == entries.c.deal_id)
            return Deal, entries.c.at, no_key, conds
        status = DealStatus.WON if t == "deal_won" else DealStatus.LOST
        conds += [Deal.status == status, Deal.closed_at >= now - timedelta(days=p["within_days"]),
                  Deal.closed_at <= now]
        return Deal, Deal.closed_at, no_key, conds
    if t == "lead_created":
        # lower(): keeps SQLite (no ANALYZE statistics) on the created_at index, a few days of
        # rows, instead of the lifecycle index, a third of all contacts
        conds = [Contact.archived.is_(False), func.lower(Contact.lifecycle) == p["lifecycle"],
                 Contact.created_at >= now - timedelta(days=p["within_days"]), Contact.created_at <= now]
        return Contact, Contact.created_at, no_key, conds
    if t == "customer_inactive":
        last = func.coalesce(Contact.last_contacted_at, Contact.created_at)
        conds = [Contact.archived.is_(False), Contact.lifecycle == p["lifecycle"],
                 last < now - timedelta(days=p["days"])]
        return Contact, last, no_key, conds
    if t == "task_overdue":
        conds = [Task.done_at.is_(None), Task.due_at < now - timedelta(days=p["days"]),
                 or_(Task.snoozed_until.is_(None), Task.snoozed_until <= now)]
        return Task, Task.due_at, no_key, conds
    if t == "date_field":
        model = MODELS[trigger.entity]
        value = _date_expr(trigger)
        today = now.astimezone(zone).date()
        last = today + timedelta(days=p["days_before"])
        conds = [model.archived.is_(False), value.like("____-__-__"), value >= today.isoformat(),
                 value <= last.isoformat()]
        return model, literal(EPOCH, UTCDateTime), value, conds
    if trigger.entity == "case":
        key = sla.next_target_name()  # the target sla_next_at stands for: the occurrence's key
        conds = [Case.sla_next_at.is_not(None)]
        if t == "sla_due":
            conds += [Case.sla_next_at > now, Case.sla_next_at <= now + timedelta(minutes=p["within_minutes"])]
        else:
            conds.append(Case.sla_next_at <= now)
        return Case, Case.sla_next_at, key, conds
    raise AssertionError(t)  # pragma: no cover - parse() admits known types only


def candidates(trigger: Trigger, rule: str, conditions: list, *, now: datetime, zone: tzinfo,
               only_id: int | None = None, limit: int | None = None) -> Select:
    """The one query: occurrences that match now and have not fired (or errored for good) yet."""
    model, occurrence_at, occurrence_key, conds = _base(trigger, now, zone, rule)
    fired = exists().where(
        WorkflowFiring.rule == rule, WorkflowFiring.entity == trigger.entity, WorkflowFiring.entity_id == model.id,
        WorkflowFiring.occurrence_at == occurrence_at, WorkflowFiring.occurrence_key == occurrence_key,
        _done(WorkflowFiring),
    )
    # a record may have several occurrences (deal_entered_stage: each entry into the stage)
    # a case trigger walks ix_cases_sla_next in due order: ordered by id, SQLite (a LIMIT, a bound
    # time) would rather read every case in id order than sort the index's few
    order = (occurrence_at, model.id) if trigger.entity == "case" else (model.id, "occurrence_at")
    stmt = (select(model.id.label("id"), occurrence_at.label("occurrence_at"), occurrence_key.label("occurrence_key"))
            .where(and_(*conds, *conditions), ~fired).order_by(*order, "occurrence_key"))
    if only_id is not None:
        stmt = stmt.where(model.id == only_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt

