"""The deals list: every deal (open, won, lost or archived), filtered and sorted, a page at a time by keyset.

Each sort is one column of `deals` with the id as tie-breaker, walked on an index of its own
(migration 0015); the filters are plain conditions on `deals`, so a page reads one index range.
The board (services/board.py) shows a pipeline's open deals by stage; this is the table beside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Company, ContactTag, Deal, DealStatus, Stage, Tag, User
from crm_tui.models.schemas import DealFilter, DealRow
from crm_tui.services import companies, contacts, fields, pipelines, users
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, parse_shape
from crm_tui.services.dates import parse_day, team_zone
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.search import like_pattern

SORTS: dict[str, SortKey] = {
    "title": SortKey(Deal.title_key, Deal.id),
    "amount": SortKey(Deal.amount_minor, Deal.id, descending=True),
    "close": SortKey(Deal.expected_close, Deal.id, nullable=True),
    "created": SortKey(Deal.created_at, Deal.id, descending=True),
    "updated": SortKey(Deal.updated_at, Deal.id, descending=True),
    "stage_entered": SortKey(Deal.stage_entered_at, Deal.id),
    "closed": SortKey(Deal.closed_at, Deal.id, descending=True, nullable=True),
}
SORT_LABELS = {"title": "title", "amount": "amount", "close": "close date", "created": "newest",
               "updated": "last changed", "stage_entered": "time in stage", "closed": "closed"}
STATUSES = tuple(s.value for s in DealStatus)
# made once: a fresh aliased() per call defeats the compiled-statement cache (see services/contacts.py)
_COMPANY, _OWNER = aliased(Company, name="deal_list_company"), aliased(User, name="deal_list_owner")


def check_sort(sort: str) -> str:
    """A sort of the list: one of SORTS, or "custom.KEY" (a typed custom field, on its index)."""
    if sort not in SORTS and not (sort or "").startswith("custom."):
        raise InvalidInput(f"invalid sort {sort!r}: choose one of {', '.join(SORTS)} or custom.FIELD")
    return sort


def sort_key(session: Session, sort: str) -> SortKey:
    return SORTS[sort] if check_sort(sort) in SORTS else fields.sort_key(session, "deal", sort)


def custom_conditions(session: Session, kind: str, filters: dict[str, str] | list[str] | None) -> list:
    """The conditions of custom-field filters on `kind`: {"segment": "smb"} (equal), or
    ["segment=smb", "seats>=10", "region"] (a bare name: the field is set). A typed field is read
    by services/fields.py, as its type and on its index; an untyped key (values kept from before
    fields were typed) is compared as text, equal in any case, or set."""
    if not filters:
        return []
    model = {"deal": Deal}[kind]
    typed = fields.field_map(session, kind)
    pairs = list(filters.items()) if isinstance(filters, dict) else [_pair(f) for f in filters]
    out = []
    for key, value in pairs:
        name = v.clean_text(str(key)).strip()
        if not name or len(name) > 64:
            raise InvalidInput(f"invalid custom field name {key!r}")
        if name in typed:
            out.append(fields.condition(session, kind, name, "set" if value is None else "=", value))
            continue
        stored = cast(model.custom[name].as_string(), String)
        out.append(stored.is_not(None) if value is None else func.lower(stored) == str(value).strip().lower())
    return out


def _pair(text: str) -> tuple[str, str | None]:
    key, sep, value = str(text).partition("=")
    return key.strip(), (value.strip() if sep else None)


def conditions(session: Session, query: str | None, filters: DealFilter) -> list:
    """The WHERE of the deals list: all on `deals` (the tag goes through the deal's contact)."""
    f = filters
    out = [Deal.archived.is_(f.archived)]
    for column, value in ((Deal.pipeline_id, f.pipeline_id), (Deal.company_id, f.company_id),
                          (Deal.contact_id, f.contact_id)):
        if value is not None:
            out.append(column == value)
    if f.owner_id is not None:
        out.append(Deal.owner_id == f.owner_id)
    if f.unowned:
        out.append(Deal.owner_id.is_(None))
    if f.stage_ids is not None:
        out.append(Deal.stage_id.in_(f.stage_ids))
    if f.status:
        out.append(Deal.status.in_([v.choice(s, DealStatus, "status") for s in f.status]))
    if f.tag:
        tagged = (select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id)
                  .where(Tag.name == f.tag.strip().lower()))
        out.append(Deal.contact_id.in_(tagged))
    if f.close_from is not None and f.close_to is not None and f.close_to < f.close_from:
        raise InvalidInput(f"the close dates end ({f.close_to}) before they start ({f.close_from})")
    if f.amount_min is not None and f.amount_max is not None and f.amount_max < f.amount_min:
        raise InvalidInput("the largest amount is smaller than the smallest")
    if f.close_from is not None:
        out.append(Deal.expected_close >= f.close_from)
    if f.close_to is not None:
        out.append(Deal.expected_close <= f.close_to)
    if f.amount_min is not None:
        out.append(Deal.amount_minor >= f.amount_min)
    if f.amount_max is not None:
        out.append(Deal.amount_minor <= f.amount_max)
    out += custom_conditions(session, "deal", f.custom)
    if query and query.strip():
        pattern = like_pattern(v.fold(query))
        out.append(Deal.title_key.like(pattern, escape="\\"))
    return out


