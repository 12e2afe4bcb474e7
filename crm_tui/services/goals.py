"""Sales goals: set, list and remove the amount a user is to win in a month or a quarter."""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.clock import UTC, resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Goal, User
from crm_tui.models.goal import GoalRead
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit, check_version, flush, get_or_404

ENTITY = "goal"
KINDS = ("month", "quarter")
MAX_LISTED = 500
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?q([1-4])$")
_RELATIVE = re.compile(r"^(this|last|next)[- ](month|quarter)$")
PERIOD_HINT = "use 2026-11 for a month, 2026-Q4 for a quarter, or this-month, next-quarter, ..."


def parse_goal_period(text: str, *, now: datetime | None = None, zone: tzinfo = UTC) -> tuple[str, date]:
    """("month" or "quarter", its first day) from "2026-11", "2026-Q4", "this-month", "next-quarter"."""
    raw = (text or "").strip().lower().replace("_", "-")
    if match := _MONTH.match(raw):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise InvalidInput(f"invalid goal period {text!r}: {PERIOD_HINT}")
        return "month", date(year, month, 1)
    if match := _QUARTER.match(raw):
        return "quarter", date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1)
    if match := _RELATIVE.match(raw):
        today = resolve_now(now).astimezone(zone).date()
        shift = {"this": 0, "last": -1, "next": 1}[match[1]]
        if match[2] == "month":
            return "month", today.replace(day=1) + relativedelta(months=shift)
        first = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
        return "quarter", first + relativedelta(months=3 * shift)
    raise InvalidInput(f"invalid goal period {text!r}: {PERIOD_HINT}")


def period_label(kind: str, start: date) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}" if kind == "quarter" else f"{start:%Y-%m}"


def _check_period(kind: str, start: date) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"invalid goal period kind {kind!r}: choose month or quarter")
    if start.day != 1 or (kind == "quarter" and (start.month - 1) % 3):
        raise InvalidInput(f"a {kind} goal starts on the first day of the {kind} (got {start})")


def _read(session: Session, goal: Goal) -> GoalRead:
    login = session.scalar(select(User.login).where(User.id == goal.user_id))
    return GoalRead.model_validate(goal, from_attributes=True, update={"user_login": login})


def _label(goal: Goal, login: str | None) -> str:
    return f"goal of {login or goal.user_id} for {period_label(goal.period_kind, goal.period_start)}"


def set_goal(session: Session, *, user_id: int, kind: str, start: date, amount: str | int, currency: str,
             actor: Actor, version: int | None = None, now: datetime | None = None) -> GoalRead:
    """Set (create or change) a user's goal for a month or a quarter."""
    now = resolve_now(now)
    permissions.require(session, actor, "goal.edit")
    user = get_or_404(session, User, user_id, "user")
    _check_period(kind, start)
    code = v.currency_code(currency)
    amount_minor = v.money(amount, code, locale=actor.locale)
    goal = session.scalars(select(Goal).where(Goal.user_id == user_id, Goal.period_kind == kind,
                                              Goal.period_start == start)).first()
    if goal is None:
        goal = Goal(user_id=user_id, period_kind=kind, period_start=start, amount_minor=amount_minor, currency=code,
                    created_at=now, updated_at=now)
        session.add(goal)
        flush(session, ENTITY, _label(goal, user.login))
        audit(session, actor=actor, entity=ENTITY, entity_id=goal.id, action="create", now=now,
              summary=f"{_label(goal, user.login)}: {v.format_money(amount_minor, code)}")
        return _read(session, goal)
    check_version(session, goal, version, ENTITY, _label(goal, user.login))
    changes = {}
    for name, new in (("amount_minor", amount_minor), ("currency", code)):
        if getattr(goal, name) != new:
            changes[name] = (getattr(goal, name), new)
            setattr(goal, name, new)
    if changes:
        goal.updated_at = now
        flush(session, ENTITY, _label(goal, user.login))
        audit(session, actor=actor, entity=ENTITY, entity_id=goal.id, action="update", now=now, changes=changes)
    return _read(session, goal)


def delete_goal(session: Session, *, goal_id: int, actor: Actor, version: int | None = None,
                now: datetime | None = None) -> None:
    now = resolve_now(now)
    permissions.require(session, actor, "goal.edit")
    goal = get_or_404(session, Goal, goal_id, "goal")
    login = session.scalar(select(User.login).where(User.id == goal.user_id))
    check_version(session, goal, version, ENTITY, _label(goal, login))
    audit(session, actor=actor, entity=ENTITY, entity_id=goal.id, action="delete", now=now,
          summary=f"{_label(goal, login)}: {v.format_money(goal.amount_minor, goal.currency)}")
    session.delete(goal)
    flush(session, ENTITY, _label(goal, login))


def list_goals(session: Session, *, user_id: int | None = None, start: date | None = None, end: date | None = None,
               limit: int = MAX_LISTED) -> list[GoalRead]:
    """Goals whose period starts in [start, end), by period then user; at most `limit` of them."""
    if not 1 <= limit <= MAX_LISTED:
        raise InvalidInput(f"limit must be between 1 and {MAX_LISTED}")
    stmt = select(Goal, User.login).join(User, User.id == Goal.user_id)
    if user_id is not None:
        stmt = stmt.where(Goal.user_id == user_id)
    if start is not None:
        stmt = stmt.where(Goal.period_start >= start)
    if end is not None:
        stmt = stmt.where(Goal.period_start < end)
    rows = session.execute(stmt.order_by(Goal.period_start, Goal.period_kind, User.login).limit(limit)).all()
    return [GoalRead.model_validate(goal, from_attributes=True, update={"user_login": login}) for goal, login in rows]
