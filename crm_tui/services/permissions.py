"""Roles and permissions: what each role may do, checked by every service before it writes.

The default matrix lives here; an admin's changes are rows of `role_permissions` laid over it.
A scope is "all" (every record), "own" (records the user owns or is assigned) or "none".
The system actor (workflow engine, import runs) may do everything; its changes are audited as it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, false, or_, select, true
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import Forbidden, InvalidInput, PermissionDenied
from crm_tui.models import Role, RolePermission, User
from crm_tui.services.common import Actor, audit
# the default matrix, read by the app's first frame before the ORM loads
from crm_tui.services.grants import ACTIONS, ALL, DEFAULTS, NONE, OWN, SCOPES, role_defaults  # noqa: F401

ROLES = tuple(r.value for r in Role)

# what a role with "own" scope may not do, where "<phrase> of other people" reads badly
_OTHERS: dict[str, str] = {
    "contact.assign": "give other people's contacts and companies to another owner",
    "deal.assign": "give other people's deals to another owner",
    "task.assign": "give other people's tasks to someone else",
    "view.admin": "change and delete other people's shared lists",
    "case.view": "see the cases of other people's accounts",
}

_ANY = object()  # "no particular record": an "own" scope is enough
_CACHE = "crm_permissions"


@dataclass(frozen=True)
class MatrixRow:
    """One action across the roles, for `crm role list` and the settings screen."""

    action: str
    description: str
    scopes: dict[str, str]
    changed: frozenset[str]  # the roles whose scope an admin changed from the default


def _check_role(role: str) -> str:
    name = (role or "").strip().lower()
    if name not in ROLES:
        raise InvalidInput(f"no role {role!r}: choose one of {', '.join(ROLES)}")
    return name


def _check_action(action: str) -> str:
    name = (action or "").strip().lower()
    if name not in ACTIONS:
        raise InvalidInput(f"no permission {action!r} (there are {len(ACTIONS)})", see="crm role list")
    return name


def _overrides(session: Session) -> dict[tuple[str, str], str]:
    """{(role, action): scope} an admin set; read once per unit of work."""
    cache = session.info.setdefault(_CACHE, {})
    if "overrides" not in cache:
        cache["overrides"] = {(r.role, r.action): r.scope for r in session.execute(
            select(RolePermission.role, RolePermission.action, RolePermission.scope))}
    return cache["overrides"]


def _forget(session: Session) -> None:
    session.info.pop(_CACHE, None)


def scope_of(session: Session, role: str, action: str) -> str:
    """What `role` may do of `action` now: the admin's setting, else the default."""
    found = _overrides(session).get((role, action))
    return found if found is not None else DEFAULTS.get(role, {}).get(action, NONE)


def current_role(session: Session, actor: Actor) -> str:
    """The actor's role as stored now (an admin may have changed it while the app was open)."""
    cache = session.info.setdefault(_CACHE, {})
    key = ("role", actor.user_id)
    if key not in cache:
        row = session.execute(select(User.role, User.active).where(User.id == actor.user_id)).first()
        if row is not None and not row.active:
            raise PermissionDenied(f"user {actor.login!r} is deactivated; ask an admin to reactivate it")
        cache[key] = row.role if row is not None else actor.role
    return cache[key]


def allowed(session: Session, actor: Actor, action: str, *, owner: object = _ANY) -> bool:
    """Whether the actor may do `action` (on a record owned by or assigned to `owner`)."""
    if actor.is_system:
        return True
    scope = scope_of(session, current_role(session, actor), action)
    return scope == ALL or (scope == OWN and (owner is _ANY or owner == actor.user_id))


def may_condition(session: Session, actor: Actor, action: str, *, owner_column: object = None,
                  unowned_is_own: bool = False):
    """allowed() for many records at once, as an SQL condition on their `owner_column` (a bulk
    edit's gate): None checks the scope alone, as `require` without an owner does.
    `unowned_is_own`: a record nobody owns counts as the actor's (see require_give)."""
    if actor.is_system:
        return true()
    scope = scope_of(session, current_role(session, actor), action)
    if scope == ALL or (scope == OWN and owner_column is None):
        return true()
    if scope == OWN:
        mine = owner_column == actor.user_id
        return or_(mine, owner_column.is_(None)) if unowned_is_own else mine
    return false()


def require(session: Session, actor: Actor, action: str, *, owner: object = _ANY) -> None:
    """Refuse with Forbidden, naming the roles that may, unless the actor may do `action`.
    Pass `owner` (the record's owner or assignee id) where a role may act on its own records only."""
    if allowed(session, actor, action, owner=owner):
        return
    role = current_role(session, actor)
    phrase = ACTIONS[action]
    own = scope_of(session, role, action) == OWN
    needs = [r for r in ROLES if scope_of(session, r, action) == ALL] or [Role.ADMIN.value]
    what = _OTHERS.get(action, f"{phrase} of other people") if own else phrase
    mine = "; you may on your own" if own else ""
    raise Forbidden(f"{actor.login} ({role}) may not {what}: that needs the {_either(needs)} role{mine}")


def require_assign(session: Session, actor: Actor, action: str, *, old: int | None, new: object = _ANY) -> None:
    """Giving a record (owned by `old`) to `new`: checked only when the owner actually changes."""
    if new is not _ANY and new != old:
        require(session, actor, action, owner=old)


