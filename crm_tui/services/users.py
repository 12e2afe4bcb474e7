"""Users: add, change and list the team, and resolve who is acting."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_tui.clock import get_zone, resolve_now
from crm_tui.errors import InvalidInput, NotFound, PermissionDenied
from crm_tui.models import Role, User
from crm_tui.models.schemas import UserCreate, UserRead, UserUpdate
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_shape
from crm_tui.services.common import is_id, parse_id

_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MAX_USERS_LISTED = 1000
TEAM_LENGTH = 100


def _login(value: str) -> str:
    login = (value or "").strip().lower()
    if not _LOGIN.match(login):
        raise InvalidInput(f"invalid login {value!r}: use letters, digits, '.', '_', '-' or '@' (at most 64)")
    return login


def _read(user: User) -> UserRead:
    return UserRead.model_validate(user, from_attributes=True)


def _timezone(value: str | None) -> str | None:
    if value:
        get_zone(value)
    return value or None


def team_name(session: Session, value: str | None) -> str | None:
    """A team or region as typed, cleaned; spelled as an existing team when only the case differs
    ("emea" joins "EMEA"), so that reports group it as one."""
    text = v.optional_text(value, "team", max_length=TEAM_LENGTH)
    if text is None:
        return None
    text = " ".join(text.split())
    same = session.scalars(select(User.team).where(func.lower(User.team) == text.lower())
                           .order_by(User.id).limit(1)).first()
    return same or text


def _manager(session: Session, user: User | None, manager_id: int | None) -> int | None:
    """The manager to set, checked: an existing user, never the user, nor anyone below them."""
    if manager_id is None:
        return None
    manager = session.get(User, manager_id) if is_id(manager_id, session, User) else None
    if manager is None:
        raise NotFound(f"no user #{manager_id} to be the manager; see `crm user list`")
    if user is None:
        return manager_id
    if manager_id == user.id:
        raise InvalidInput(f"{manager.login} cannot be their own manager")
    if user.id in managers_above(session, manager_id):
        raise InvalidInput(f"{manager.login} reports to {user.login} (directly or through others); "
                           "a manager cannot report to their own report")
    return manager_id


def managers_above(session: Session, user_id: int) -> list[int]:
    """The user's manager, their manager's manager, and so on (one recursive query)."""
    chain = select(User.manager_id.label("id")).where(User.id == user_id).cte("chain", recursive=True)
    chain = chain.union(select(User.manager_id).join(chain, User.id == chain.c.id))
    return [i for i in session.scalars(select(chain.c.id)) if i is not None]


def create_user(session: Session, *, data: UserCreate | dict, actor: Actor, now: datetime | None = None) -> UserRead:
    data = parse_shape(UserCreate, data)
    now = resolve_now(now)
    permissions.require(session, actor, "user.admin")
    login = _login(data.login)
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise InvalidInput(f"login {login!r} is already taken")
    user = User(
        login=login,
        name=v.optional_text(data.name, "name") or login,
        email=v.email(data.email) if data.email else None,
        role=v.choice(data.role, Role, "role"),
        timezone=_timezone(data.timezone),
        manager_id=_manager(session, None, data.manager_id),
        team=team_name(session, data.team),
        created_at=now, updated_at=now,
    )
    session.add(user)
    flush(session, "user", f"user {login}")
    audit(session, actor=actor, entity="user", entity_id=user.id, action="create", now=now,
          summary=f"{user.login} ({user.role})" + (f", team {user.team}" if user.team else "")
          + (f", reports to #{user.manager_id}" if user.manager_id else ""))
    return _read(user)


def update_user(session: Session, *, user_id: int, changes: UserUpdate | dict, actor: Actor,
                version: int | None = None, now: datetime | None = None) -> UserRead:
    changes = parse_shape(UserUpdate, changes)
    now = resolve_now(now)
    permissions.require(session, actor, "user.admin")
    user = get_or_404(session, User, user_id, "user")
    check_version(session, user, version, "user", f"user {user.login}")
    values = changes.model_dump(exclude_unset=True)
    if "name" in values:
        values["name"] = v.required_text(values["name"], "name")
    if "email" in values:
        values["email"] = v.email(values["email"]) if values["email"] else None
    if "role" in values:
        values["role"] = v.choice(values["role"], Role, "role")
    if "timezone" in values:
        values["timezone"] = _timezone(values["timezone"])
    if "manager_id" in values:
        values["manager_id"] = _manager(session, user, values["manager_id"])
    if "team" in values:
        values["team"] = team_name(session, values["team"])
    if values.get("active") is False or values.get("role", Role.ADMIN) != Role.ADMIN:
        _keep_an_admin(session, user, values)
    changed = apply_changes(user, values)
    if changed:
        user.updated_at = now
        flush(session, "user", f"user {user.login}")
        audit(session, actor=actor, entity="user", entity_id=user.id, action="update", now=now, changes=changed)
    return _read(user)


def _keep_an_admin(session: Session, user: User, values: dict) -> None:
    if user.role != Role.ADMIN or not user.active:
        return
    others = session.scalar(
        select(func.count()).select_from(User)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise InvalidInput(f"{user.login} is the last active admin; make someone else admin first")


def get_user(session: Session, *, user_id: int) -> UserRead:
    return _read(get_or_404(session, User, user_id, "user"))


def resolve_user(session: Session, ref: str | int) -> UserRead:
    """A user by id, login, email or exact name (case-insensitive)."""
    text = str(ref).strip()
    if (user_id := parse_id(text)) is not None:
        user = session.get(User, user_id) if is_id(user_id, session, User) else None
    else:
        folded = text.lower()
        user = session.scalars(
            select(User).where(or_(User.login == folded, func.lower(User.email) == folded,
                                   func.lower(User.name) == folded)).order_by(User.id).limit(1)
        ).first()
    if user is None:
        raise NotFound(f"no user {text!r}; see `crm user list`")
    return _read(user)


def list_users(session: Session, *, include_inactive: bool = True) -> list[UserRead]:
    """The team. Teams are small; the list is capped all the same."""
    stmt = select(User).order_by(User.login).limit(MAX_USERS_LISTED)
    if not include_inactive:
        stmt = stmt.where(User.active.is_(True))
    return [_read(u) for u in session.scalars(stmt)]


def actor_for(session: Session, *, login: str, now: datetime | None = None) -> Actor:
    """The Actor for a login. On a database with no users yet, that login becomes the first admin."""
    login = _login(login)
    user = session.scalars(select(User).where(User.login == login)).first()
    if user is None and session.scalar(select(func.count()).select_from(User)) == 0:
        user = _bootstrap_admin(session, login, resolve_now(now))
    if user is None:
        raise PermissionDenied(
            f"{login!r} is not a user of this CRM; ask {_admins(session)} to run "
            f"`crm user add {login} --name \"Your Name\" --role sales` (or use --user LOGIN)"
        )
    if not user.active:
        raise PermissionDenied(f"user {login!r} is deactivated; ask {_admins(session)} to run "
                               f"`crm user edit {login} --active`")
    return Actor(user_id=user.id, login=user.login, role=user.role, timezone=user.timezone)


def _admins(session: Session, shown: int = 3) -> str:
    """The active admins to ask, by login ("an admin" when there are none)."""
    logins = list(session.scalars(select(User.login).where(User.role == Role.ADMIN, User.active.is_(True))
                                  .order_by(User.login).limit(shown + 1)))
    if not logins:
        return "an admin"
    more = " or another admin" if len(logins) > shown else ""
    names = ", ".join(logins[:shown])
    return f"an admin ({names}{more})"


def _bootstrap_admin(session: Session, login: str, now: datetime) -> User | None:
    user = User(login=login, name=login, role=Role.ADMIN, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        # another process created the first user at the same moment; use theirs
        return session.scalars(select(User).where(User.login == login)).first()
    audit(session, actor=Actor(user.id, login, Role.ADMIN), entity="user", entity_id=user.id, action="create",
          now=now, summary=f"{login} (admin, first user of this database)")
    return user
