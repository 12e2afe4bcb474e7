"""Users: add, change and list the team, and resolve who is acting."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from crm_tui.clock import get_zone, resolve_now
from crm_tui.config import LoginRequest, Settings
from crm_tui.errors import InvalidInput, NotFound, PermissionDenied
from crm_tui.models import Role, User  # the package: every table is on the metadata
from crm_tui.models.schemas import UserCreate, UserRead, UserUpdate
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_shape
from crm_tui.services.common import is_id, parse_id
from crm_tui.services.start import with_settings  # noqa: F401 - users.with_settings, as it was

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
        raise NotFound(f"no user #{manager_id} to be the manager", see="crm user list")
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
        os_login=_os_login(session, data.os_login, None),
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


def _os_login(session: Session, value: str | None, user: User | None) -> str | None:
    """Who signs in as this user (see sign_in): an OS or database login no other user has."""
    if not value:
        return None
    name = _login(value)
    taken = session.scalars(select(User).where(User.os_login == name)).first()
    if taken is not None and taken is not user:
        raise InvalidInput(f"{name!r} already signs in as {taken.login}; clear that first "
                           f"(`crm user edit {taken.login} --os-login \"\"`)")
    return name


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
    if "os_login" in values:
        values["os_login"] = _os_login(session, values["os_login"], user)
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
        raise NotFound(f"no user {text!r}", see="crm user list")
    return _read(user)


def list_users(session: Session, *, include_inactive: bool = True) -> list[UserRead]:
    """The team. Teams are small; the list is capped all the same."""
    stmt = select(User).order_by(User.login).limit(MAX_USERS_LISTED)
    if not include_inactive:
        stmt = stmt.where(User.active.is_(True))
    return [_read(u) for u in session.scalars(stmt)]


def actor_for(session: Session, *, login: str, now: datetime | None = None) -> Actor:
    """The Actor for a CRM login, trusted as given: for code that already knows who acts (tests,
    scripts). The CLI, the app and `crm serve` use sign_in, which checks who may act as whom.
    On a database with no users yet, that login becomes the first admin."""
    login = _login(login)
    user = _by_login(session, login)
    if user is None and _no_users_yet(session):
        user = _bootstrap_admin(session, login, None, resolve_now(now))
    if user is None:
        raise PermissionDenied(f"{login!r} is not a user of this CRM; ask {_admins(session)} to run "
                               f"`crm user add {login} --name \"Your Name\" --role sales`")
    return _active_actor(session, user)


# PostgreSQL: one key for the advisory lock that serializes "is this the first user?", so six
# processes opening a fresh database at once make exactly one admin (SQLite: BEGIN IMMEDIATE does)
_FIRST_USER_LOCK_KEY = 0x43524D55  # "CRMU"


@dataclass(frozen=True)
class Identity:
    """Who this process really is to the storage: the OS login on SQLite (anyone who can write
    the file can write anything in it), the database login on PostgreSQL (the server checked it).
    `storage_admin`: the owner of the SQLite file, or a PostgreSQL superuser or database owner,
    who may do anything to the data anyway, so counts as an admin."""

    name: str
    kind: str
    storage_admin: bool


def identity(session: Session, *, os_login: str) -> Identity:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        name, admin = session.execute(text(
            "SELECT current_user, r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER') "
            "FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()"
        )).one()
        return Identity(str(name).lower(), "database login", bool(admin))
    return Identity(os_login, "OS login", _owns_file(bind.url.database, os_login))


def _owns_file(path: str | None, login: str) -> bool:
    try:
        import pwd

        return bool(path) and pwd.getpwuid(os.stat(path).st_uid).pw_name.lower() == login
    except (ImportError, OSError, KeyError):
        return False


def sign_in(session: Session, *, os_login: str, login: str | None = None, source: str | None = None,
            now: datetime | None = None) -> Actor:
    """Who is acting: the one rule the CLI, the app and `crm serve` follow (run it in a write unit).

    You are the CRM user your identity maps to (users.os_login, else the user whose login equals
    it). Asking for another user (`source`: --user, CRM_USER, the config file) is allowed only to an
    admin, or to the storage's own admin (Identity); the Actor then carries `via`, and the audit
    shows "root (as bob)". On a database with no users yet, the login asked for (else the identity)
    becomes the first admin, linked to the identity that made it."""
    now = resolve_now(now)
    me = identity(session, os_login=os_login)
    mine = _mapped_user(session, me.name)
    wanted = _login(login) if login else (mine.login if mine else _login(me.name))
    target = mine if mine is not None and mine.login == wanted else _by_login(session, wanted)
    if target is None and mine is None:
        if _no_users_yet(session):
            return _active_actor(session, _bootstrap_admin(session, wanted, me.name, now))
        # read again after the lock: another process may have just made the first user (this one)
        mine = _mapped_user(session, me.name)
        target = mine if mine is not None and mine.login == wanted else _by_login(session, wanted)
    if target is None or target is not mine:
        _may_act_as_another(session, me, mine, wanted, source)
    if target is None:
        raise PermissionDenied(_not_a_user(session, me, wanted, source))
    actor = _active_actor(session, target)
    return actor if target is mine else dataclasses.replace(actor, via=me.name)


def resolve_actor(session: Session, *, request: LoginRequest, settings: Settings,
                  now: datetime | None = None) -> Actor:
    """The acting user as the CLI and the app both see them (run it in a write unit): who `request`
    signs in as (sign_in), with the team's settings applied. The config file's zone is the user's
    when they set none (so `actor.zone` is the same for a command and for the app); its locale,
    phone country and date order, and the team's zone, apply to everyone."""
    actor = sign_in(session, os_login=request.os_login, login=request.login, source=request.source, now=now)
    return with_settings(actor, settings)


