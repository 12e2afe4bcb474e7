"""The runner: one engine run over every rule — scan with the trigger's query, then fire each
occurrence in its own transaction (claim + actions + emails queued), then send the outbox.

Exactly once: the claim is an INSERT into workflow_firings that ignores a conflict on the
occurrence's unique key, in the same transaction as the actions. Two engines that find the same
occurrence both try; the database lets one insert and the other finds the row and skips.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from crm_tui.clock import get_zone, resolve_now
from crm_tui.config import Settings, team_timezone
from crm_tui.db import Database
from crm_tui.errors import CrmError
from crm_tui.models.workflow import WorkflowFiring
from crm_tui.services import activities, sequence_engine
from crm_tui.services import workflows as workflow_service
from crm_tui.services.common import Actor
from crm_tui.services.sequence_engine import RunCounts
from crm_tui.workflows import context, published, quote_expiry
from crm_tui.workflows.actions import Env
from crm_tui.workflows.email import SendReport, SmtpSettings, send_queued, smtp_settings
from crm_tui.workflows.rules import Rule, RuleError, RuleSet, rules_path
from crm_tui.workflows.sql import insert_ignore
from crm_tui.workflows.triggers import MAX_ATTEMPTS, candidates

KEY = ["rule", "entity", "entity_id", "occurrence_at", "occurrence_key"]
PREVIEWS_PER_RULE = 50


@dataclass
class Outcome:
    """One occurrence: fired (with what its actions did), failed (with why), or previewed."""

    rule: str
    entity: str
    entity_id: int
    label: str
    why: str
    actions: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class RunReport:
    fired: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    previews: list[Outcome] = field(default_factory=list)
    rule_errors: list[RuleError] = field(default_factory=list)
    # occurrences another engine fired between our scan and our claim
    skipped: int = 0
    # previews left out of a dry run (more than PREVIEWS_PER_RULE for one rule)
    more: dict[str, int] = field(default_factory=dict)
    email: SendReport | None = None
    # what the sequences' due steps did (services/sequences.run_due); None on a dry run or one rule
    sequences: RunCounts | None = None
    # planned calls and meetings came and moved their contacts' last contact: the app reloads what
    # it shows, so a meeting whose time came leaves the Inbox's Planned on that tick
    arrived: bool = False
    expired_quotes: int = 0  # quotes past their validity marked expired (workflows/quote_expiry.py)

    @property
    def changed(self) -> bool:
        seq = self.sequences
        return bool(self.fired or self.arrived or self.expired_quotes
                    or (seq and (seq.done or seq.finished or seq.stopped)))

    @property
    def ok(self) -> bool:
        return not (self.failed or self.rule_errors or (self.sequences and self.sequences.errors))


def system_actor(rule: str) -> Actor:
    """Who the audit trail says made a rule's changes: system:workflow/<rule>."""
    return Actor(user_id=None, login=f"system:workflow/{rule}"[:100], role="admin")


def run(db: Database, *, rules: RuleSet | None = None, now: datetime | None = None, zone: tzinfo | None = None,
        smtp: SmtpSettings | None = None, dry_run: bool = False, runner: str | None = None,
        only: str | None = None, team_zone: tzinfo | None = None) -> RunReport:
    """Run every enabled rule once (or just the rule named `only`): the given rules, else the
    team's published rules (workflows/published.py); then the sequences' due steps (their
    business days and sending windows in `team_zone`), then send the outbox."""
    now = resolve_now(now)
    zone = zone or get_zone(None)
    if rules is None:
        with db.read() as session:
            rules, _ = published.rules_in_force(session)
    report = RunReport(rule_errors=list(rules.errors))
    runner = (runner or f"cli@{socket.gethostname()}")[:100]
    if not dry_run:
        report.arrived = _arrive_planned(db, now)
        report.expired_quotes = quote_expiry.expire_quotes(db, now, zone)
    for rule in rules.enabled:
        if only is not None and rule.name != only:
            continue
        try:
            rows = _scan(db, rule, now, zone)
        except (CrmError, DBAPIError) as exc:
            report.rule_errors.append(RuleError(f"its query failed: {_one_line(exc)}", rule=rule.name, line=rule.line,
                                                path=rules.path))
            continue
        if dry_run:
            _preview(db, rule, rows, now, zone, smtp, report)
            continue
        for row in rows:
            _fire(db, rule, row, now, zone, smtp, runner, report)
    if not dry_run and only is None:
        report.sequences = run_sequences(db, now=now, zone=team_zone or zone, smtp=smtp)
    if smtp is not None and not dry_run:
        report.email = send_queued(db, smtp, now=now)
    return report


