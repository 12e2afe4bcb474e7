"""The team's published rules: an admin publishes a rules file into the database, and every
engine (each teammate's app, cron's `crm workflows run`) runs that text.

A rules file in someone's config dir is only a draft. Rules act as the system actor, which may
do everything, so what they say is the admin's to decide: publishing needs `workflow.admin`,
and running the published rules needs nothing more than a signed-in user.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import WorkflowRuleset
from crm_tui.services import permissions
from crm_tui.services.common import Actor, audit
from crm_tui.workflows.checks import check_references
from crm_tui.workflows.rules import RuleSet, parse_rules


@dataclass(frozen=True)
class Published:
    id: int
    text: str
    digest: str
    rule_count: int
    published_by: str
    published_at: datetime

    @property
    def label(self) -> str:
        """How errors and listings name these rules: `published rules #3`."""
        return f"published rules #{self.id}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(row: WorkflowRuleset) -> Published:
    return Published(row.id, row.text, row.digest, row.rule_count, row.published_by, row.published_at)


def current(session: Session) -> Published | None:
    """The rules in force: the newest published, or None before anything was published."""
    row = session.scalars(select(WorkflowRuleset).order_by(WorkflowRuleset.id.desc()).limit(1)).first()
    return None if row is None else _read(row)


def rules_in_force(session: Session) -> tuple[RuleSet, Published | None]:
    """The published rules, parsed (no rules before anything was published)."""
    found = current(session)
    if found is None:
        return RuleSet(), None
    return parse_rules(found.text, path=Path(found.label)), found


def publish(session: Session, *, text: str, actor: Actor, source: str | None = None,
            now: datetime | None = None) -> tuple[Published, bool]:
    """Make `text` the team's rules. Refused, writing nothing, unless the actor may change the
    rules and every rule is valid here (syntax, and the stages, users and roles it names).
    Returns (the rules in force, whether this changed them): the same text again is a no-op."""
    now = resolve_now(now)
    permissions.require(session, actor, "workflow.admin")
    rules = parse_rules(text, path=Path(source) if source else None)
    errors = [*rules.errors, *check_references(session, rules)]
    if errors:
        more = f" (and {len(errors) - 1} more; see `crm workflows validate`)" if len(errors) > 1 else ""
        raise InvalidInput(f"not published: {errors[0]}{more}")
    digest = _digest(text)
    before = current(session)
    if before is not None and before.digest == digest:
        return before, False
    row = WorkflowRuleset(text=text, digest=digest, rule_count=len(rules.rules), published_by_id=actor.user_id,
                          published_by=actor.login, published_at=now)
    session.add(row)
    session.flush()
    audit(session, actor=actor, entity="workflow_rules", entity_id=row.id, action="publish", now=now,
          changes={"rules": (before.digest[:12] if before else None, f"{digest[:12]} ({len(rules.rules)} rules)")})
    return _read(row), True