def _may_act_as_another(session: Session, me: Identity, mine: User | None, wanted: str, source: str | None) -> None:
    if me.storage_admin or (mine is not None and mine.active and mine.role == Role.ADMIN):
        return
    if mine is None:
        raise PermissionDenied(
            f"{source or 'the login'} asks for {wanted!r}, but {me.kind} {me.name!r} is not a user of this CRM, "
            f"and only an admin may act as another user; if you are {wanted}, ask {_admins(session)} to run "
            f"`crm user edit {wanted} --os-login {me.name}`")
    raise PermissionDenied(
        f"{source or 'the login'} asks for {wanted!r}, but {me.kind} {me.name!r} is {mine.login} "
        f"({mine.role if mine.active else 'deactivated'}), and only an admin may act as another user")


def _not_a_user(session: Session, me: Identity, wanted: str, source: str | None) -> str:
    if source:
        return (f"{wanted!r} is not a user of this CRM (asked for by {source}); ask {_admins(session)} to run "
                f"`crm user add {wanted} --name \"Their Name\" --role sales`")
    return (f"{me.kind} {me.name!r} is not a user of this CRM; ask {_admins(session)} to run "
            f"`crm user add {wanted} --name \"Your Name\" --role sales`, or `crm user edit LOGIN "
            f"--os-login {me.name}` if you have a CRM login already")


def _by_login(session: Session, login: str) -> User | None:
    return session.scalars(select(User).where(User.login == login)).first()


def _mapped_user(session: Session, name: str) -> User | None:
    """The user an OS or database login signs in as: the one it is mapped to, else the one
    whose login it is (unless that user is mapped to another identity)."""
    users = session.scalars(select(User).where(or_(User.os_login == name, User.login == name))).all()
    mapped = [u for u in users if u.os_login == name]
    if mapped:
        return mapped[0]
    return next((u for u in users if u.login == name and u.os_login is None), None)


def _active_actor(session: Session, user: User) -> Actor:
    if not user.active:
        raise PermissionDenied(f"user {user.login!r} is deactivated; ask {_admins(session)} to run "
                               f"`crm user edit {user.login} --active`")
    return Actor(user_id=user.id, login=user.login, role=user.role, timezone=user.timezone)


def _no_users_yet(session: Session) -> bool:
    """True when the users table is empty; on PostgreSQL, taken under a transaction-scoped lock,
    so only one of several processes starting on a fresh database sees it empty."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FIRST_USER_LOCK_KEY})
    return session.scalar(select(func.count()).select_from(User)) == 0


def _admins(session: Session, shown: int = 3) -> str:
    """The active admins to ask, by login ("an admin" when there are none)."""
    logins = list(session.scalars(select(User.login).where(User.role == Role.ADMIN, User.active.is_(True))
                                  .order_by(User.login).limit(shown + 1)))
    if not logins:
        return "an admin"
    more = " or another admin" if len(logins) > shown else ""
    names = ", ".join(logins[:shown])
    return f"an admin ({names}{more})"


def _bootstrap_admin(session: Session, login: str, os_login: str | None, now: datetime) -> User:
    user = User(login=login, name=login, role=Role.ADMIN, os_login=os_login if os_login != login else None,
                created_at=now, updated_at=now)
    session.add(user)
    session.flush()
    audit(session, actor=Actor(user.id, login, Role.ADMIN), entity="user", entity_id=user.id, action="create",
          now=now, summary=f"{login} (admin, first user of this database)")
    return user


# PostgreSQL: what only an admin's database login may write (who is who and signs in as whom, what
# each role may do, the published workflow rules); the audit trail is append-only for everyone
ADMIN_TABLES = ("users", "role_permissions", "workflow_rulesets")
APPEND_ONLY_TABLES = ("audit_events",)


def database_grants(login: str, *, admin: bool = False) -> list[str]:
    """The GRANTs a teammate's PostgreSQL login needs, for the database owner to run (again after
    `crm db upgrade` adds tables). A non-admin login cannot then change users, their mapping
    (users.os_login), roles or the audit trail, whatever client it uses; the app's per-record
    rules (own deals, own tasks) stay checked by the app, not by the database."""
    role = f'"{_login(login)}"'
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    writable = [t for t in tables if t not in APPEND_ONLY_TABLES and (admin or t not in ADMIN_TABLES)]
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"GRANT INSERT, UPDATE, DELETE ON {', '.join(writable)} TO {role}",
        f"GRANT INSERT ON {', '.join(APPEND_ONLY_TABLES)} TO {role}",
    ]

