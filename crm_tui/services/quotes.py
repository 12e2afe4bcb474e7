"""Quotes: made from a deal's items under a gapless per-year number (Q-2026-0042), edited while a
draft, frozen once sent (a change makes a new revision under the same number), sent as a PDF
through the outbox, accepted (which can win the deal at the quote's total), declined, or expired
by the workflow engine.

The number comes from quote_counters in the quote's own transaction: the year's row is inserted
if missing (a conflict ignored), then `UPDATE ... SET last = last + 1 ... RETURNING last` takes the
next one. The UPDATE locks the row until commit (PostgreSQL), and SQLite writes one transaction at
a time (BEGIN IMMEDIATE): two writers never get the same number, and a rolled-back quote rolls its
number back with it, so there are no gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import AuditEvent, Company, Contact, Deal, DealItem, Product, Quote, QuoteCounter, QuoteItem, User
from crm_tui.models.product import QUOTE_STATUSES, QUANTITY_SCALE
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import (Actor, apply_changes, audit, audit_rows, check_version, flush, get_or_404,
                                     system_actor)
from crm_tui.services.dates import day_in_range, parse_day, team_zone
from crm_tui.services.money import check_locale, currency_digits
from crm_tui.services.paging import Page, SortKey, keyset_page

ENTITY = "quote"
DEFAULT_VALID_DAYS = 30
MAX_TEXT = 20_000  # characters of terms or notes
OPEN = ("draft", "sent")  # the statuses the expiry pass looks at
# every column but the PDF: lists and cards never read it (load_pdf does, when asked)
_COLUMNS = [c for c in Quote.__table__.c if c.key != "pdf"]


@dataclass(frozen=True)
class QuoteItemRead:
    position: int
    sku: str
    name: str
    description: str
    unit: str
    quantity_milli: int
    unit_price_minor: int
    discount_kind: str | None
    discount_value: int
    tax_rate_bp: int
    net_minor: int
    discount_minor: int
    tax_minor: int

    @property
    def quantity(self) -> Decimal:
        return Decimal(self.quantity_milli) / QUANTITY_SCALE


@dataclass(frozen=True)
class QuoteRead:
    id: int
    deal_id: int
    number: str
    revision: int
    status: str
    currency: str
    locale: str | None
    valid_until: date | None
    terms: str
    notes: str
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int
    created_by: int | None
    created_at: datetime
    sent_at: datetime | None
    accepted_at: datetime | None
    declined_at: datetime | None
    expired_at: datetime | None
    version: int
    deal_title: str = ""
    company_name: str | None = None
    contact_name: str | None = None
    created_by_login: str | None = None
    has_pdf: bool = False
    latest: bool = True  # the newest revision of its number
    items: tuple[QuoteItemRead, ...] = field(default=())

    @property
    def label(self) -> str:
        """ "Q-2026-0042" or "Q-2026-0042 rev 2"."""
        return self.number if self.revision == 1 else f"{self.number} rev {self.revision}"


def _label(q) -> str:
    return f"quote {q.number}" + (f" rev {q.revision}" if q.revision > 1 else "")


# --- reading ------------------------------------------------------------------------------------


def _read(session: Session, quote: Quote, *, items: bool = True) -> QuoteRead:
    row = session.execute(
        select(Deal.title, Company.name.label("company"), Contact.full_name.label("contact"), User.login,
               Quote.pdf.is_not(None).label("has_pdf"))
        .select_from(Quote).join(Deal, Deal.id == Quote.deal_id)
        .outerjoin(Company, Company.id == Deal.company_id).outerjoin(Contact, Contact.id == Deal.contact_id)
        .outerjoin(User, User.id == Quote.created_by).where(Quote.id == quote.id)).one()
    newest = session.scalar(select(func.max(Quote.revision)).where(Quote.year == quote.year, Quote.seq == quote.seq))
    lines: tuple[QuoteItemRead, ...] = ()
    if items:
        lines = tuple(QuoteItemRead(**{k: getattr(i, k) for k in QuoteItemRead.__dataclass_fields__})
                      for i in session.scalars(select(QuoteItem).where(QuoteItem.quote_id == quote.id)
                                               .order_by(QuoteItem.position, QuoteItem.id)))
    base = {k: getattr(quote, k) for k in QuoteRead.__dataclass_fields__ if hasattr(Quote, k)}
    return QuoteRead(**base, deal_title=row.title, company_name=row.company, contact_name=row.contact,
                     created_by_login=row.login, has_pdf=bool(row.has_pdf), latest=quote.revision == newest,
                     items=lines)


def _load(session: Session, quote_id: int) -> Quote:
    from sqlalchemy.orm import defer

    quote = session.scalar(select(Quote).options(defer(Quote.pdf)).where(Quote.id == quote_id)) \
        if isinstance(quote_id, int) and 0 < quote_id < 2**63 else None
    if quote is None:
        raise NotFound(f"no quote with id {quote_id}")
    return quote


def find_quote(session: Session, *, ref: str | int, revision: int | None = None) -> int:
    """The id of the quote `ref` names: its number ("Q-2026-0042", any case; the latest revision
    unless `revision`) or its id."""
    text = str(ref).strip()
    if text.isascii() and text.isdigit():
        quote_id = int(text)
        _load(session, quote_id)
        return quote_id
    parts = text.upper().split("-")
    if len(parts) != 3 or parts[0] != "Q" or not parts[1].isdigit() or not parts[2].isdigit():
        raise InvalidInput(f"quote {ref!r}: give its number (Q-2026-0042) or its id")
    stmt = select(Quote.id).where(Quote.year == int(parts[1]), Quote.seq == int(parts[2]))
    if revision is not None:
        stmt = stmt.where(Quote.revision == revision)
    found = session.scalar(stmt.order_by(Quote.revision.desc()).limit(1))
    if found is None:
        rev = f" revision {revision}" if revision is not None else ""
        raise NotFound(f"no quote {text.upper()}{rev}", see="crm quote list")
    return found


def get_quote(session: Session, *, quote_id: int) -> QuoteRead:
    return _read(session, _load(session, quote_id))


def load_pdf(session: Session, *, quote_id: int) -> bytes | None:
    """The PDF stored when the quote was sent (None before): read only here."""
    _load(session, quote_id)
    return session.scalar(select(Quote.pdf).where(Quote.id == quote_id))


@dataclass(frozen=True)
class QuoteRow:
    """One line of a quote list (no items, no PDF)."""

    id: int
    deal_id: int
    deal_title: str
    number: str
    revision: int
    status: str
    currency: str
    total_minor: int
    valid_until: date | None
    created_at: datetime
    sent_at: datetime | None
    version: int

    @property
    def label(self) -> str:
        return self.number if self.revision == 1 else f"{self.number} rev {self.revision}"


def list_quotes(session: Session, *, deal_id: int | None = None, status: str | None = None,
                after: str | None = None, before: str | None = None, limit: int = 50) -> Page[QuoteRow]:
    """Quotes newest first, by keyset on the id (the deal's through ix_quotes_deal)."""
    stmt = (select(Quote.id, Quote.deal_id, Deal.title.label("deal_title"), Quote.number, Quote.revision,
                   Quote.status, Quote.currency, Quote.total_minor, Quote.valid_until, Quote.created_at,
                   Quote.sent_at, Quote.version)
            .join(Deal, Deal.id == Quote.deal_id))
    if deal_id is not None:
        stmt = stmt.where(Quote.deal_id == deal_id)
    if status is not None:
        stmt = stmt.where(Quote.status == _status(status))
    rows, next_, prev_ = keyset_page(session, stmt, SortKey(Quote.id, Quote.id, descending=True),
                                     row_key=lambda r: (r.id, r.id), after=after, before=before, limit=limit)
    return Page([QuoteRow(**r._mapping) for r in rows], next_, prev_)


def _status(value: str) -> str:
    status = (value or "").strip().lower()
    if status not in QUOTE_STATUSES:
        raise InvalidInput(f"no quote status {value!r}: use one of {', '.join(QUOTE_STATUSES)}")
    return status


# --- making one ---------------------------------------------------------------------------------


def next_number(session: Session, year: int) -> int:
    """The next number of `year`, taken in the caller's transaction (see the module's docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    session.execute(dialect_insert(QuoteCounter).values(year=year, last=0).on_conflict_do_nothing(
        index_elements=["year"]))
    return session.execute(update(QuoteCounter).where(QuoteCounter.year == year)
                           .values(last=QuoteCounter.last + 1).returning(QuoteCounter.last)).scalar_one()


def _valid_until(value: date | str | None, actor: Actor, now: datetime, valid_days: int) -> date:
    today = now.astimezone(team_zone(actor)).date()
    if value is None or (isinstance(value, str) and not value.strip()):
        return today + timedelta(days=valid_days)
    if isinstance(value, date):
        day = day_in_range(value)
    else:
        day = parse_day(value, now=now, zone=team_zone(actor), order=actor.date_order)
    if day < today:
        raise InvalidInput(f"valid until {day:%Y-%m-%d} is in the past")
    return day


def _text(value: str | None, label: str) -> str:
    return v.optional_text(value, label, max_length=MAX_TEXT, multiline=True) or ""


def _no_items(deal: Deal) -> InvalidInput:
    return InvalidInput(f"deal {deal.title!r} has no items to quote; add some first",
                        see=f"crm deal item add {deal.id} SKU")


def _deal_lines(session: Session, deal: Deal) -> list[dict]:
    """The deal's items as quote lines (a frozen copy: SKU, name and unit as they are now)."""
    rows = session.execute(
        select(DealItem, Product.sku, Product.name, Product.unit).join(Product, Product.id == DealItem.product_id)
        .where(DealItem.deal_id == deal.id).order_by(DealItem.position, DealItem.id)).all()
    if not rows:
        raise _no_items(deal)
    return [dict(product_id=item.product_id, position=n, sku=sku, name=name, description=item.description, unit=unit,
                 quantity_milli=item.quantity_milli, unit_price_minor=item.unit_price_minor,
                 discount_kind=item.discount_kind, discount_value=item.discount_value, tax_rate_bp=item.tax_rate_bp,
                 net_minor=item.net_minor, discount_minor=item.discount_minor, tax_minor=item.tax_minor)
            for n, (item, sku, name, unit) in enumerate(rows, start=1)]


def _totals(lines: list[dict]) -> dict:
    discount = sum(x["discount_minor"] for x in lines)
    net = sum(x["net_minor"] for x in lines)
    tax = sum(x["tax_minor"] for x in lines)
    return {"subtotal_minor": net + discount, "discount_minor": discount, "tax_minor": tax, "total_minor": net + tax}


def create_quote(session: Session, *, actor: Actor, deal_id: int, valid_until: date | str | None = None,
                 terms: str | None = None, notes: str | None = None, valid_days: int = DEFAULT_VALID_DAYS,
                 default_terms: str = "", now: datetime | None = None) -> QuoteRead:
    """A draft quote of the deal's items, numbered Q-YEAR-NNNN; valid `valid_days` from today
    unless `valid_until` ("+2w", "end of month", a date) says."""
    now = resolve_now(now)
    deal = get_or_404(session, Deal, deal_id, "deal")
    permissions.require(session, actor, "deal.edit", owner=deal.owner_id)
    until = _valid_until(valid_until, actor, now, valid_days)
    terms_text = _text(default_terms if terms is None else terms, "terms")
    notes_text = _text(notes, "notes")
    lines = _deal_lines(session, deal)  # before a number is taken
    year = now.astimezone(team_zone(actor)).year
    seq = next_number(session, year)
    quote = Quote(deal_id=deal.id, year=year, seq=seq, number=f"Q-{year}-{seq:04d}", revision=1, status="draft",
                  currency=deal.currency, locale=check_locale(actor.locale), valid_until=until, terms=terms_text,
                  notes=notes_text, created_by=actor.user_id, created_at=now, updated_at=now, **_totals(lines))
    return _add(session, quote, lines, actor, now, f"{quote.number} for {deal.title}")


def _add(session: Session, quote: Quote, lines: list[dict], actor: Actor, now: datetime, summary: str) -> QuoteRead:
    session.add(quote)
    flush(session, ENTITY, _label(quote))
    session.execute(insert(QuoteItem), [{**line, "quote_id": quote.id} for line in lines])
    audit(session, actor=actor, entity=ENTITY, entity_id=quote.id, action="create", now=now,
          summary=f"{summary} ({v.format_money(quote.total_minor, quote.currency)})")
    return get_quote(session, quote_id=quote.id)


def revise_quote(session: Session, *, actor: Actor, quote_id: int, version: int | None = None,
                 now: datetime | None = None) -> QuoteRead:
    """A new revision of a sent (or declined, or expired) quote: the same number, revision + 1, a
    draft with a fresh copy of the deal's items and the same validity, terms and notes."""
    now = resolve_now(now)
    old, deal = _writable(session, actor, quote_id, version)
    newest = session.scalar(select(func.max(Quote.revision)).where(Quote.year == old.year, Quote.seq == old.seq))
    if old.revision != newest:
        raise InvalidInput(f"{_label(old)} has a newer revision ({newest}); revise that one",
                           see=f"crm quote show {old.number}")
    if old.status == "draft":
        raise InvalidInput(f"{_label(old)} is a draft: edit it instead (a sent quote is revised)",
                           see=f"crm quote edit {old.number}")
    if old.status == "accepted":
        raise InvalidInput(f"{_label(old)} was accepted; it is final")
    lines = _deal_lines(session, deal)
    today = now.astimezone(team_zone(actor)).date()
    until = old.valid_until if old.valid_until and old.valid_until >= today else today + timedelta(DEFAULT_VALID_DAYS)
    quote = Quote(deal_id=deal.id, year=old.year, seq=old.seq, number=old.number, revision=old.revision + 1,
                  status="draft", currency=deal.currency, locale=old.locale, valid_until=until, terms=old.terms,
                  notes=old.notes, created_by=actor.user_id, created_at=now, updated_at=now, **_totals(lines))
    return _add(session, quote, lines, actor, now, f"{old.number} revision {old.revision + 1}")


def _writable(session: Session, actor: Actor, quote_id: int, version: int | None) -> tuple[Quote, Deal]:
    quote = _load(session, quote_id)
    deal = session.get(Deal, quote.deal_id)
    permissions.require(session, actor, "deal.edit", owner=deal.owner_id)
    check_version(session, quote, version, ENTITY, _label(quote))
    return quote, deal


def update_quote(session: Session, *, actor: Actor, quote_id: int, version: int | None = None,
                 changes: dict, now: datetime | None = None) -> QuoteRead:
    """Edit a draft's `valid_until`, `terms` or `notes`; a sent quote is frozen (revise it)."""
    now = resolve_now(now)
    quote, _deal = _writable(session, actor, quote_id, version)
    unknown = set(changes) - {"valid_until", "terms", "notes"}
    if unknown:
        raise InvalidInput(f"a quote's {', '.join(sorted(unknown))} cannot be edited; only valid_until, terms, notes")
    if quote.status != "draft":
        raise InvalidInput(f"{_label(quote)} is {quote.status}: it is frozen; revise it to change it",
                           see=f"crm quote revise {quote.number}")
    values: dict = {}
    if "valid_until" in changes:
        values["valid_until"] = _valid_until(changes["valid_until"], actor, now, DEFAULT_VALID_DAYS)
    for key in ("terms", "notes"):
        if key in changes:
            values[key] = _text(changes[key], key)
    changed = apply_changes(quote, values)
    if changed:
        quote.updated_at = now
        flush(session, ENTITY, _label(quote))
        audit(session, actor=actor, entity=ENTITY, entity_id=quote.id, action="update", now=now, changes=changed)
    return get_quote(session, quote_id=quote.id)


# --- statuses -----------------------------------------------------------------------------------


def _set_status(session: Session, quote: Quote, status: str, actor: Actor, now: datetime, **values) -> None:
    changed = apply_changes(quote, {"status": status, f"{status}_at": now, **values})
    quote.updated_at = now
    flush(session, ENTITY, _label(quote))
    changed.pop("pdf", None)  # the audit trail says it was stored, not its bytes
    audit(session, actor=actor, entity=ENTITY, entity_id=quote.id, action=status, now=now, changes=changed)


def mark_sent(session: Session, *, actor: Actor, quote_id: int, pdf: bytes, version: int | None = None,
              now: datetime | None = None) -> QuoteRead:
    """A draft becomes sent, with its PDF stored: from here on it is frozen."""
    now = resolve_now(now)
    quote, _deal = _writable(session, actor, quote_id, version)
    if quote.status != "draft":
        raise InvalidInput(f"{_label(quote)} is {quote.status}, not a draft")
    _set_status(session, quote, "sent", actor, now, pdf=pdf)
    return get_quote(session, quote_id=quote.id)


def decline_quote(session: Session, *, actor: Actor, quote_id: int, version: int | None = None,
                  now: datetime | None = None) -> QuoteRead:
    now = resolve_now(now)
    quote, _deal = _writable(session, actor, quote_id, version)
    if quote.status not in OPEN:
        raise InvalidInput(f"{_label(quote)} is {quote.status}; only a draft or sent quote can be declined")
    _set_status(session, quote, "declined", actor, now)
    return get_quote(session, quote_id=quote.id)


def accept_quote(session: Session, *, actor: Actor, quote_id: int, version: int | None = None,
                 mark_won: bool = True, now: datetime | None = None) -> QuoteRead:
    """The customer accepted: the quote is accepted and, with `mark_won`, its deal is won at the
    quote's total (and currency), through the deals service, in the caller's one transaction."""
    from crm_tui.services import deals

    now = resolve_now(now)
    quote, deal = _writable(session, actor, quote_id, version)
    if quote.status not in OPEN:
        raise InvalidInput(f"{_label(quote)} is {quote.status}; only a draft or sent quote can be accepted")
    newest = session.scalar(select(func.max(Quote.revision)).where(Quote.year == quote.year, Quote.seq == quote.seq))
    if quote.revision != newest:
        raise InvalidInput(f"{_label(quote)} was replaced by revision {newest}; accept that one")
    _set_status(session, quote, "accepted", actor, now)
    if mark_won:
        if (deal.amount_minor, deal.currency) != (quote.total_minor, quote.currency):
            if session.scalar(select(DealItem.id).where(DealItem.deal_id == deal.id).limit(1)) is not None:
                # the deal's amount is its items' total, and they changed since this quote
                raise InvalidInput(
                    f"deal {deal.title!r} is at {v.format_money(deal.amount_minor, deal.currency)} but "
                    f"{_label(quote)} totals {v.format_money(quote.total_minor, quote.currency)}: its items "
                    "changed since; revise the quote, or accept it without winning the deal (--no-win)")
            amount = Decimal(quote.total_minor).scaleb(-currency_digits(quote.currency))
            deals.update_deal(session, deal_id=deal.id, actor=actor, now=now,
                              changes={"amount": amount, "currency": quote.currency})
        if deal.status != "won":
            deals.mark_won(session, deal_id=deal.id, actor=actor, now=now)
    return get_quote(session, quote_id=quote.id)


def due_for_expiry(session: Session, *, today: date, limit: int = 500) -> list[int]:
    """Drafts and sent quotes whose validity ended before `today` (one index range scan)."""
    return list(session.scalars(select(Quote.id).where(Quote.status.in_(OPEN), Quote.valid_until < today)
                                .order_by(Quote.id).limit(limit)))


def expire_quotes(session: Session, *, today: date, now: datetime | None = None, limit: int = 500) -> int:
    """The workflow engine's pass: every draft or sent quote past its validity becomes expired, in
    one UPDATE, each audited as the engine (its status from what it was). Returns how many."""
    now = resolve_now(now)
    was = dict(session.execute(select(Quote.id, Quote.status).where(Quote.status.in_(OPEN), Quote.valid_until < today)
                               .order_by(Quote.id).limit(limit)).all())
    if not was:
        return 0
    done = list(session.scalars(
        update(Quote).where(Quote.id.in_(list(was)), Quote.status.in_(OPEN))
        .values(status="expired", expired_at=now, updated_at=now, version=Quote.version + 1)
        .returning(Quote.id).execution_options(synchronize_session=False)))
    if done:
        session.execute(insert(AuditEvent), audit_rows(
            actor=system_actor("workflow/quote-expiry"), now=now,
            events=[(ENTITY, qid, "expired", {"status": (was[qid], "expired")}) for qid in done]))
    return len(done)


def with_status(quote: QuoteRead, status: str) -> QuoteRead:
    """A copy showing another status (a dry run's "would be sent")."""
    return replace(quote, status=status)
