"""The service desk's cases (issue 23): open, list by queue, read, and work a case's thread (replies
to the customer through the outbox, internal notes, inbound mail), assign, prioritise, move through
its statuses, link to a deal, merge two cases. Every write checks case.edit, refuses a stale version
and is audited on the case; reads check case.view, whose "own" scope (sales) is the cases of the
accounts a person owns or the cases assigned to them (`visible_condition`).

The SLA clock is kept by services/sla.py, called here at the moments it moves: `stamp` on opening
and on a priority change, `pause`/`resume` on entering/leaving WAITING, `refresh` after a first
response, a resolve, a close or a reopen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import and_, case as case_when, false, func, literal, or_, select, true, union
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.util import ClauseAdapter

from crm_tui.clock import resolve_now
from crm_tui.config import SupportConfig
from crm_tui.errors import Forbidden, InvalidInput
from crm_tui.models import Company, Contact, Deal, EmailMessage, Product, User
from crm_tui.models.case import (CHANNELS, CLOSED, INTERNAL, NEW, OPEN, OPEN_STATUSES, PRIORITIES, PUBLIC,
                                 RESOLVED, STATUS_LABELS, STATUSES, WAITING, Case, CaseEntry, Survey)
from crm_tui.services import mail_send, permissions, sla, surveys, users
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_id
from crm_tui.services.grants import ALL, NONE, OWN
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.search import like_pattern
from crm_tui.shapes import CaseRow  # noqa: F401 - a case list's row (no ORM: the app's first frame reads it)

ENTITY = "case"
VIEW, EDIT = "case.view", "case.edit"
QUEUES = ("mine", "unassigned", "soon", "waiting", "open", "all", "team")
QUEUE_LABELS = {"mine": "Mine", "unassigned": "Unassigned", "soon": "Breaching soon", "waiting": "Waiting on customer",
                "open": "All open", "all": "All", "team": "Team"}
SOON_MINUTES = 60
MAX_SUBJECT = 300
MAX_DESCRIPTION = 50_000
MAX_BODY = mail_send.MAX_BODY
MAX_CATEGORY = 60
DIRECTIONS = ("in", "out")
VISIBILITIES = (PUBLIC, INTERNAL)


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()  # assign(): leave this one as it is

_CASES, _ENTRIES = Case.__table__, CaseEntry.__table__
_C, _E = _CASES.c, _ENTRIES.c
NEWEST_FIRST = SortKey(_C.id, _C.id, descending=True)
SOONEST_FIRST = SortKey(_C.sla_next_at, _C.id)
THREAD_ORDER = SortKey(_E.created_at, _E.id)


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One entry of a case's thread, oldest first."""

    id: int
    case_id: int
    visibility: str
    direction: str
    body: str
    created_at: datetime
    author_id: int | None
    author_login: str | None
    contact_id: int | None
    contact_name: str | None
    email_id: int | None
    email_subject: str | None = None
    email_from: str | None = None

    @property
    def internal(self) -> bool:
        return self.visibility == INTERNAL


@dataclass(frozen=True, slots=True)
class OpenDeal:
    """One of the customer's open deals, beside a case."""

    id: int
    title: str
    amount_minor: int | None
    currency: str | None
    owner_login: str | None


# --- who sees what --------------------------------------------------------------------------------


def _scope(session: Session, actor: Actor, action: str) -> str:
    if actor.is_system:
        return ALL
    return permissions.scope_of(session, permissions.current_role(session, actor), action)


def visible_condition(session: Session, actor: Actor):
    """The cases the actor may see, as one SQL condition on `cases`: every case with the "all" scope
    of case.view; with "own" (sales), the cases assigned to them and those of a company or contact
    they own; none without it."""
    scope = _scope(session, actor, VIEW)
    if scope == ALL:
        return true()
    if scope == NONE:
        return false()
    return cases_of(actor.user_id)


def cases_of(user_id: int | None, *, walk: bool = False):
    """The cases of a user's "own" scope, as one SQL condition on `cases`: those assigned to them and
    those of a company or a contact they own. The case list and the service reports both use it.
    `walk`: tested on each row a query reads anyway (a report's counts per period), not gathered
    first as a set of ids (a list's page, which reads only the rows it shows)."""
    links = _own_links(user_id)
    if walk:
        return or_(*links)
    # one index lookup each (assignee, company, contact), merged: an OR would test every case
    ids = union(*(select(_C.id).where(link) for link in links))
    return _C.id.in_(select(ids.subquery().c.id))


def _own_links(me: int | None) -> tuple:
    """What makes a case a user's own: assigned to them, or of a company or contact they own."""
    return (_C.assignee_id == me, _C.company_id.in_(select(Company.id).where(Company.owner_id == me)),
            _C.contact_id.in_(select(Contact.id).where(Contact.owner_id == me)))


def _require_view(session: Session, actor: Actor) -> None:
    permissions.require(session, actor, VIEW)