def require_give(session: Session, actor: Actor, action: str, *, old: int | None, new: object = _ANY) -> None:
    """`require_assign` for records that may have no owner (contacts, companies): one nobody owns,
    or a new one, counts as the actor's own, since claiming or handing it on takes it from no one."""
    require_assign(session, actor, action, old=actor.user_id if old is None else old, new=new)


def owner_of(session: Session, model: type, id_: int | None, column: str = "owner_id") -> object:
    """The owner (or assignee) of a record by id, for `require(owner=...)`; a missing record is left
    to the service's own NotFound."""
    value = session.execute(select(getattr(model, column)).where(model.id == id_)).first() if id_ else None
    return _ANY if value is None else value[0]


def capabilities(session: Session, actor: Actor) -> dict[str, str]:
    """Every action with the actor's scope now ("all", "own" or "none"): what the UI reads to show
    only the areas and keys a person may use. The services still check each action themselves."""
    if actor.is_system:
        return {action: ALL for action in ACTIONS}
    role = current_role(session, actor)
    return {action: scope_of(session, role, action) for action in ACTIONS}


def refuse_area(session: Session, actor: Actor, area: str, actions: tuple[str, ...]) -> str:
    """Why the actor may not open an area that needs any one of `actions`, naming the roles that may."""
    role = current_role(session, actor)
    may = [r for r in ROLES if any(scope_of(session, r, a) != NONE for a in actions)] or [Role.ADMIN.value]
    return f"{actor.login} ({role}) may not open {area}: that needs the {_either(may)} role"


def _either(roles: list[str]) -> str:
    return roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " or " + roles[-1]


def report_owner(session: Session, actor: Actor | None, name: str, owner_id: int | None) -> int | None:
    """The owner a report may be run for: refused without the permission; "own" pins it to the actor."""
    if actor is None:  # called by code that checked already (or tests of the numbers)
        return owner_id
    action = "report.sources" if name.strip().lower() == "sources" else "report.view"
    if actor.is_system or allowed(session, actor, action, owner=owner_id):
        return owner_id
    if scope_of(session, current_role(session, actor), action) == OWN:
        return actor.user_id  # a seller's reports are their own deals
    require(session, actor, action, owner=owner_id)
    return owner_id


def matrix(session: Session) -> list[MatrixRow]:
    """Every action with each role's scope now, and which of them an admin changed."""
    overrides = _overrides(session)
    rows = []
    for action, description in ACTIONS.items():
        scopes = {role: scope_of(session, role, action) for role in ROLES}
        changed = frozenset(role for role in ROLES
                            if (role, action) in overrides and overrides[(role, action)] != DEFAULTS[role].get(action, NONE))
        rows.append(MatrixRow(action, description, scopes, changed))
    return rows


def set_scope(session: Session, *, role: str, action: str, scope: str, actor: Actor,
              now: datetime | None = None) -> MatrixRow:
    """Let `role` do `action` on all records, its own, or none. The admin role keeps everything."""
    require(session, actor, "role.admin")
    role, action = _check_role(role), _check_action(action)
    scope = (scope or "").strip().lower()
    if scope not in SCOPES:
        raise InvalidInput(f"no scope {scope!r}: choose one of {', '.join(SCOPES)}")
    if role == Role.ADMIN:
        raise InvalidInput("the admin role always has every permission; change another role")
    now = resolve_now(now)
    old = scope_of(session, role, action)
    row = session.scalars(select(RolePermission).where(RolePermission.role == role,
                                                       RolePermission.action == action)).first()
    if row is None:
        row = RolePermission(role=role, action=action, scope=scope, created_at=now, updated_at=now)
        session.add(row)
    elif row.scope != scope:
        row.scope, row.updated_at = scope, now
    session.flush()
    _forget(session)
    if old != scope:
        audit(session, actor=actor, entity="role", entity_id=row.id, action="update", now=now,
              changes={f"{role} {action}": (old, scope)})
    return next(r for r in matrix(session) if r.action == action)


def grant(session: Session, *, role: str, action: str, own: bool = False, actor: Actor,
          now: datetime | None = None) -> MatrixRow:
    return set_scope(session, role=role, action=action, scope=OWN if own else ALL, actor=actor, now=now)


def revoke(session: Session, *, role: str, action: str, actor: Actor, now: datetime | None = None) -> MatrixRow:
    return set_scope(session, role=role, action=action, scope=NONE, actor=actor, now=now)


def reset(session: Session, *, role: str | None = None, actor: Actor, now: datetime | None = None) -> int:
    """Put one role (or every role) back to the defaults; returns how many changes were undone."""
    require(session, actor, "role.admin")
    role = _check_role(role) if role else None
    now = resolve_now(now)
    stmt = delete(RolePermission)
    if role:
        stmt = stmt.where(RolePermission.role == role)
    undone = session.execute(stmt).rowcount or 0
    _forget(session)
    if undone:
        audit(session, actor=actor, entity="role", entity_id=None, action="reset", now=now,
              summary=f"{role or 'every role'} back to the defaults ({undone} changes undone)")
    return undone
