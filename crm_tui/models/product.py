"""Products, price lists, deals' line items, quotes and exchange rates (issue 22).

Money is an integer count of the currency's minor unit, as everywhere. Quantities are integer
thousandths (`quantity_milli`: 2.5 hours is 2500), tax rates and percent discounts integer basis
points (20% is 2000), and exchange rates integers scaled by 10^9 (`rate_e9`), so every total is
exact and the same on SQLite and PostgreSQL, and reports can convert in SQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from crm_tui.models.base import UTCDateTime, Versioned

QUANTITY_SCALE = 1000  # quantity_milli per unit
BASIS_POINTS = 10_000  # tax_rate_bp / discount percent per 100%
RATE_SCALE = 10**9  # rate_e9 per 1.0

DISCOUNT_KINDS = ("percent", "amount")  # DealItem/QuoteItem.discount_kind (None: no discount)
QUOTE_STATUSES = ("draft", "sent", "accepted", "declined", "expired")


class Product(Versioned, table=True):
    __tablename__ = "products"
    __table_args__ = (
        # the list and the picker: name order, keyset on (name_key, id), active ones first-class
        Index("ix_products_archived_name", "archived", "name_key", "id"),
        Index("ix_products_name_id", "name_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(sa_type=String(64))
    # the SKU casefolded and stripped: unique in any spelling
    sku_key: str = Field(sa_type=String(64), unique=True)
    name: str = Field(sa_type=String(200))
    name_key: str = Field(default="", sa_type=String(200))
    description: str = Field(default="", sa_type=Text)
    unit: str = Field(default="unit", sa_type=String(20))
    tax_rate_bp: int = Field(default=0)
    archived: bool = Field(default=False)


class ProductPrice(Versioned, table=True):
    """A product's price in one currency (its price list entry)."""

    __tablename__ = "product_prices"
    __table_args__ = (UniqueConstraint("product_id", "currency", name="uq_product_prices_currency"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", ondelete="CASCADE")
    currency: str = Field(sa_type=String(3))
    unit_price_minor: int = Field(sa_type=BigInteger)


class DealItem(Versioned, table=True):
    """A line on a deal. When a deal has items, its amount is their total."""

    __tablename__ = "deal_items"
    __table_args__ = (
        Index("ix_deal_items_deal", "deal_id", "position", "id"),
        # purchase history and revenue by product
        Index("ix_deal_items_product", "product_id", "deal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id", ondelete="CASCADE")
    product_id: int = Field(foreign_key="products.id", ondelete="RESTRICT")
    position: int = Field(default=1)
    description: str = Field(default="", sa_type=String(500))
    quantity_milli: int = Field(sa_type=BigInteger)
    unit_price_minor: int = Field(sa_type=BigInteger)
    # True when a person set a price other than the price list's (needs permission)
    price_overridden: bool = Field(default=False)
    discount_kind: str | None = Field(default=None, sa_type=String(8))
    # basis points for "percent", minor units for "amount"
    discount_value: int = Field(default=0, sa_type=BigInteger)
    tax_rate_bp: int = Field(default=0)
    # computed when written (half-even per line): the line after discount, before tax; and its tax
    net_minor: int = Field(default=0, sa_type=BigInteger)
    discount_minor: int = Field(default=0, sa_type=BigInteger)
    tax_minor: int = Field(default=0, sa_type=BigInteger)


class Quote(Versioned, table=True):
    """A quote made from a deal's items. `number` is Q-YEAR-NNNN from a gapless per-year counter;
    `revision` counts the versions of one quote (a sent quote is frozen: a change makes a new
    revision under the same number)."""

    __tablename__ = "quotes"
    __table_args__ = (
        UniqueConstraint("year", "seq", "revision", name="uq_quotes_number_revision"),
        Index("ix_quotes_deal", "deal_id", "id"),
        Index("ix_quotes_status_valid", "status", "valid_until"),
        Index("ix_quotes_created", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deals.id", ondelete="CASCADE")
    year: int
    seq: int
    number: str = Field(sa_type=String(20))
    revision: int = Field(default=1)
    status: str = Field(default="draft", sa_type=String(10))
    currency: str = Field(sa_type=String(3))
    locale: str | None = Field(default=None, sa_type=String(20))
    valid_until: date | None = Field(default=None)
    terms: str = Field(default="", sa_type=Text)
    notes: str = Field(default="", sa_type=Text)
    subtotal_minor: int = Field(default=0, sa_type=BigInteger)
    discount_minor: int = Field(default=0, sa_type=BigInteger)
    tax_minor: int = Field(default=0, sa_type=BigInteger)
    total_minor: int = Field(default=0, sa_type=BigInteger)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    declined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # the rendered PDF, kept with the deal (read only when asked for: load it deferred)
    pdf: bytes | None = Field(default=None, sa_type=LargeBinary)


class QuoteItem(SQLModel, table=True):
    """A quote's frozen copy of one deal item."""

    __tablename__ = "quote_items"
    __table_args__ = (Index("ix_quote_items_quote", "quote_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    quote_id: int = Field(foreign_key="quotes.id", ondelete="CASCADE")
    product_id: int | None = Field(default=None, foreign_key="products.id", ondelete="SET NULL")
    position: int
    sku: str = Field(sa_type=String(64))
    name: str = Field(sa_type=String(200))
    description: str = Field(default="", sa_type=String(500))
    unit: str = Field(default="unit", sa_type=String(20))
    quantity_milli: int = Field(sa_type=BigInteger)
    unit_price_minor: int = Field(sa_type=BigInteger)
    discount_kind: str | None = Field(default=None, sa_type=String(8))
    discount_value: int = Field(default=0, sa_type=BigInteger)
    tax_rate_bp: int = Field(default=0)
    net_minor: int = Field(sa_type=BigInteger)
    discount_minor: int = Field(default=0, sa_type=BigInteger)
    tax_minor: int = Field(default=0, sa_type=BigInteger)


class QuoteCounter(SQLModel, table=True):
    """The last quote number given in a year: taken with an UPDATE ... RETURNING in the quote's own
    transaction, so numbers are unique and have no gaps under concurrent writers."""

    __tablename__ = "quote_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = Field(default=0)


class FxRate(Versioned, table=True):
    """1 `base` = rate_e9 / 10^9 `quote`, from `valid_from` until the next rate of the pair."""

    __tablename__ = "fx_rates"
    __table_args__ = (UniqueConstraint("base", "quote", "valid_from", name="uq_fx_rates_pair_date"),)

    id: int | None = Field(default=None, primary_key=True)
    base: str = Field(sa_type=String(3))
    quote: str = Field(sa_type=String(3))
    valid_from: date
    rate_e9: int = Field(sa_type=BigInteger)
