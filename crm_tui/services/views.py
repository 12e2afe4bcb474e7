"""Saved views (smart lists): named searches and filters shared with the team."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import SavedView
from crm_tui.models.schemas import ContactFilter, DealFilter, SavedViewCreate, SavedViewRead
from crm_tui.services import contacts, deal_list, permissions, validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_shape

ENTITIES = ("contact", "company", "deal", "case")
# a saved case list (the Cases area): its queue and filters, as services/cases.list_cases takes them
CASE_FILTERS = ("queue", "team", "status", "priority", "category", "assignee_id")
MAX_VIEWS = 200


def _read(view: SavedView) -> SavedViewRead:
    return SavedViewRead.model_validate(view, from_attributes=True, update={"filters": dict(view.filters or {})})


def _validate(entity: str, filters: dict, sort: str) -> None:
    if entity not in ENTITIES:
        raise InvalidInput(f"invalid view entity {entity!r}: choose one of {', '.join(ENTITIES)}")
    if entity == "contact":
        parse_shape(ContactFilter, filters)
        if sort not in contacts.SORTS and not sort.startswith("custom."):  # or a typed custom field
            raise InvalidInput(f"invalid sort {sort!r}: choose one of {', '.join(contacts.SORTS)} or custom.FIELD")
    elif entity == "deal":
        parse_shape(DealFilter, filters)
        deal_list.check_sort(sort)
    elif entity == "case":
        unknown = sorted(set(filters) - set(CASE_FILTERS))
        if unknown:
            raise InvalidInput(f"invalid case list filter {unknown[0]!r}: choose from {', '.join(CASE_FILTERS)}")


def _get_visible(session: Session, view_id: int, actor: Actor) -> SavedView:
    """A view the actor may see: a private one is its owner's alone, to change as to list."""
    view = get_or_404(session, SavedView, view_id, "view")
    if not view.shared and view.owner_id != actor.user_id:
        raise NotFound(f"no view with id {view_id}")
    return view


def _get_changeable(session: Session, view_id: int, actor: Actor) -> SavedView:
    """A view the actor may change or delete: their own always; someone else's shared one with the
    permission to look after the team's lists."""
    view = _get_visible(session, view_id, actor)
    if view.owner_id != actor.user_id:
        permissions.require(session, actor, "view.admin", owner=view.owner_id)
    return view


def create_view(session: Session, *, data: SavedViewCreate | dict, actor: Actor,
                now: datetime | None = None) -> SavedViewRead:
    data = parse_shape(SavedViewCreate, data)
    now = resolve_now(now)
    name = v.required_text(data.name, "view name", max_length=100)
    _validate(data.entity, data.filters, data.sort)
    clash = session.scalar(select(SavedView.id).where(SavedView.entity == data.entity,
                                                      func.lower(SavedView.name) == name.lower()))
    if clash is not None:
        raise InvalidInput(f"a {data.entity} view named {name!r} already exists")
    position = (session.scalar(select(func.max(SavedView.position)).where(SavedView.entity == data.entity)) or 0) + 1
    view = SavedView(name=name, entity=data.entity, query=v.clean_text(data.query or "").strip(), filters=data.filters,
                     sort=data.sort, shared=data.shared, owner_id=actor.user_id, position=position,
                     created_at=now, updated_at=now)
    session.add(view)
    flush(session, "view", f"view {name!r}")
    audit(session, actor=actor, entity="view", entity_id=view.id, action="create", now=now, summary=name)
    return _read(view)


def update_view(session: Session, *, view_id: int, actor: Actor, version: int | None = None,
                name: str | None = None, query: str | None = None, filters: dict | None = None,
                sort: str | None = None, now: datetime | None = None) -> SavedViewRead:
    now = resolve_now(now)
    view = _get_changeable(session, view_id, actor)
    check_version(session, view, version, "view", f"view {view.name!r}")
    values: dict = {}
    if name is not None:
        values["name"] = v.required_text(name, "view name", max_length=100)
        clash = session.scalar(select(SavedView.id).where(SavedView.entity == view.entity, SavedView.id != view.id,
                                                          func.lower(SavedView.name) == values["name"].lower()))
        if clash is not None:
            raise InvalidInput(f"a {view.entity} view named {values['name']!r} already exists")
    if query is not None:
        values["query"] = v.clean_text(query).strip()
    if filters is not None:
        values["filters"] = filters
    if sort is not None:
        values["sort"] = sort
    _validate(view.entity, values.get("filters", view.filters or {}), values.get("sort", view.sort))
    changed = apply_changes(view, values)
    if changed:
        view.updated_at = now
        flush(session, "view", f"view {view.name!r}")
        audit(session, actor=actor, entity="view", entity_id=view.id, action="update", now=now, changes=changed)
    return _read(view)


