"""Find anything by text: contacts, companies and deals by name, and activities by what people
wrote in their subjects and notes. What the palette's search and `crm search` both read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from crm_tui.models import Activity, Contact, Deal
from crm_tui.services import companies, contacts, deals, search


@dataclass(frozen=True)
class Hit:
    """One record found. `kind` and `id` name the record itself; `opens` and `opens_id` the
    record to show for it (an activity opens on its contact, else its deal, else its company)."""

    kind: str
    id: int
    label: str
    detail: str
    opens: str
    opens_id: int


def find(session: Session, *, query: str, limit: int = 6, now: datetime | None = None) -> list[Hit]:
    """Up to `limit` contacts, then half as many companies, deals and activities each."""
    text = (query or "").strip()
    if not text:
        return []
    some = max(1, limit // 2)
    found = [Hit("contact", r.id, r.full_name, r.company_name or r.email or "", "contact", r.id)
             for r in contacts.list_contacts(session, query=text, limit=limit, now=now).items]
    found += [Hit("company", r.id, r.name, r.domain or "", "company", r.id)
              for r in companies.list_companies(session, query=text, limit=some).items]
    found += [Hit("deal", r.id, r.title, f"{r.stage_name} · {r.company_name or ''}", "deal", r.id)
              for r in deals.list_deals(session, query=text, limit=some).items]
    found += activities(session, query=text, limit=some)
    return found


def activities(session: Session, *, query: str, limit: int = 20) -> list[Hit]:
    """The newest activities whose subject or notes hold every word of `query` (3+ letters)."""
    condition = search.activity_condition(session.bind.dialect.name, query)
    if condition is None:
        return []
    contact, deal = aliased(Contact), aliased(Deal)
    rows = session.execute(
        select(Activity.id, Activity.kind, Activity.subject, Activity.body, Activity.occurred_at,
               Activity.contact_id, Activity.deal_id, Activity.company_id,
               contact.full_name.label("contact_name"), deal.title.label("deal_title"))
        .outerjoin(contact, contact.id == Activity.contact_id)
        .outerjoin(deal, deal.id == Activity.deal_id)
        .where(condition)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(limit))
    hits = []
    for r in rows:
        opens, opens_id = next(((kind, ref) for kind, ref in (("contact", r.contact_id), ("deal", r.deal_id),
                                                              ("company", r.company_id)) if ref is not None),
                               ("activity", r.id))
        label = r.subject or (r.body or "").strip().split("\n", 1)[0][:80] or r.kind
        who = r.contact_name or r.deal_title or ""
        detail = " · ".join(p for p in (r.kind.capitalize(), who, f"{r.occurred_at:%Y-%m-%d}") if p)
        hits.append(Hit("activity", r.id, label, detail, opens, opens_id))
    return hits
