"""A company's purchase history: the items of its won deals, newest first (keyset), and summed per
product in SQL, so a seller sees what an account has bought and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_tui.models import Company, Deal, DealStatus
from crm_tui.models.product import DealItem, Product
from crm_tui.services.common import get_or_404
from crm_tui.services.paging import Page, SortKey, keyset_page

NEWEST = SortKey(Deal.closed_at, DealItem.id, descending=True, nullable=True)
MAX_PRODUCTS = 50


@dataclass(frozen=True, slots=True)
class Purchase:
    """One item of a won deal."""

    id: int
    deal_id: int
    deal_title: str
    product_id: int
    sku: str
    name: str
    quantity_milli: int
    net_minor: int
    total_minor: int
    currency: str
    won_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProductPurchases:
    """One product a company bought, per currency: how much, in how many deals, and when last."""

    product_id: int
    sku: str
    name: str
    currency: str
    quantity_milli: int
    total_minor: int
    deals: int
    last_at: datetime | None


def _won(company_id: int):
    return (Deal.company_id == company_id, Deal.status == DealStatus.WON.value, Deal.archived.is_(False))


def company_purchases(session: Session, *, company_id: int, after: str | None = None, before: str | None = None,
                      limit: int = 50) -> Page[Purchase]:
    """The items of the company's won (unarchived) deals, newest win first, a page at a time."""
    get_or_404(session, Company, company_id, "company")
    stmt = (select(DealItem.id, DealItem.deal_id, Deal.title, DealItem.product_id, Product.sku, Product.name,
                   DealItem.quantity_milli, DealItem.net_minor, DealItem.tax_minor, Deal.currency, Deal.closed_at)
            .join(Deal, Deal.id == DealItem.deal_id).join(Product, Product.id == DealItem.product_id)
            .where(*_won(company_id)))
    rows, next_, prev_ = keyset_page(session, stmt, NEWEST, row_key=lambda r: (r.closed_at, r.id), after=after,
                                     before=before, limit=limit)
    items = [Purchase(r.id, r.deal_id, r.title, r.product_id, r.sku, r.name, r.quantity_milli, r.net_minor,
                      r.net_minor + r.tax_minor, r.currency, r.closed_at) for r in rows]
    return Page(items, next_, prev_, None)


def company_purchases_by_product(session: Session, *, company_id: int,
                                 limit: int = MAX_PRODUCTS) -> list[ProductPurchases]:
    """What the company bought summed per product and currency (one GROUP BY), largest total first."""
    get_or_404(session, Company, company_id, "company")
    total = func.sum(DealItem.net_minor + DealItem.tax_minor)
    rows = session.execute(
        select(DealItem.product_id, Product.sku, Product.name, Deal.currency,
               func.sum(DealItem.quantity_milli).label("quantity"), total.label("total"),
               func.count(func.distinct(DealItem.deal_id)).label("deals"), func.max(Deal.closed_at).label("last_at"))
        .join(Deal, Deal.id == DealItem.deal_id).join(Product, Product.id == DealItem.product_id)
        .where(*_won(company_id))
        .group_by(DealItem.product_id, Product.sku, Product.name, Deal.currency)
        .order_by(total.desc(), Product.sku, Deal.currency).limit(max(1, min(limit, MAX_PRODUCTS)))
    ).all()
    return [ProductPurchases(r.product_id, r.sku, r.name, r.currency, int(r.quantity), int(r.total), int(r.deals),
                             r.last_at) for r in rows]