def _load(session: Session, case_id: int, actor: Actor) -> Case:
    """The case, if the actor may see it: NotFound when there is none, Forbidden when it is not theirs."""
    _require_view(session, actor)
    case = get_or_404(session, Case, case_id, "case")
    if _scope(session, actor, VIEW) == OWN and session.scalar(
            select(_C.id).where(_C.id == case.id, visible_condition(session, actor))) is None:
        raise Forbidden(f"{actor.login} ({permissions.current_role(session, actor)}) may not "
                        f"{permissions._OTHERS[VIEW]}: case #{case.id} is not one of theirs")
    return case


def _editable(session: Session, case_id: int, actor: Actor, version: int | None = None) -> Case:
    """The case to change: case.edit (its assignee is the owner an "own" scope is about), the version."""
    case = _load(session, case_id, actor)
    permissions.require(session, actor, EDIT, owner=case.assignee_id)
    check_version(session, case, version, ENTITY, label(case))
    return case


def label(case: Case) -> str:
    return f"case #{case.id}"


# --- checking what people give --------------------------------------------------------------------


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str:
    text = (value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if what == "status" and text in ("waiting_on_customer", "pending"):
        text = WAITING
    if text not in allowed:
        raise InvalidInput(f"invalid {what} {value!r}: choose one of {', '.join(allowed)}")
    return text


def check_priority(value: str | None) -> str:
    return _choice(value, PRIORITIES, "priority")


def check_status(value: str | None) -> str:
    return _choice(value, STATUSES, "status")


def check_channel(value: str | None) -> str:
    return _choice(value, CHANNELS, "channel")


def _exists(session: Session, model: type, id_: int | None, what: str) -> int | None:
    if id_ is None:
        return None
    get_or_404(session, model, id_, what)
    return id_


def _assignee(session: Session, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    user = get_or_404(session, User, user_id, "user")
    if not user.active:
        raise InvalidInput(f"user {user.login} is deactivated; assign the case to an active user")
    return user.id


def _team(session: Session, team: str | None) -> str | None:
    return users.team_name(session, team)


def _links(session: Session, contact_id: int | None, company_id: int | None) -> tuple[int | None, int | None]:
    """The contact and company, checked; a contact given without a company brings its own."""
    if contact_id is not None:
        contact = get_or_404(session, Contact, contact_id, "contact")
        if company_id is None:
            company_id = contact.company_id
    _exists(session, Company, company_id, "company")
    return contact_id, company_id


def _addr(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    addr = parseaddr(value)[1] or value
    return v.email(addr)


def _clean(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "subject" in values:
        out["subject"] = v.required_text(values["subject"], "subject", max_length=MAX_SUBJECT)
    if "description" in values:
        out["description"] = v.optional_text(values["description"], "description", max_length=MAX_DESCRIPTION,
                                             multiline=True) or ""
    if "channel" in values:
        out["channel"] = check_channel(values["channel"])
    if "category" in values:
        out["category"] = v.optional_text(values["category"], "category", max_length=MAX_CATEGORY)
    if "priority" in values:
        out["priority"] = check_priority(values["priority"])
    if "product_id" in values:
        out["product_id"] = _exists(session, Product, values["product_id"], "product")
    if "deal_id" in values:
        out["deal_id"] = _exists(session, Deal, values["deal_id"], "deal")
    if "assignee_id" in values:
        out["assignee_id"] = _assignee(session, values["assignee_id"])
    if "team" in values:
        out["team"] = _team(session, values["team"])
    if "from_addr" in values:
        out["from_addr"] = _addr(values["from_addr"])
    return out


# --- opening a case -------------------------------------------------------------------------------


def create_case(session: Session, *, actor: Actor, subject: str, description: str = "",
                contact_id: int | None = None, company_id: int | None = None, deal_id: int | None = None,
                product_id: int | None = None, channel: str = "phone", category: str | None = None,
                priority: str = "normal", assignee_id: int | None = None, team: str | None = None,
                from_addr: str | None = None, now: datetime | None = None) -> Case:
    """Open a case (status new), its SLA targets stamped from the default policy."""
    now = resolve_now(now)
    permissions.require(session, actor, EDIT)
    values = _clean(session, {"subject": subject, "description": description, "channel": channel,
                              "category": category, "priority": priority, "product_id": product_id,
                              "deal_id": deal_id, "assignee_id": assignee_id, "team": team,
                              "from_addr": from_addr})
    values["contact_id"], values["company_id"] = _links(session, contact_id, company_id)
    case = Case(**values, status=NEW, created_by=actor.user_id, created_at=now, updated_at=now)
    with session.no_autoflush:  # one INSERT with its due times: version 1
        sla.stamp(session, case, now=now)
    session.add(case)
    flush(session, ENTITY, "the case")
    audit(session, actor=actor, entity=ENTITY, entity_id=case.id, action="create", now=now,
          summary=f"#{case.id} {case.subject} ({case.priority}, {case.channel})"[:2000])
    return case


# --- reading --------------------------------------------------------------------------------------


def get_case(session: Session, case_id: int, *, actor: Actor) -> Case:
    """The case (checks case.view, and for an "own" scope that it is one of theirs)."""
    return _load(session, case_id, actor)


def find_case(session: Session, ref: str | int, *, actor: Actor) -> Case:
    """A case by its number as people write it: 42, "#42", "[#42]"."""
    text = str(ref).strip().strip("[]").strip().removeprefix("#")
    case_id = parse_id(text)
    if case_id is None:
        raise InvalidInput(f"not a case number: {str(ref).strip()!r} (write it as 42 or #42)")
    return _load(session, case_id, actor)


def _row_columns():
    contact = aliased(Contact.__table__)
    company = aliased(Company.__table__)
    user = aliased(User.__table__)
    contact_name = func.coalesce(func.nullif(contact.c.full_name, ""), contact.c.email)
    columns = (_C.id, _C.subject, _C.status, _C.priority, contact_name.label("contact_name"),
               company.c.name.label("company_name"), user.c.login.label("assignee_login"), _C.team,
               _C.created_at, _C.sla_next_at, _C.version, _C.category, _C.channel, _C.contact_id, _C.company_id,
               _C.assignee_id)
    source = (_CASES.outerjoin(contact, contact.c.id == _C.contact_id)
              .outerjoin(company, company.c.id == _C.company_id)
              .outerjoin(user, user.c.id == _C.assignee_id))
    return columns, source


def _rows(rows) -> list[CaseRow]:
    return [CaseRow(r.id, r.subject, r.status, r.priority, r.contact_name, r.company_name, r.assignee_login,
                    r.team, r.created_at, r.sla_next_at, r.version, r.category, r.channel, r.contact_id,
                    r.company_id, r.assignee_id) for r in rows]


def search_condition(query: str | None):
    """A case whose number is the text ("42"), or whose subject holds it, or whose contact's name or
    email, or company's name, holds it; "#42" (or "[#42]") is the number alone. None for no search."""
    text = " ".join((query or "").split())[:200]
    if not text:
        return None
    bare = text.strip("[]").strip()
    if bare.startswith("#"):
        number = parse_id(bare[1:])
        return _C.id == number if number is not None and number < 2**31 else false()
    number = parse_id(text)
    pattern = like_pattern(text.casefold())
    matches = [
        func.lower(_C.subject).like(pattern, escape="\\"),
        _C.contact_id.in_(select(Contact.id).where(or_(Contact.sort_name.like(like_pattern(v.fold(text)), escape="\\"),
                                                       func.lower(Contact.email).like(pattern, escape="\\")))),
        _C.company_id.in_(select(Company.id).where(Company.name_key.like(like_pattern(v.fold(text)), escape="\\"))),
    ]
    if number is not None and number < 2**31:
        matches.insert(0, _C.id == number)
    return or_(*matches)


def _queue_condition(queue: str, actor: Actor, team: str | None, now: datetime, soon_minutes: int, *,
                     walk: bool = False):
    """The queue's condition. `walk` (a page of it): the status is tested on each row as the list
    walks its own order (ids, or SLA targets), not looked up in a status index, which would gather
    and sort the whole backlog before the first row."""
    # "mine", "unassigned" and "team" are ranges of an index on their own column and the status
    # (ix_cases_status_assignee, ix_cases_team_status): no walk needed
    status = _C.status.concat("") if walk and queue in ("open", "waiting", "soon") else _C.status
    if queue == "all":
        return true()
    if queue == "mine":
        return and_(status.in_(OPEN_STATUSES), _C.assignee_id == actor.user_id)
    if queue == "unassigned":
        return and_(status.in_(OPEN_STATUSES), _C.assignee_id.is_(None))
    if queue == "waiting":
        return status == WAITING
    if queue == "open":
        return status.in_(OPEN_STATUSES)
    if queue == "team":
        if not team:
            raise InvalidInput("the team queue needs a team: give team=NAME (e.g. --team Support)")
        return and_(status.in_(OPEN_STATUSES), _C.team == team)
    if queue == "soon":
        return and_(status.in_((NEW, OPEN)), _C.sla_next_at.is_not(None),
                    _C.sla_next_at <= now + timedelta(minutes=soon_minutes))
    raise InvalidInput(f"no queue {queue!r}: choose one of {', '.join(QUEUES)}")


def _filters(session: Session, *, status: str | None, priority: str | None, category: str | None,
             assignee_id: int | None) -> list:
    out = []
    if status:
        out.append(_C.status == check_status(status))
    if priority:
        out.append(_C.priority == check_priority(priority))
    if category:
        out.append(func.lower(_C.category) == category.strip().lower())
    if assignee_id is not None:
        out.append(_C.assignee_id == assignee_id)
    return out


def list_cases(session: Session, *, actor: Actor, queue: str = "open", team: str | None = None,
               search: str | None = None, status: str | None = None, priority: str | None = None,
               category: str | None = None, assignee_id: int | None = None, after: str | None = None,
               before: str | None = None, limit: int = 50, with_total: bool = False,
               now: datetime | None = None, soon_minutes: int = SOON_MINUTES,
               opened_since: datetime | None = None) -> Page[CaseRow]:
    """One page of a queue, keyset: newest first, "soon" by its next SLA target (soonest first).
    `opened_since`: only the cases opened from then on."""
    now = resolve_now(now)
    queue = (queue or "open").strip().lower()
    _require_view(session, actor)
    if queue == "team" and team is None:
        raise InvalidInput("the team queue needs a team: give team=NAME (e.g. --team Support)")
    # the team as the users spell it ("support" is Support), as create_case and assign store it
    team = _team(session, team) if team is not None else None
    visible = visible_condition(session, actor)
    conditions = [_queue_condition(queue, actor, team, now, soon_minutes, walk=True),
                  *_filters(session, status=status, priority=priority, category=category, assignee_id=assignee_id)]
    if team and queue != "team":
        conditions.append(_C.team == team)
    if opened_since is not None:
        conditions.append(_C.created_at >= opened_since)
    found = search_condition(search)
    if found is not None:
        conditions.append(found)
    key = SOONEST_FIRST if queue == "soon" else NEWEST_FIRST
    columns, source = _row_columns()
    stmt = select(*columns, key.column.label("sort_value")).select_from(source).where(visible, *conditions)
    rows, next_, prev_ = keyset_page(session, stmt, key, row_key=lambda r: (r.sort_value, r.id), after=after,
                                     before=before, limit=limit)
    total = None
    if with_total:
        # the count reads the queue's index range (the page walks its own order instead)
        counted = [_queue_condition(queue, actor, team, now, soon_minutes), *conditions[1:]]
        total = session.scalar(select(func.count()).select_from(_CASES).where(visible, *counted))
    return Page(_rows(rows), next_, prev_, total)


def queue_counts(session: Session, *, actor: Actor, now: datetime, soon_minutes: int = SOON_MINUTES
                 ) -> dict[str, int]:
    """How many cases each queue holds now, for the actor: {"mine": 3, ..., "team:Support": 12}.
    Two round trips: one SELECT of a count per queue (each its own index range, read from the index
    alone), and the backlog grouped by team (ix_cases_queue_counts)."""
    _require_view(session, actor)
    visible = visible_condition(session, actor)

    def count(*conditions):
        return select(func.count()).select_from(_CASES).where(visible, *conditions).scalar_subquery()

    names = ("mine", "unassigned", "soon", "waiting", "open", "all")
    if _scope(session, actor, VIEW) == OWN:
        return _own_counts(session, actor, visible, names, now, soon_minutes)
    row = session.execute(select(*(count(_queue_condition(name, actor, None, now, soon_minutes)).label(name)
                                   if name != "mine" or actor.user_id is not None else literal(0).label(name)
                                   for name in names))).one()
    counts = {name: int(getattr(row, name)) for name in names}
    for team, n in session.execute(select(_C.team, func.count()).where(visible, _C.status.in_(OPEN_STATUSES),
                                                                      _C.team.is_not(None))
                                   .group_by(_C.team).order_by(_C.team)):
        counts[f"team:{team}"] = int(n)
    return counts


def _own_counts(session: Session, actor: Actor, visible, names: tuple[str, ...], now: datetime,
                soon_minutes: int) -> dict[str, int]:
    """queue_counts for an "own" scope: each queue a conditional sum over the actor's cases, per
    team. SQLite gathers them once (visible_condition's index lookups) and sums them all.
    PostgreSQL hashed the whole table to do that (a seller with 20k cases of 200k: half a second),
    so there it is two statements over the three lookups: "all" counts the ids they find (from
    the indexes alone); the other queues are of the backlog, so each lookup takes only its open
    cases, with the columns the queues test."""
    def total(cond):
        return func.coalesce(func.sum(case_when((cond, 1), else_=0)), 0)

    def queue(name):
        return _queue_condition(name, actor, None, now, soon_minutes)

    if session.get_bind().dialect.name != "postgresql":
        rows = session.execute(select(_C.team, *(total(queue(name)).label(name) for name in names))
                               .where(visible).group_by(_C.team).order_by(_C.team)).all()
        counts = {name: sum(int(getattr(r, name)) for r in rows) for name in names}
        counts.update({f"team:{r.team}": int(r.open) for r in rows if r.team is not None and r.open})
        return counts
    links = _own_links(actor.user_id)
    every = union(*(select(_C.id).where(link) for link in links)).subquery()
    counts = {"all": int(session.scalar(select(func.count()).select_from(every)))}
    columns = (_C.id, _C.team, _C.status, _C.sla_next_at, _C.assignee_id)
    backlog = union(*(select(*columns).where(link, _C.status.in_(OPEN_STATUSES)) for link in links)).subquery()
    on_backlog = ClauseAdapter(backlog).traverse  # the queues' conditions, on the backlog's columns
    shown = [name for name in names if name != "all"]
    rows = session.execute(select(backlog.c.team, func.count().label("backlog"),
                                  *(total(on_backlog(queue(name))).label(name) for name in shown))
                           .group_by(backlog.c.team).order_by(backlog.c.team)).all()
    counts.update({name: sum(int(getattr(r, name)) for r in rows) for name in shown})
    teams = {f"team:{r.team}": int(r.backlog) for r in rows if r.team is not None}
    return {name: counts[name] for name in names} | teams


def teams(session: Session, *, actor: Actor) -> list[str]:
    """The teams with a queue: those of the users, and those cases name."""
    _require_view(session, actor)
    names = set(session.scalars(select(User.team).where(User.team.is_not(None)).distinct()))
    names |= set(session.scalars(select(_C.team).where(_C.team.is_not(None), _C.status.in_(OPEN_STATUSES))
                                 .distinct()))
    return sorted(n for n in names if n)


def cases_for(session: Session, *, actor: Actor, contact_id: int | None = None, company_id: int | None = None,
              after: str | None = None, limit: int = 50) -> Page[CaseRow]:
    """A contact's or a company's cases (an account's Cases tab), newest first."""
    _require_view(session, actor)
    if (contact_id is None) == (company_id is None):
        raise InvalidInput("give a contact or a company")
    link = _C.contact_id == contact_id if contact_id is not None else _C.company_id == company_id
    columns, source = _row_columns()
    stmt = select(*columns, _C.id.label("sort_value")).select_from(source).where(link, visible_condition(session, actor))
    rows, next_, prev_ = keyset_page(session, stmt, NEWEST_FIRST, row_key=lambda r: (r.sort_value, r.id),
                                     after=after, limit=limit)
    return Page(_rows(rows), next_, prev_)


def customer_context(session: Session, case_id: int, *, actor: Actor, limit: int = 10
                     ) -> tuple[list[CaseRow], list[OpenDeal]]:
    """The customer's other cases (of its contact, else its company), newest first, and their open deals."""
    return (other_cases(session, case_id, actor=actor, limit=limit),
            open_deals(session, case_id, actor=actor, limit=limit))


def other_cases(session: Session, case_id: int, *, actor: Actor, limit: int = 10) -> list[CaseRow]:
    """The other cases of the case's contact or company, newest first (those the actor may see)."""
    case = _load(session, case_id, actor)
    if case.contact_id is None and case.company_id is None:
        return []
    link = or_(*([_C.contact_id == case.contact_id] if case.contact_id is not None else []),
               *([_C.company_id == case.company_id] if case.company_id is not None else []))
    columns, source = _row_columns()
    rows = session.execute(select(*columns).select_from(source)
                           .where(link, _C.id != case.id, visible_condition(session, actor))
                           .order_by(_C.id.desc()).limit(limit)).all()
    return _rows(rows)


def open_deals(session: Session, case_id: int, *, actor: Actor, limit: int = 10) -> list[OpenDeal]:
    """The open deals of the case's contact or company, newest first."""
    case = _load(session, case_id, actor)
    if case.contact_id is None and case.company_id is None:
        return []
    deal_link = or_(*([Deal.contact_id == case.contact_id] if case.contact_id is not None else []),
                    *([Deal.company_id == case.company_id] if case.company_id is not None else []))
    deals = session.execute(
        select(Deal.id, Deal.title, Deal.amount_minor, Deal.currency, User.login)
        .outerjoin(User, User.id == Deal.owner_id)
        .where(deal_link, Deal.status == "open", Deal.archived.is_(False))
        .order_by(Deal.id.desc()).limit(limit)).all()
    return [OpenDeal(d.id, d.title, d.amount_minor, d.currency, d.login) for d in deals]


# --- the thread -----------------------------------------------------------------------------------


def entries(session: Session, case_id: int, *, actor: Actor, after: str | None = None, before: str | None = None,
            limit: int = 50, public_only: bool = False) -> Page[EntryRow]:
    """A case's thread, oldest first, keyset."""
    case = _load(session, case_id, actor)
    author = aliased(User.__table__)
    contact = aliased(Contact.__table__)
    email = EmailMessage.__table__
    stmt = (select(_E.id, _E.case_id, _E.visibility, _E.direction, _E.body, _E.created_at, _E.author_id,
                   author.c.login.label("author_login"), _E.contact_id,
                   func.coalesce(func.nullif(contact.c.full_name, ""), contact.c.email).label("contact_name"),
                   _E.email_id, email.c.subject.label("email_subject"), email.c.from_addr.label("email_from"))
            .select_from(_ENTRIES.outerjoin(author, author.c.id == _E.author_id)
                         .outerjoin(contact, contact.c.id == _E.contact_id)
                         .outerjoin(email, email.c.id == _E.email_id))
            .where(_E.case_id == case.id, *([_E.visibility == PUBLIC] if public_only else [])))
    rows, next_, prev_ = keyset_page(session, stmt, THREAD_ORDER, row_key=lambda r: (r.created_at, r.id),
                                     after=after, before=before, limit=limit)
    return Page([EntryRow(r.id, r.case_id, r.visibility, r.direction, r.body, r.created_at, r.author_id,
                          r.author_login, r.contact_id, r.contact_name, r.email_id, r.email_subject, r.email_from)
                 for r in rows], next_, prev_)


def _set_status(session: Session, case: Case, status: str, *, now: datetime, resolving: bool = True
                ) -> dict[str, tuple[Any, Any]]:
    """Move the case to `status` with its timestamps and its SLA clock; the changes for the audit.
    Closing an unresolved case resolves it too, unless `resolving` is off (a merged case was never
    resolved: the reports' resolution times leave it out)."""
    old = case.status
    if status == old:
        return {}
    changes: dict[str, tuple[Any, Any]] = {"status": (old, status)}
    case.status = status
    if status == RESOLVED:
        changes["resolved_at"] = (case.resolved_at, now)
        case.resolved_at = now
        if case.closed_at is not None:
            changes["closed_at"] = (case.closed_at, None)
            case.closed_at = None
    elif status == CLOSED:
        if case.resolved_at is None and resolving:
            changes["resolved_at"] = (None, now)
            case.resolved_at = now
        changes["closed_at"] = (case.closed_at, now)
        case.closed_at = now
    else:  # back in the backlog: new, open or waiting
        for name in ("resolved_at", "closed_at"):
            if getattr(case, name) is not None:
                changes[name] = (getattr(case, name), None)
                setattr(case, name, None)
    with session.no_autoflush:
        if old == WAITING:
            sla.resume(session, case, now=now)
        if status == WAITING:
            sla.pause(session, case, now=now)
        if WAITING not in (old, status):
            sla.refresh(case)
    case.updated_at = now
    return changes


def add_entry(session: Session, case_id: int, *, actor: Actor, body: str, visibility: str = PUBLIC,
              direction: str = "out", email_id: int | None = None, contact_id: int | None = None,
              now: datetime | None = None) -> CaseEntry:
    """Add an entry to the thread. The first public outbound entry by a person is the case's first
    response (a new case becomes open); an inbound entry on a case waiting on the customer reopens
    it (open) and its clock runs again; an inbound entry on a resolved case reopens it too."""
    now = resolve_now(now)
    case = _editable(session, case_id, actor)
    visibility = _choice(visibility, VISIBILITIES, "visibility")
    direction = _choice(direction, DIRECTIONS, "direction")
    if visibility == INTERNAL and direction == "in":
        raise InvalidInput("an internal note is never from the customer: give direction out")
    text = v.clean_text(body or "", multiline=True).strip()
    if not text and email_id is None:
        raise InvalidInput("the entry is empty: write something")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"the entry is too long (at most {MAX_BODY} characters)")
    _exists(session, EmailMessage, email_id, "email")
    _exists(session, Contact, contact_id, "contact")
    if direction == "in" and contact_id is None:
        contact_id = case.contact_id
    if case.merged_into_id is not None:
        raise InvalidInput(f"case #{case.id} was merged into #{case.merged_into_id}; add to that one")
    entry = CaseEntry(case_id=case.id, visibility=visibility, direction=direction,
                      author_id=actor.user_id if direction == "out" else None, contact_id=contact_id, body=text,
                      email_id=email_id, created_at=now, updated_at=now)
    session.add(entry)
    changes: dict[str, tuple[Any, Any]] = {}
    if visibility == PUBLIC and direction == "out" and not actor.is_system:
        if case.first_response_at is None:
            changes["first_response_at"] = (None, now)
            case.first_response_at = now
            if case.status == NEW:
                changes.update(_set_status(session, case, OPEN, now=now))
            else:
                sla.refresh(case)
            case.updated_at = now
        elif case.status == NEW:
            changes.update(_set_status(session, case, OPEN, now=now))
    elif direction == "in" and case.status in (WAITING, RESOLVED, CLOSED):
        changes.update(_set_status(session, case, OPEN, now=now))
    flush(session, ENTITY, label(case))
    action = "note" if visibility == INTERNAL else ("inbound" if direction == "in" else "reply")
    audit(session, actor=actor, entity=ENTITY, entity_id=case.id, action=action, now=now,
          summary=f"entry {entry.id}: {text[:200]}")
    if changes:
        audit(session, actor=actor, entity=ENTITY, entity_id=case.id, action="update", now=now, changes=changes)
    return entry


def note(session: Session, case_id: int, *, actor: Actor, body: str, now: datetime | None = None) -> CaseEntry:
    """An internal note: the team sees it, the customer never does."""
    return add_entry(session, case_id, actor=actor, body=body, visibility=INTERNAL, direction="out", now=now)


def last_email(session: Session, case_id: int) -> EmailMessage | None:
    """The thread's newest email (sent or received), which a reply answers."""
    return session.scalars(select(EmailMessage).join(CaseEntry, CaseEntry.email_id == EmailMessage.id)
                           .where(CaseEntry.case_id == case_id)
                           .order_by(CaseEntry.created_at.desc(), CaseEntry.id.desc()).limit(1)).first()


def tagged_subject(case_id: int, subject: str) -> str:
    """The subject with the case's number, "[#42]", once."""
    tag = f"[#{case_id}]"
    subject = " ".join((subject or "").split())
    return subject if tag in subject else f"{subject} {tag}".strip()


def reply(session: Session, case_id: int, *, actor: Actor, body: str | None = None, subject: str | None = None,
          template_id: int | None = None, cc: tuple[str, ...] | list[str] = (), settings: Any = None,
          version: int | None = None, now: datetime | None = None) -> CaseEntry:
    """Email the customer: queued in the outbox (sent after commit), stored as an email activity on
    the contact like any send, threaded on the case's last email, its subject tagged "[#id]"; a
    template (`template_id`) is a canned reply, its merge fields filled for the case's customer."""
    now = resolve_now(now)
    case = _editable(session, case_id, actor, version)
    if case.merged_into_id is not None:
        raise InvalidInput(f"case #{case.id} was merged into #{case.merged_into_id}; reply there")
    if template_id is None and not (body or "").strip():
        raise InvalidInput("the reply is empty: give a body or a template")
    parent = last_email(session, case.id)
    if parent is not None and parent.direction == "in" and parseaddr(parent.from_addr)[1]:
        to = [parseaddr(parent.from_addr)[1]]
    elif case.from_addr:
        to = [case.from_addr]
    else:
        to = mail_send.recipients(session, contact_id=case.contact_id, company_id=case.company_id).to
    if not to:
        raise InvalidInput(f"case #{case.id} has no customer address to reply to: give the case a contact "
                           "with an email address")
    base = parent.subject if parent is not None and parent.subject else case.subject
    if not base.lower().startswith("re:"):
        base = f"Re: {base}"
    draft = mail_send.draft(session, actor=actor, contact_id=case.contact_id, company_id=case.company_id,
                            deal_id=case.deal_id, template_id=template_id,
                            subject="" if template_id is not None else (subject or base), body=body or "", to=to,
                            cc=list(cc), in_reply_to=parent.message_id if parent is not None else None)
    if template_id is not None:
        if (body or "").strip():
            draft.body = body  # the template's subject, the body typed over its own
        if subject:
            draft.subject = subject
    draft.subject = tagged_subject(case.id, draft.subject)
    # From: the support address under the agent's name (the agent's own address when none is set)
    support = getattr(settings, "support", None) or SupportConfig()
    user = session.get(User, actor.user_id) if support.addresses and actor.user_id is not None else None
    queued = mail_send.send(session, draft=draft, actor=actor, now=now,
                            from_addr=support.sender((user.name or user.login) if user is not None else None))
    return add_entry(session, case.id, actor=actor, body=queued.body, visibility=PUBLIC, direction="out",
                     email_id=queued.email_id, now=now)


# --- changing a case ------------------------------------------------------------------------------


def _write(session: Session, case: Case, changes: dict[str, tuple[Any, Any]], actor: Actor, now: datetime,
           action: str = "update") -> Case:
    if changes:
        case.updated_at = now
        flush(session, ENTITY, label(case))
        audit(session, actor=actor, entity=ENTITY, entity_id=case.id, action=action, now=now, changes=changes)
    return case


def assign(session: Session, case_id: int, *, actor: Actor, assignee_id: int | None = KEEP, team: str | None = KEEP,
           version: int | None = None, now: datetime | None = None) -> Case:
    """Give the case to a teammate (an active user; None: nobody) and/or a team's queue (None: none)."""
    now = resolve_now(now)
    case = _editable(session, case_id, actor, version)
    given = {}
    if assignee_id is not KEEP:
        given["assignee_id"] = assignee_id
    if team is not KEEP:
        given["team"] = team
    if not given:
        raise InvalidInput("give an assignee or a team")
    values = _clean(session, given)
    return _write(session, case, apply_changes(case, values), actor, now, "assign")


def set_status(session: Session, case_id: int, status: str, *, actor: Actor, settings: Any = None,
               version: int | None = None, now: datetime | None = None) -> Case:
    """Move the case to a status (new, open, waiting, resolved, closed), with its timestamps and its
    SLA clock; resolving sends the CSAT survey (services/surveys.py)."""
    now = resolve_now(now)
    status = check_status(status)
    case = _editable(session, case_id, actor, version)
    if case.merged_into_id is not None and status != CLOSED:
        raise InvalidInput(f"case #{case.id} was merged into #{case.merged_into_id}; work that one")
    changes = _set_status(session, case, status, now=now)
    _write(session, case, changes, actor, now, "status" if changes else "update")
    if changes and status == RESOLVED:
        surveys.on_resolved(session, case, actor=actor, settings=settings, now=now)
    return case


def resolve(session: Session, case_id: int, *, actor: Actor, settings: Any = None, version: int | None = None,
            now: datetime | None = None) -> Case:
    return set_status(session, case_id, RESOLVED, actor=actor, settings=settings, version=version, now=now)


def close(session: Session, case_id: int, *, actor: Actor, settings: Any = None, version: int | None = None,
          now: datetime | None = None) -> Case:
    return set_status(session, case_id, CLOSED, actor=actor, settings=settings, version=version, now=now)


def reopen(session: Session, case_id: int, *, actor: Actor, settings: Any = None, version: int | None = None,
           now: datetime | None = None) -> Case:
    """A resolved or closed case back in the backlog (open); its resolved and closed times cleared."""
    case = _load(session, case_id, actor)
    if case.status in OPEN_STATUSES:
        raise InvalidInput(f"case #{case.id} is {STATUS_LABELS[case.status].lower()}, not resolved or closed")
    return set_status(session, case_id, OPEN, actor=actor, settings=settings, version=version, now=now)


def set_priority(session: Session, case_id: int, priority: str, *, actor: Actor, version: int | None = None,
                 now: datetime | None = None) -> Case:
    """Change the priority; the SLA targets are stamped again for it."""
    now = resolve_now(now)
    priority = check_priority(priority)
    case = _editable(session, case_id, actor, version)
    changes = apply_changes(case, {"priority": priority})
    if changes:
        with session.no_autoflush:
            sla.stamp(session, case, now=now)
    return _write(session, case, changes, actor, now)


def link_deal(session: Session, case_id: int, deal_id: int | None, *, actor: Actor, version: int | None = None,
              now: datetime | None = None) -> Case:
    """Link the case to a deal (None: unlink)."""
    now = resolve_now(now)
    case = _editable(session, case_id, actor, version)
    values = _clean(session, {"deal_id": deal_id})
    return _write(session, case, apply_changes(case, values), actor, now, "link")


def merge_cases(session: Session, *, keep_id: int, merge_id: int, actor: Actor, now: datetime | None = None,
                keep_version: int | None = None, merge_version: int | None = None) -> Case:
    """Merge one case into another: its thread and surveys move to the kept case, and it is closed
    with `merged_into_id` pointing there; both are audited."""
    now = resolve_now(now)
    if keep_id == merge_id:
        raise InvalidInput(f"cannot merge case #{keep_id} with itself")
    keep = _editable(session, keep_id, actor, keep_version)
    gone = _editable(session, merge_id, actor, merge_version)
    if gone.merged_into_id is not None:
        raise InvalidInput(f"case #{gone.id} was already merged into #{gone.merged_into_id}")
    if keep.merged_into_id is not None:
        raise InvalidInput(f"case #{keep.id} was merged into #{keep.merged_into_id}; merge into that one")
    moved = session.execute(CaseEntry.__table__.update().where(_E.case_id == gone.id)
                            .values(case_id=keep.id, version=_E.version + 1, updated_at=now)
                            .execution_options(synchronize_session=False)).rowcount or 0
    # one CSAT per case: the merged case's survey moves only when the kept one has none
    kept_csat = session.scalar(select(Survey.id).where(Survey.case_id == keep.id, Survey.kind == "csat"))
    moving = select(Survey.id).where(Survey.case_id == gone.id)
    if kept_csat is not None:
        moving = moving.where(Survey.kind != "csat")
    surveys_moved = session.execute(Survey.__table__.update().where(Survey.id.in_(moving))
                                    .values(case_id=keep.id)
                                    .execution_options(synchronize_session=False)).rowcount or 0
    changes = _set_status(session, gone, CLOSED, now=now, resolving=False)
    changes["merged_into_id"] = (None, keep.id)
    gone.merged_into_id = keep.id
    _write(session, gone, changes, actor, now, "merge")
    fills = {}
    for name in ("contact_id", "company_id", "deal_id", "product_id", "category", "from_addr"):
        if getattr(keep, name) is None and getattr(gone, name) is not None:
            fills[name] = getattr(gone, name)
    if gone.first_response_at is not None and (keep.first_response_at is None
                                               or gone.first_response_at < keep.first_response_at):
        fills["first_response_at"] = gone.first_response_at
    keep_changes = apply_changes(keep, fills)
    if keep_changes:
        with session.no_autoflush:
            sla.refresh(keep)
    keep.updated_at = now
    flush(session, ENTITY, label(keep))
    audit(session, actor=actor, entity=ENTITY, entity_id=keep.id, action="merge", now=now,
          summary=f"case #{gone.id} merged in: {moved} entries, {surveys_moved} surveys moved")
    if keep_changes:
        audit(session, actor=actor, entity=ENTITY, entity_id=keep.id, action="update", now=now, changes=keep_changes)
    return keep


# --- for other services ---------------------------------------------------------------------------


def summary(case: Case) -> dict[str, Any]:
    """The case as plain values (the CLI's --json)."""
    return {name: getattr(case, name) for name in (
        "id", "subject", "description", "status", "priority", "channel", "category", "contact_id", "company_id",
        "deal_id", "product_id", "assignee_id", "team", "from_addr", "created_by", "created_at", "updated_at",
        "first_response_at", "resolved_at", "closed_at", "first_response_due_at", "resolution_due_at",
        "sla_next_at", "paused_at", "paused_minutes", "merged_into_id", "version")}


def names(session: Session, case: Case) -> dict[str, str | None]:
    """The names of the records a case points to: contact, company, deal, product, assignee (one
    query: a subquery for each that the case has)."""
    wanted = {name: select(column).where(id_column == id_).scalar_subquery().label(name)
              for name, column, id_column, id_ in (
                  ("contact", func.coalesce(func.nullif(Contact.full_name, ""), Contact.email), Contact.id,
                   case.contact_id),
                  ("company", Company.name, Company.id, case.company_id), ("deal", Deal.title, Deal.id, case.deal_id),
                  ("product", Product.name, Product.id, case.product_id),
                  ("assignee", User.login, User.id, case.assignee_id))
              if id_ is not None}
    found = session.execute(select(*wanted.values())).one()._asdict() if wanted else {}
    return {name: found.get(name) for name in ("contact", "company", "deal", "product", "assignee")}
