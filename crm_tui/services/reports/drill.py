"""Drill-down: one keyset page of the deals or contacts under a report row."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, Company, Contact, Deal, User
from crm_tui.models.schemas import ContactRow, DealRow
from crm_tui.services import deal_list
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.reports.bucketing import in_range
from crm_tui.services.reports.queries import stale_condition
from crm_tui.services.reports.shapes import CONVERTED_LIFECYCLES, KINDS, NO_VALUE, Drill


_DEAL_SORTS = {"amount": SortKey(Deal.amount_minor, Deal.id, descending=True),
               "stage_entered": SortKey(Deal.stage_entered_at, Deal.id)}
_CONTACT_SORT = SortKey(Contact.sort_name, Contact.id)


def _drill_deal_conditions(d: Drill) -> list:
    conditions = [Deal.archived.is_(False)]
    if d.status:
        conditions.append(Deal.status.in_(d.status))
    for column, value in ((Deal.pipeline_id, d.pipeline_id), (Deal.stage_id, d.stage_id),
                          (Deal.owner_id, d.owner_id), (Deal.currency, d.currency)):
        if value is not None:
            conditions.append(column == value)
    if d.team is not None:
        team = select(User.team).where(User.id == Deal.owner_id).scalar_subquery()
        conditions.append(func.coalesce(team, NO_VALUE) == d.team)
    for column, span in ((Deal.created_at, d.created), (Deal.closed_at, d.closed), (Deal.expected_close, d.expected)):
        if span is not None:
            conditions.append(in_range(column, *span))
    if d.lost_reason is not None:
        conditions.append(Deal.lost_reason.is_(None) if d.lost_reason == NO_VALUE else Deal.lost_reason == d.lost_reason)
    if d.source is not None:
        contact_source = select(Contact.source).where(Contact.id == Deal.contact_id).scalar_subquery()
        conditions.append(func.coalesce(contact_source, NO_VALUE) == d.source)
    if d.stale:
        conditions.append(stale_condition(d.stale))
    return conditions


def _drill_contact_conditions(d: Drill) -> list:
    conditions = [Contact.archived.is_(False)]
    if d.owner_id is not None:
        conditions.append(Contact.owner_id == d.owner_id)
    if d.created is not None:
        conditions.append(in_range(Contact.created_at, *d.created))
    if d.source is not None:
        conditions.append(Contact.source.is_(None) if d.source == NO_VALUE else Contact.source == d.source)
    if d.converted:
        won_deal = select(Deal.id).where(Deal.contact_id == Contact.id, Deal.status == "won").exists()
        conditions.append(or_(Contact.lifecycle.in_(CONVERTED_LIFECYCLES), won_deal))
    if d.touched_by is not None and d.touched is not None:
        touched = select(Activity.id).where(Activity.contact_id == Contact.id, Activity.user_id == d.touched_by,
                                            Activity.kind.in_(KINDS), in_range(Activity.occurred_at, *d.touched))
        conditions.append(touched.exists())
    return conditions


def drill_page(session: Session, *, drill: Drill, after: str | None = None, before: str | None = None,
               limit: int = 50, with_total: bool = False) -> Page[DealRow] | Page[ContactRow]:
    """One keyset page of the deals (DealRow) or contacts (ContactRow) under a report row."""
    if drill.entity == "deal":
        return _drill_deals(session, drill, after, before, limit, with_total)
    if drill.entity == "contact":
        return _drill_contacts(session, drill, after, before, limit, with_total)
    raise InvalidInput(f"invalid drill-down {drill.entity!r}")


def _drill_deals(session: Session, drill: Drill, after, before, limit: int, with_total: bool) -> Page[DealRow]:
    key = _DEAL_SORTS[drill.sort]
    return deal_list.deal_page(session, _drill_deal_conditions(drill), key, after=after, before=before,
                                  limit=limit, with_total=with_total)


def _drill_contacts(session: Session, drill: Drill, after, before, limit: int, with_total: bool) -> Page[ContactRow]:
    conditions = _drill_contact_conditions(drill)
    company, owner = aliased(Company), aliased(User)
    stmt = (select(Contact.id, Contact.full_name, company.name.label("company_name"), Contact.email, Contact.phone,
                   Contact.lifecycle, owner.login.label("owner_login"), Contact.last_contacted_at, Contact.created_at,
                   Contact.sort_name.label("sort_value"))
            .outerjoin(company, company.id == Contact.company_id)
            .outerjoin(owner, owner.id == Contact.owner_id)
            .where(*conditions))
    rows, next_, prev_ = keyset_page(session, stmt, _CONTACT_SORT, row_key=lambda r: (r.sort_value, r.id),
                                     after=after, before=before, limit=limit)
    items = [ContactRow(r.id, r.full_name, r.company_name, r.email, r.phone, r.lifecycle, r.owner_login,
                        r.last_contacted_at, r.created_at) for r in rows]
    total = session.scalar(select(func.count()).select_from(Contact).where(*conditions)) if with_total else None
    return Page(items, next_, prev_, total)
