"""Checking rules against the database: the stages, pipelines, users and roles they name exist."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.models import Pipeline, Stage, User
from crm_tui.workflows.rules import RuleError, RuleSet


def check_references(session: Session, rules: RuleSet) -> list[RuleError]:
    """One error per name in a rule that this database does not have (the rule would never fire,
    or its action would fail)."""
    stages = {n.lower() for n in session.scalars(select(Stage.name))}
    pipelines = {n.lower() for n in session.scalars(select(Pipeline.name))}
    logins = set(session.scalars(select(User.login).where(User.active.is_(True))))
    roles = set(session.scalars(select(User.role).where(User.active.is_(True)).group_by(User.role)))
    teams = {t.lower() for t in session.scalars(select(User.team).where(User.active.is_(True), User.team.is_not(None))
                                                .group_by(User.team))}
    errors = []
    for rule in rules.rules:
        def add(message: str) -> None:
            errors.append(RuleError(message, rule=rule.name, line=rule.line, path=rules.path))

        p = rule.trigger.params
        if p.get("stage") and p["stage"].lower() not in stages:
            add(f"no stage named {p['stage']!r} (see `crm pipeline list`)")
        if p.get("pipeline") and p["pipeline"].lower() not in pipelines:
            add(f"no pipeline named {p['pipeline']!r}")
        for c in rule.conditions:
            values = c.value if isinstance(c.value, list) else [c.value]
            known = {"stage": stages, "pipeline": pipelines, "owner": logins}.get(c.name)
            if known is not None and c.op != "set":
                for value in values:
                    if str(value).lower() not in known:
                        add(f"condition {c.describe()}: no {c.name} named {value!r}")
        for action in rule.actions:
            team = action.opts.get("team") if action.type == "assign_team" else None
            if isinstance(team, str) and team.strip() and team.strip().lower() not in teams:
                add(f"{action.type}: no active user is in the team {team!r}")
            for who in _who_specs(action):
                if who == "team":
                    continue
                if who.startswith("team:"):
                    if who[5:].strip().lower() not in teams:
                        add(f"{action.type}: no active user is in the team {who[5:]!r}")
                elif who.startswith("role:") and who[5:] not in roles:
                    add(f"{action.type}: no active user has the role {who[5:]!r}")
                elif who not in ("owner", "contact") and not who.startswith("role:") and "@" not in who \
                        and who.removeprefix("user:").lower() not in logins:
                    add(f"{action.type}: no active user {who.removeprefix('user:')!r}")
    return errors


def _who_specs(action) -> list[str]:
    o = action.opts
    keys = ("assignee", "default") if action.type == "raise_priority" else ("assignee", "to", "default")
    specs = [o.get(k) for k in keys if isinstance(o.get(k), str) and o.get(k)]
    if isinstance(o.get("map"), dict):
        specs += [v for v in o["map"].values() if isinstance(v, str)]
    return specs