def run_sequences(db: Database, *, now: datetime, zone: tzinfo, smtp: SmtpSettings | None,
                  batch: int = sequence_engine.BATCH, max_batches: int = 200) -> RunCounts:
    """The sequences' due steps, a batch per transaction, until none is left (or `max_batches`).
    Without SMTP the email steps wait; a batch that fails rolls back and is retried next run."""
    total = RunCounts()
    with db.read() as session:
        if not sequence_engine.has_due(session, now=now, email=smtp is not None):
            return total
    for _ in range(max_batches):
        try:
            with db.write() as session:
                counts = sequence_engine.run_due(session, now=now, limit=batch, zone=zone, email=smtp is not None,
                                           sender_addr=smtp.sender if smtp else None)
        except Exception as exc:  # noqa: BLE001 - the batch rolled back; the run log says why
            total.errors.append(f"sequences: {_one_line(exc)}")
            break
        total.add(counts)
        if counts.rows < batch or not (counts.done or counts.skipped or counts.stopped):
            break
    return total


def _arrive_planned(db: Database, now: datetime) -> bool:
    """Calls and meetings logged ahead whose time has come count as contact now; read first, so
    a run with nothing to do takes no write lock and wakes no teammate's app. Returns whether
    any came."""
    with db.read() as session:
        if not activities.planned_arrived(session, now=now):
            return False
    with db.write() as session:
        return activities.arrive_planned(session, now=now) > 0


def _scan(db: Database, rule: Rule, now: datetime, zone: tzinfo) -> list:
    with db.read() as session:
        stmt = candidates(rule.trigger, rule.name, [c.sql(session) for c in rule.conditions], now=now, zone=zone,
                          limit=rule.limit)
        return session.execute(stmt).all()


def _preview(db: Database, rule: Rule, rows: list, now: datetime, zone: tzinfo, smtp: SmtpSettings | None,
             report: RunReport) -> None:
    if len(rows) > PREVIEWS_PER_RULE:
        report.more[rule.name] = len(rows) - PREVIEWS_PER_RULE
    env = Env(actor=system_actor(rule.name), email_enabled=smtp is not None, rule=rule.name)
    with db.read() as session:
        for row in rows[:PREVIEWS_PER_RULE]:
            firing = context.load(session, rule=rule.name, trigger=rule.trigger, entity_id=row.id,
                                  occurrence_at=row.occurrence_at, occurrence_key=row.occurrence_key, now=now, zone=zone)
            if firing is None:
                continue
            outcome = Outcome(rule.name, rule.trigger.entity, row.id, firing.label,
                              rule.trigger.explain(row.occurrence_at, row.occurrence_key, now))
            for action in rule.actions:
                try:
                    outcome.actions.append(action.preview(session, firing, env))
                except CrmError as exc:
                    outcome.error = exc.message
            report.previews.append(outcome)


def _claim(session, rule: Rule, row, now: datetime, runner: str) -> int | None:
    """The firing's row id if this transaction now owns the occurrence, else None."""
    key = {"rule": rule.name, "entity": rule.trigger.entity, "entity_id": row.id, "occurrence_at": row.occurrence_at,
           "occurrence_key": row.occurrence_key}
    firing_id = insert_ignore(session, WorkflowFiring, {**key, "fired_at": now, "status": "done", "attempts": 1,
                                                        "runner": runner}, KEY, returning=WorkflowFiring.id)
    if firing_id is not None:
        return firing_id
    # an earlier attempt failed: retry it, unless it ran out of attempts or someone fired it since
    return session.execute(
        update(WorkflowFiring).where(*(getattr(WorkflowFiring, k) == v for k, v in key.items()),
                                     WorkflowFiring.status == "error", WorkflowFiring.attempts < MAX_ATTEMPTS)
        .values(status="done", attempts=WorkflowFiring.attempts + 1, fired_at=now, runner=runner)
        .returning(WorkflowFiring.id)
    ).scalar()