def list_deals(session: Session, *, query: str | None = None, filters: DealFilter | dict | None = None,
               sort: str = "title", after: str | None = None, before: str | None = None, limit: int = 50,
               with_total: bool = False) -> Page[DealRow]:
    """One page of deals matching the search and filters, in `sort` order, by keyset. Reads are
    open to every role (as the board and a deal's screen are); changes are checked per deal."""
    filters = parse_shape(DealFilter, filters or {})
    key = sort_key(session, sort)
    return deal_page(session, conditions(session, query, filters), key, after=after, before=before, limit=limit,
                     with_total=with_total)


def deal_page(session: Session, where: list, key: SortKey, *, after: str | None = None,
              before: str | None = None, limit: int = 50, with_total: bool = False) -> Page[DealRow]:
    """The deals matching `where` in `key` order, a page at a time, as list rows (the deals list
    and the reports' drill-down read through this)."""
    stmt = (
        select(Deal.id, Deal.title, _COMPANY.name.label("company_name"), Stage.name.label("stage_name"),
               _OWNER.login.label("owner_login"), Deal.amount_minor, Deal.currency, Deal.status, Deal.expected_close,
               Deal.stage_entered_at, key.column.label("sort_value"))
        .join(Stage, Stage.id == Deal.stage_id)
        .outerjoin(_COMPANY, _COMPANY.id == Deal.company_id)
        .outerjoin(_OWNER, _OWNER.id == Deal.owner_id)
        .where(*where)
    )
    rows, next_, prev_ = keyset_page(session, stmt, key, row_key=lambda r: (r.sort_value, r.id),
                                     after=after, before=before, limit=limit)
    items = [DealRow(r.id, r.title, r.company_name, r.stage_name, r.owner_login, r.amount_minor, r.currency,
                     r.status, r.expected_close, r.stage_entered_at) for r in rows]
    total = session.scalar(select(func.count()).select_from(Deal).where(*where)) if with_total else None
    return Page(items, next_, prev_, total)


def count_deals(session: Session, *, query: str | None = None, filters: DealFilter | dict | None = None) -> int:
    filters = parse_shape(DealFilter, filters or {})
    return session.scalar(select(func.count()).select_from(Deal).where(*conditions(session, query, filters)))



def parse_filters(session: Session, *, actor: Actor, now: datetime | None = None, status: list[str] | str | None = None,
                  pipeline: str | None = None, stages: list[str] | None = None, owner: str | None = None,
                  company: str | None = None, contact: str | None = None, tag: str | None = None,
                  close_from: str | None = None, close_to: str | None = None, amount_min: str | None = None,
                  amount_max: str | None = None, currency: str = "USD", custom: list[str] | None = None,
                  archived: bool = False) -> dict:
    """The deals list's filters from text as a person types it (the CLI's options, the app's filter
    form): names resolved to ids, dates in the team's zone ("+30d", "end of month"), amounts as
    typed. Empty text means "any". Returns a DealFilter's dict, as a saved list keeps it."""
    def given(text: str | None) -> str | None:
        return text.strip() if text is not None and text.strip() else None

    out: dict = {"archived": archived}
    statuses = [status] if isinstance(status, str) else list(status or [])
    statuses = [s.strip() for part in statuses for s in part.split(",") if s.strip()]
    if statuses:
        out["status"] = [v.choice(s, DealStatus, "status") for s in statuses]
    stage_names = [s.strip() for part in (stages or []) for s in part.split(",") if s.strip()]
    if given(pipeline):
        out["pipeline_id"] = pipelines.resolve_pipeline(session, pipeline).id
        if stage_names:
            out["stage_ids"] = [pipelines.resolve_stage(session, out["pipeline_id"], s).id for s in stage_names]
    elif stage_names:  # that stage in every pipeline
        out["stage_ids"] = [i for s in stage_names for i in pipelines.stage_ids_named(session, s)]
    if (who := given(owner)) is not None:
        if who.lower() in ("me", "@me"):
            out["owner_id"] = actor.user_id
        elif who.lower() in ("none", "nobody"):
            out["unowned"] = True
        else:
            out["owner_id"] = users.resolve_user(session, who).id
    if given(company):
        out["company_id"] = companies.resolve_company(session, company).id
    if given(contact):
        out["contact_id"] = contacts.find_contact(session, contact).id
    if given(tag):
        out["tag"] = tag.strip().lstrip("#").lower()
    zone, now = team_zone(actor), resolve_now(now)
    for key, text in (("close_from", close_from), ("close_to", close_to)):
        if given(text):
            out[key] = parse_day(text, now=now, zone=zone, order=actor.date_order).isoformat()
    for key, text in (("amount_min", amount_min), ("amount_max", amount_max)):
        if given(text):
            out[key] = v.money(text.strip(), currency, locale=actor.locale)
    pairs = [p.strip() for part in (custom or []) for p in part.split(",") if p.strip()]
    if pairs:
        out["custom"] = pairs
    parsed = parse_shape(DealFilter, out)
    conditions(session, None, parsed)  # refused now (a bad range, a bad field name), not at the first page
    return parsed.model_dump(mode="json", exclude_defaults=True)
