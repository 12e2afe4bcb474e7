"""Find anything by text: contacts, companies and deals by name, and activities by what people
wrote in their subjects and notes. What the palette's search and `crm search` both read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Activity, Contact, Deal
from crm_tui.services import companies, contacts, deals, pipelines, products, search, users
from crm_tui.services.common import parse_id
from crm_tui.services.validation import fold

PICK_KINDS = ("contact", "company", "deal", "user", "pipeline", "stage", "product")


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


# --- pickers: a form field that names a record ------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One record a picker offers: its id, what it is called, and a word that tells it apart."""

    kind: str
    id: int
    label: str
    detail: str = ""


def pick(session: Session, *, kind: str, query: str, limit: int = 5, within: int | None = None,
         now: datetime | None = None, open_only: bool = False) -> list[Choice]:
    """The top `limit` records of `kind` whose text matches `query` (through the search indexes for
    contacts and companies; by title for deals; by name for the small lists of users (login, name or
    email; active users only), pipelines (not archived) and stages (of the pipeline `within` names,
    else of every pipeline not archived; `open_only`: the stages a deal can be moved to by hand).
    An empty query offers the first few."""
    if kind not in PICK_KINDS:
        raise InvalidInput(f"no picker for {kind!r}: choose one of {', '.join(PICK_KINDS)}")
    text = (query or "").strip()
    if kind == "contact":
        return [Choice("contact", r.id, r.full_name, r.company_name or r.email or "")
                for r in contacts.list_contacts(session, query=text or None, limit=limit, now=now).items]
    if kind == "company":
        return [Choice("company", r.id, r.name, r.domain or "")
                for r in companies.list_companies(session, query=text or None, limit=limit).items]
    if kind == "deal":
        return [Choice("deal", r.id, r.title, " · ".join(p for p in (r.company_name, r.stage_name) if p))
                for r in deals.list_deals(session, query=text or None, limit=limit).items]
    if kind == "product":
        return [product_choice(c) for c in products.lookup(session, query=text, limit=limit)]
    words = fold(text).split()
    # each word typed starts a word of the name (or the login, or the email): "m" is not in ".com"
    found = [c for c, searched in _small_list(session, kind, within, open_only)
             if all(any(part.startswith(word) for part in searched.split()) for word in words)]
    # names that start with what was typed come first
    return sorted(found, key=lambda c: not fold(c.label).startswith(fold(text)))[:limit]


def _small_list(session: Session, kind: str, within: int | None, open_only: bool) -> list[tuple[Choice, str]]:
    """(choice, the folded text a query is matched against) for the small tables."""
    if kind == "user":
        return [(Choice("user", u.id, u.login, _person(u)), fold(f"{u.login} {u.name or ''} {u.email or ''}"))
                for u in users.list_users(session, include_inactive=False)]
    if kind == "pipeline":
        return [(Choice("pipeline", p.id, p.name, "default" if p.is_default else ""), fold(p.name))
                for p in pipelines.list_pipelines(session)]
    chosen = [pipelines.get_pipeline(session, pipeline_id=within)] if within is not None \
        else pipelines.list_pipelines(session)
    several = len(chosen) > 1
    return [(Choice("stage", s.id, s.name, f"{p.name} · {s.kind}" if several else s.kind), fold(s.name))
            for p in chosen for s in p.stages if not open_only or s.kind == "open"]


def _person(user) -> str:
    """A user's name beside their login, when it says more than the login."""
    return user.name if user.name and user.name.lower() != user.login else ""


def resolve(session: Session, *, kind: str, text: str, within: int | None = None,
            now: datetime | None = None, open_only: bool = False) -> Choice | None:
    """The one record a picker's typed text names when nothing was chosen from its list: an exact
    label, else the only match. None for empty text; NotFound or InvalidInput (which names the
    first matches, to choose from) otherwise, so that a form never links a record by a guess."""
    text = (text or "").strip()
    if not text:
        return None
    if kind == "product":  # a SKU in any spelling, an id, or the only name or SKU starting so
        found = products.pick_one(session, ref=text)
        return Choice("product", found.id, f"{found.sku} · {found.name}", found.unit)
    matches = pick(session, kind=kind, query=text, limit=6, within=within, now=now, open_only=open_only)
    exact = [c for c in matches if fold(c.label) == fold(text)]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        if (record_id := parse_id(text)) is not None and kind in ("contact", "company", "deal"):
            return label(session, kind=kind, record_id=record_id)
        raise NotFound(f"no {kind} matches {text!r}")
    labels = [c.label for c in matches[:5]]
    shown = ", ".join(c.label if labels.count(c.label) == 1 else f"{c.label} ({c.detail})" for c in matches[:5])
    raise InvalidInput(f"{text!r} matches several: {shown}; choose one from the list")


def label(session: Session, *, kind: str, record_id: int) -> Choice:
    """The record a form is for, as its picker shows it."""
    if kind == "contact":
        c = contacts.get_contact(session, contact_id=record_id)
        return Choice("contact", c.id, c.full_name, c.company_name or "")
    if kind == "company":
        c = companies.get_company(session, company_id=record_id)
        return Choice("company", c.id, c.name, c.domain or "")
    if kind == "deal":
        d = deals.get_deal(session, deal_id=record_id)
        return Choice("deal", d.id, d.title, d.company_name or "")
    if kind == "user":
        u = users.get_user(session, user_id=record_id)
        return Choice("user", u.id, u.login, _person(u))
    if kind == "pipeline":
        p = pipelines.get_pipeline(session, pipeline_id=record_id)
        return Choice("pipeline", p.id, p.name, "default" if p.is_default else "")
    if kind == "product":
        p = products.get_product(session, product_id=record_id)
        return Choice("product", p.id, f"{p.sku} · {p.name}", p.unit)
    raise InvalidInput(f"no picker for {kind!r}")


def product_choice(found: products.ProductChoice) -> Choice:
    """A product as a picker offers it: "SKU · name", its unit beside."""
    return Choice("product", found.id, found.label, found.unit)