def _fire(db: Database, rule: Rule, row, now: datetime, zone: tzinfo, smtp: SmtpSettings | None, runner: str,
          report: RunReport) -> None:
    trigger = rule.trigger
    outcome = Outcome(rule.name, trigger.entity, row.id, f"{trigger.entity} #{row.id}",
                      trigger.explain(row.occurrence_at, row.occurrence_key, now))
    try:
        with db.write() as session:
            # the scan was outside this transaction: the record may have moved on since
            # (a deal_entered_stage record may have several occurrences: this one must still be there)
            still = session.execute(candidates(trigger, rule.name, [c.sql(session) for c in rule.conditions], now=now,
                                               zone=zone, only_id=row.id)).all()
            if (row.occurrence_at, row.occurrence_key) not in {(r.occurrence_at, r.occurrence_key) for r in still}:
                report.skipped += 1
                return
            firing_id = _claim(session, rule, row, now, runner)
            if firing_id is None:
                report.skipped += 1
                return
            firing = context.load(session, rule=rule.name, trigger=trigger, entity_id=row.id,
                                  occurrence_at=row.occurrence_at, occurrence_key=row.occurrence_key, now=now, zone=zone)
            outcome.label = firing.label
            env = Env(actor=system_actor(rule.name), email_enabled=smtp is not None, firing_id=firing_id,
                      rule=rule.name, sender=smtp.sender if smtp else None)
            outcome.actions = [action.run(session, firing, env) for action in rule.actions]
            session.execute(update(WorkflowFiring).where(WorkflowFiring.id == firing_id)
                            .values(actions=json.dumps(outcome.actions, ensure_ascii=False), error=None))
    except Exception as exc:  # noqa: BLE001 - any failure rolls the firing back and goes in the run log
        outcome.actions, outcome.error = [], _one_line(exc)
        report.failed.append(outcome)
        _record_error(db, rule, row, now, runner, outcome.error)
        return
    report.fired.append(outcome)


def _record_error(db: Database, rule: Rule, row, now: datetime, runner: str, error: str) -> None:
    """After the rollback, in a transaction of its own: the run log keeps the failure, and the
    occurrence is retried by later runs until it has failed MAX_ATTEMPTS times."""
    key = {"rule": rule.name, "entity": rule.trigger.entity, "entity_id": row.id, "occurrence_at": row.occurrence_at,
           "occurrence_key": row.occurrence_key}
    try:
        with db.write() as session:
            if insert_ignore(session, WorkflowFiring, {**key, "fired_at": now, "status": "error", "attempts": 1,
                                                       "error": error, "runner": runner}, KEY,
                             returning=WorkflowFiring.id) is not None:
                return
            session.execute(update(WorkflowFiring).where(*(getattr(WorkflowFiring, k) == v for k, v in key.items()),
                                                         WorkflowFiring.status == "error")
                            .values(attempts=WorkflowFiring.attempts + 1, error=error, fired_at=now, runner=runner))
    except CrmError:
        pass  # the database is unreachable; the occurrence will simply be found again next run


def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, CrmError) else f"{type(exc).__name__}: {exc}"
    return " ".join(str(text).split())[:500]


@dataclass
class Tick:
    """What one run in the app brought: the run's report, and the user's new notifications."""

    report: RunReport
    notifications: list = field(default_factory=list)


def app_tick(db: Database, *, actor: Actor, now: datetime, settings: Settings) -> Tick:
    """One timer tick of the app: read the team's published rules (a new publish applies without
    a restart), run them as the system actor, then hand over this user's pending notifications.
    `settings` are the app's, loaded once at start."""
    with db.read() as session:
        rules, found = published.rules_in_force(session)
    if found is None and (draft := rules_path(settings)).exists():
        # rules written before they had to be published, or not yet published: say why none run
        rules.errors.append(RuleError(f"{draft} is not published, so no rule runs; an admin publishes it "
                                      "with `crm workflows publish`"))
    try:
        smtp = smtp_settings(settings)
    except CrmError as exc:
        smtp = None
        rules.errors.append(RuleError(f"email is off: {exc.message}"))
    report = run(db, rules=rules, now=now, zone=get_zone(actor.timezone or settings.timezone), smtp=smtp,
                 runner=f"{actor.label}@{socket.gethostname()}", team_zone=get_zone(team_timezone(settings)))
    notes = []
    if actor.user_id is not None:
        with db.read() as session:
            pending = workflow_service.pending_count(session, user_id=actor.user_id)
        if pending:
            with db.write() as session:
                notes = workflow_service.deliver_notifications(session, user_id=actor.user_id, now=now)
    return Tick(report, notes)
