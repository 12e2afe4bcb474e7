"""Companies (accounts): create, edit, archive, look up, list by keyset, and the account view
(timeline and tasks through its contacts and deals)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import resolve_now
from crm_tui.errors import Duplicate, InvalidInput, NotFound, UnknownCompany
from crm_tui.models import Activity, Company, Contact, Deal, Task, User
from crm_tui.models.schemas import ActivityRead, CompanyCreate, CompanyRead, CompanyRow, CompanyUpdate, TaskRead
from crm_tui.services import fields, permissions
from crm_tui.services import search
from crm_tui.services import validation as v
from crm_tui.services.common import (
    Actor,
    apply_changes,
    audit,
    check_version,
    flush,
    get_or_404,
    lock_names,
    parse_shape,
    set_archived,
)
from crm_tui.services.common import parse_id
from crm_tui.services import activities
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services import tasks

ENTITY = "company"
SORTS = {
    "name": SortKey(Company.name_key, Company.id),
    "created": SortKey(Company.created_at, Company.id, descending=True),
}


MULTILINE = ("address", "notes")  # the fields that keep tabs and line breaks
# legal forms dropped when company names are compared: "Acme, Inc." is "ACME"
_LEGAL = frozenset("inc incorporated llc ltd limited gmbh ag sa sas sarl bv nv plc corp corporation co company "
                   "group pty oy ab as spa srl kg".split())


# --- naming a company: one rule for the forms, the CLI and import ------------------------------


@lru_cache(maxsize=65536)
def company_norm(name: str) -> str:
    """A company name for matching: casefolded, no accents or punctuation, no legal form."""
    words = re.sub(r"[^\w\s]", " ", v.strip_accents(name.casefold())).split()
    while len(words) > 1 and words[-1] in _LEGAL:
        words.pop()
    return " ".join(words)


def name_prefix(name: str) -> str:
    """The indexed name_key range that holds every spelling of the name: its first word."""
    key = v.fold(name)
    match = re.match(r"[^\W_]+", key)
    return match[0] if match else key


def name_range(prefix: str):
    """name_key starts with `prefix` (an index range scan)."""
    return and_(Company.name_key >= prefix, Company.name_key < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def same_company(session: Session, *, name: str, domain: str | None = None) -> list[tuple[int, str, bool]]:
    """(id, name, archived) of the companies that `name` (by company_norm) or `domain` names,
    active ones first, then by id."""
    key, norm, prefix = v.fold(name), company_norm(name), name_prefix(name)
    wanted = [Company.name_key == key]
    if prefix:
        wanted.append(name_range(prefix))
    if domain:
        wanted.append(Company.domain == domain)
    rows = session.execute(select(Company.id, Company.name, Company.name_key, Company.domain, Company.archived)
                           .where(or_(*wanted)).order_by(Company.archived, Company.id))
    return [(r.id, r.name, r.archived) for r in rows
            if r.name_key == key or (norm and company_norm(r.name) == norm) or (domain and r.domain == domain)]


def pick_company(matches: list[tuple[int, str, bool]], text: str) -> int | None:
    """The one company a name refers to: the only active match (or the only archived one when none
    is active). Several are an error that lists them, never a silent pick."""
    active = [m for m in matches if not m[2]] or matches
    if len(active) > 1:
        names = ", ".join(f"{name} (#{id_})" for id_, name, _ in active[:5])
        more = f" and {len(active) - 5} more" if len(active) > 5 else ""
        raise InvalidInput(f"{text!r} matches several companies: {names}{more}; give the id")
    return active[0][0] if active else None


def _domain(value: str | None) -> str | None:
    text = v.clean_text(value or "").strip().lower()
    for prefix in ("https://", "http://", "www."):
        text = text.removeprefix(prefix)
    text = text.split("/", 1)[0]
    if not text:
        return None
    if "." not in text or " " in text or len(text) > 253:
        raise InvalidInput(f"invalid domain {value!r}: use a name such as example.com")
    return text


def _clean(values: dict) -> dict:
    out = dict(values)
    if "name" in out:
        out["name"] = v.required_text(out["name"], "company name")
        out["name_key"] = v.fold(out["name"])
    if "domain" in out:
        out["domain"] = _domain(out["domain"])
    for name, limit in (("industry", 100), ("size", 32), ("address", 2000), ("notes", 20000)):
        if name in out:
            out[name] = v.optional_text(out[name], name, max_length=limit, multiline=name in MULTILINE)
    return out


def _check_owner(session: Session, owner_id: int | None) -> None:
    if owner_id is not None:
        get_or_404(session, User, owner_id, "user")


MAX_DEPTH = 20  # a group of companies deeper than this is a mistake, and a bound on the walk


def _check_parent(session: Session, company_id: int | None, parent_id: int | None) -> None:
    """The parent exists, and the company would not become its own ancestor."""
    if parent_id is None:
        return
    get_or_404(session, Company, parent_id, "company")
    seen, current = 0, parent_id
    while current is not None:
        if current == company_id:
            raise InvalidInput("a company cannot belong to itself or to one of its own subsidiaries")
        seen += 1
        if seen > MAX_DEPTH:
            raise InvalidInput(f"a group of companies is at most {MAX_DEPTH} levels deep")
        current = session.scalar(select(Company.parent_id).where(Company.id == current))


def subsidiaries(session: Session, *, company_id: int, limit: int = 50) -> list[tuple[int, str]]:
    """(id, name) of the companies that belong to this one, by name."""
    return [(r.id, r.name) for r in session.execute(
        select(Company.id, Company.name).where(Company.parent_id == company_id, Company.archived.is_(False))
        .order_by(Company.name_key, Company.id).limit(limit))]


def company_search_text(name: str, domain: str | None) -> str:
    """What the company search index sees (shared with the demo loader)."""
    return v.search_text(name, domain)


def _search_text(company: Company) -> str:
    return company_search_text(company.name, company.domain)


def create_company(session: Session, *, data: CompanyCreate | dict, actor: Actor,
                   now: datetime | None = None, allow_duplicate: bool = False,
                   custom: dict | None = None) -> CompanyRead:
    """Add a company. One with the same domain or the same name (by company_norm: "ACME, Inc." is
    "Acme") is refused as a Duplicate naming it, unless `allow_duplicate`. `custom`: its custom
    values (typed fields checked, defaults filled in: services/fields.py)."""
    data = parse_shape(CompanyCreate, data)
    now = resolve_now(now)
    permissions.require(session, actor, "company.edit")
    values = _clean(data.model_dump())
    if not allow_duplicate:
        _refuse_duplicate(session, values["name"], values.get("domain"))
    _check_owner(session, values.get("owner_id"))
    _check_parent(session, None, values.get("parent_id"))
    if values.get("owner_id") is None:
        values["owner_id"] = actor.user_id
    permissions.require_give(session, actor, "contact.assign", old=None, new=values["owner_id"])
    company = Company(**values, custom=fields.new_record_values(session, ENTITY, custom), created_at=now,
                      updated_at=now)
    company.search_text = _search_text(company)
    session.add(company)
    flush(session, ENTITY, f"company {company.name}")
    audit(session, actor=actor, entity=ENTITY, entity_id=company.id, action="create", now=now, summary=company.name)
    return read_company(session, company)


def _refuse_duplicate(session: Session, name: str | None, domain: str | None, *, editing: int | None = None) -> None:
    """`name` None: only the domain is checked. `editing`: the company being changed, which is not
    its own duplicate."""
    lock_names(session, *([f"company-name:{company_norm(name)}"] if name else []),
               *([f"company-domain:{domain}"] if domain else []))
    if name:
        matches = same_company(session, name=name, domain=domain)
    else:
        matches = [(r.id, r.name, r.archived) for r in session.execute(
            select(Company.id, Company.name, Company.archived).where(Company.domain == domain)
            .order_by(Company.archived, Company.id))]
    matches = [m for m in matches if m[0] != editing]
    if not matches:
        return
    id_, existing, archived = matches[0]
    same_domain = domain and session.scalar(select(Company.domain).where(Company.id == id_)) == domain
    why = f"the domain {domain}" if same_domain else f"the name {existing!r}"
    state = " (archived)" if archived else ""
    what = "merge the two (crm company merge), or add --allow-duplicate to keep both" if editing is not None \
        else "add --allow-duplicate to add another"
    found = f"a company with {why} already exists: #{id_} {existing}{state}"
    raise Duplicate(f"{found} (crm company show {id_}); {what}", entity=ENTITY, existing_id=id_,
                    existing_label=existing, found=found)


def find_or_create_company(session: Session, *, name: str, create: bool, actor: Actor,
                           now: datetime | None = None) -> CompanyRead:
    """The company a person named (by id, any spelling of its name, domain or unique prefix: see
    resolve_company). An unknown name raises UnknownCompany, unless `create` says to add it."""
    try:
        return resolve_company(session, name)
    except UnknownCompany:
        if not create:
            raise
    return create_company(session, data={"name": name}, actor=actor, now=now)


def update_company(session: Session, *, company_id: int, changes: CompanyUpdate | dict, actor: Actor,
                   version: int | None = None, now: datetime | None = None,
                   allow_duplicate: bool = False) -> CompanyRead:
    """A new name or domain that another company has is refused as a Duplicate, as on create,
    unless `allow_duplicate`."""
    changes = parse_shape(CompanyUpdate, changes)
    now = resolve_now(now)
    company = get_or_404(session, Company, company_id, "company")
    permissions.require(session, actor, "company.edit")
    check_version(session, company, version, ENTITY, f"company {company.name!r}")
    values = _clean(changes.model_dump(exclude_unset=True))
    if "owner_id" in values:
        _check_owner(session, values["owner_id"])
        permissions.require_give(session, actor, "contact.assign", old=company.owner_id, new=values["owner_id"])
    if "parent_id" in values:
        _check_parent(session, company.id, values["parent_id"])
    renamed = "name" in values and company_norm(values["name"]) != company_norm(company.name)
    new_domain = values.get("domain") if values.get("domain") and values.get("domain") != company.domain else None
    if (renamed or new_domain) and not allow_duplicate:
        _refuse_duplicate(session, values["name"] if renamed else None, new_domain, editing=company.id)
    changed = apply_changes(company, values)
    changed.pop("name_key", None)
    if changed:
        company.updated_at = now
        company.search_text = _search_text(company)
        flush(session, ENTITY, f"company {company.name!r}")
        if "name" in changed:
            # contacts keep the company's sort key for "sort by company"; derived, so no version bump
            session.execute(update(Contact).where(Contact.company_id == company.id)
                            .values(company_key=company.name_key))
        audit(session, actor=actor, entity=ENTITY, entity_id=company.id, action="update", now=now, changes=changed)
    return read_company(session, company)


def set_company_archived(session: Session, *, company_id: int, archived: bool, actor: Actor,
                         version: int | None = None, now: datetime | None = None) -> CompanyRead:
    permissions.require(session, actor, "company.edit")
    company = set_archived(session, Company, id_=company_id, archived=archived, actor=actor, entity=ENTITY,
                           label=lambda c: f"company {c.name!r}", version=version, now=resolve_now(now))
    return read_company(session, company)


def read_company(session: Session, company: Company) -> CompanyRead:
    owner = session.get(User, company.owner_id) if company.owner_id else None
    parent = session.get(Company, company.parent_id) if company.parent_id else None
    return CompanyRead.model_validate(company, from_attributes=True,
                                      update={"owner_login": owner.login if owner else None,
                                              "parent_name": parent.name if parent else None})


def get_company(session: Session, *, company_id: int) -> CompanyRead:
    return read_company(session, get_or_404(session, Company, company_id, "company"))


def resolve_company(session: Session, ref: str | int) -> CompanyRead:
    """A company by id, by name in any spelling company_norm folds together ("ACME, Inc." finds
    "Acme"), by domain, or by a unique prefix of its name. A name that several companies share is
    an error listing them; an unknown one raises UnknownCompany."""
    text = str(ref).strip()
    if (company_id := parse_id(text)) is not None:
        return get_company(session, company_id=company_id)
    if not text:
        raise NotFound("no company given")
    domain = v.fold(text).removeprefix("www.")
    company_id = pick_company(same_company(session, name=text, domain=domain), text)
    if company_id is None:
        return read_company(session, _unique_prefix_match(session, v.fold(text), text))
    return get_company(session, company_id=company_id)


def _unique_prefix_match(session: Session, key: str, text: str) -> Company:
    """"Acme" finds "Acme Corp" when no other active company starts with it (an index range scan)."""
    candidates = list(session.scalars(
        select(Company).where(name_range(key), Company.archived.is_(False))
        .order_by(Company.name_key, Company.id).limit(6)
    ))
    if not candidates:
        raise UnknownCompany(f"no company {text!r}", name=text, see=f"crm company add {text!r}")
    if len(candidates) > 1:
        names = ", ".join(f"{c.name} (#{c.id})" for c in candidates[:5])
        raise InvalidInput(f"{text!r} matches several companies: {names}; give the full name or the id")
    return candidates[0]


def list_companies(session: Session, *, query: str | None = None, owner_id: int | None = None,
                   archived: bool = False, sort: str = "name", after: str | None = None,
                   before: str | None = None, limit: int = 50, with_total: bool = False,
                   custom: dict[str, str] | list[str] | None = None) -> Page[CompanyRow]:
    """One page of companies; `custom`: typed custom-field filters (services/fields.conditions),
    and `sort` may be custom.FIELD."""
    if sort not in SORTS and not sort.startswith("custom."):
        raise InvalidInput(f"invalid sort {sort!r}: choose one of {', '.join(SORTS)} or custom.FIELD")
    owner = aliased(User)
    conditions = [Company.archived.is_(archived)]
    if owner_id is not None:
        conditions.append(Company.owner_id == owner_id)
    conditions += fields.conditions(session, ENTITY, custom)
    if (cond := search.company_condition(session.bind.dialect.name, query)) is not None:
        conditions.append(cond)
    key = SORTS[sort] if sort in SORTS else fields.sort_key(session, ENTITY, sort)
    stmt = (
        select(Company.id, Company.name, Company.domain, Company.industry, owner.login.label("owner_login"),
               Company.created_at, key.column.label("sort_value"))
        .outerjoin(owner, owner.id == Company.owner_id)
        .where(*conditions)
    )
    rows, next_, prev_ = keyset_page(session, stmt, key, row_key=lambda r: (r.sort_value, r.id),
                                     after=after, before=before, limit=limit)
    items = [CompanyRow(r.id, r.name, r.domain, r.industry, r.owner_login, r.created_at) for r in rows]
    total = session.scalar(select(func.count()).select_from(Company).where(*conditions)) if with_total else None
    return Page(items, next_, prev_, total)


# --- the account view: what belongs to a company through its contacts and deals too ----------------


def contact_counts(session: Session, *, company_ids: list[int]) -> dict[int, int]:
    """The number of unarchived contacts of each company, for one page of the list (one GROUP BY)."""
    if not company_ids:
        return {}
    rows = session.execute(
        select(Contact.company_id, func.count(Contact.id))
        .where(Contact.company_id.in_(company_ids), Contact.archived.is_(False))
        .group_by(Contact.company_id)
    ).all()
    counts = dict.fromkeys(company_ids, 0)
    counts.update({company_id: int(n) for company_id, n in rows})
    return counts


def _belongs_to(company_id: int, company_col, contact_col, deal_col):
    """Linked to the company itself, to one of its contacts or to one of its deals, as they are now.

    Activity.company_id is copied from the contact when an activity is logged, which misses
    contacts who joined the company later and records logged on a deal alone; this does not."""
    return or_(
        company_col == company_id,
        contact_col.in_(select(Contact.id).where(Contact.company_id == company_id)),
        deal_col.in_(select(Deal.id).where(Deal.company_id == company_id)),
    )


def company_timeline(session: Session, *, company_id: int, after: str | None = None, before: str | None = None,
                     limit: int = 50, with_total: bool = False) -> Page[ActivityRead]:
    """The activities of a company, its contacts and its deals, newest first, a page at a time."""
    get_or_404(session, Company, company_id, "company")
    condition = _belongs_to(company_id, Activity.company_id, Activity.contact_id, Activity.deal_id)
    return activities.timeline_page(session, condition, after=after, before=before, limit=limit,
                                    with_total=with_total)


def company_tasks(session: Session, *, company_id: int, after: str | None = None, before: str | None = None,
                  limit: int = 50, with_total: bool = False) -> Page[TaskRead]:
    """The open tasks of a company, its contacts and its deals, by due time (undated last)."""
    get_or_404(session, Company, company_id, "company")
    condition = and_(Task.done_at.is_(None),
                     _belongs_to(company_id, Task.company_id, Task.contact_id, Task.deal_id))
    return tasks.task_page(session, condition, after=after, before=before, limit=limit, with_total=with_total)