def delete_view(session: Session, *, view_id: int, actor: Actor, now: datetime | None = None) -> None:
    now = resolve_now(now)
    view = _get_changeable(session, view_id, actor)
    audit(session, actor=actor, entity="view", entity_id=view.id, action="delete", now=now, summary=view.name)
    session.delete(view)
    flush(session, "view", f"view {view.name!r}")


def list_views(session: Session, *, entity: str = "contact", actor: Actor | None = None) -> list[SavedViewRead]:
    """Shared views, plus the actor's own private ones."""
    stmt = select(SavedView).where(SavedView.entity == entity)
    if actor is not None:
        stmt = stmt.where((SavedView.shared.is_(True)) | (SavedView.owner_id == actor.user_id))
    else:
        stmt = stmt.where(SavedView.shared.is_(True))
    return [_read(x) for x in session.scalars(stmt.order_by(SavedView.position, SavedView.id).limit(MAX_VIEWS))]


def find_view(session: Session, *, name: str, actor: Actor, entity: str = "contact") -> SavedViewRead:
    """A saved view the actor may see, by its name (any case) or its id."""
    text = (name or "").strip()
    visible = (SavedView.shared.is_(True)) | (SavedView.owner_id == actor.user_id)
    stmt = select(SavedView).where(SavedView.entity == entity, visible)
    found = session.scalars(stmt.where(func.lower(SavedView.name) == text.lower())).first()
    if found is None and text.isdigit():
        found = session.scalars(stmt.where(SavedView.id == int(text))).first()
    if found is None:
        raise NotFound(f"no saved {entity} list named {text!r}")
    return _read(found)


# --- the built-in smart lists -----------------------------------------------------------------

ME = "@me"  # in a built-in's filters: the user looking at it

BUILTIN_CONTACT_VIEWS: tuple[SavedViewRead, ...] = tuple(
    SavedViewRead(id=-(i + 1), name=name, entity="contact", query="", filters=filters, sort=sort,
                  owner_id=None, shared=True, position=i, version=1)
    for i, (name, filters, sort) in enumerate([
        ("All contacts", {}, "name"),
        ("My contacts", {"owner_id": ME}, "name"),
        ("New leads", {"lifecycle": ["lead"], "never_contacted": True}, "created"),
        ("Leads not contacted in 14 days", {"lifecycle": ["lead"], "not_contacted_days": 14}, "last_contacted"),
        ("Customers", {"lifecycle": ["customer"]}, "name"),
        ("Recently added", {"created_within_days": 14}, "created"),
    ])
)


def resolve_filters(filters: dict, actor: Actor) -> dict:
    """A view's filters for this user: "@me" becomes the user's id."""
    return {key: (actor.user_id if value == ME else value) for key, value in filters.items()}


def contact_views(session: Session, *, actor: Actor) -> list[SavedViewRead]:
    """The sidebar: the built-ins (negative ids) and then the team's saved views."""
    return [*BUILTIN_CONTACT_VIEWS, *list_views(session, entity="contact", actor=actor)]


def view_counts(session: Session, *, views: list[SavedViewRead], actor: Actor,
                now: datetime | None = None) -> dict[int, int]:
    """The live count of each contact view: one COUNT per view, each on the search index."""
    now = resolve_now(now)
    return {view.id: contacts.count_contacts(session, query=view.query or None,
                                             filters=resolve_filters(view.filters, actor), now=now)
            for view in views}


BUILTIN_DEAL_VIEWS: tuple[SavedViewRead, ...] = tuple(
    SavedViewRead(id=-(i + 1), name=name, entity="deal", query="", filters=filters, sort=sort,
                  owner_id=None, shared=True, position=i, version=1)
    for i, (name, filters, sort) in enumerate([
        ("All deals", {}, "title"),
        ("Open deals", {"status": ["open"]}, "close"),
        ("My open deals", {"status": ["open"], "owner_id": ME}, "close"),
        ("Won", {"status": ["won"]}, "closed"),
        ("Lost", {"status": ["lost"]}, "closed"),
        ("Archived deals", {"archived": True}, "updated"),
    ])
)


def deal_views(session: Session, *, actor: Actor) -> list[SavedViewRead]:
    """The deals list's lists: the built-ins (negative ids, won/lost/archived among them), then the
    team's saved deal lists."""
    return [*BUILTIN_DEAL_VIEWS, *list_views(session, entity="deal", actor=actor)]


def find_deal_view(session: Session, *, name: str, actor: Actor) -> SavedViewRead:
    """A deal list by name (any case) or id: a built-in one ("Won", "Archived deals") or a saved one."""
    text = (name or "").strip().lower()
    found = next((view for view in BUILTIN_DEAL_VIEWS if view.name.lower() == text), None)
    return found or find_view(session, name=name, actor=actor, entity="deal")
