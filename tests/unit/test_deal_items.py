"""Deal items service: add/edit/remove re-total the deal in SQL, version checks, permissions,
audit, and bad input that writes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Deal
from crm_tui.models.product import DealItem, Product, ProductPrice
from crm_tui.services import deal_items, deals, users
from tests.conftest import seeded_fixtures


def _product(s, sku, prices, *, tax_bp=0, archived=False, name=None):
    p = Product(sku=sku, sku_key=sku.casefold(), name=name or f"Product {sku}", name_key=(name or sku).casefold(),
                tax_rate_bp=tax_bp, archived=archived)
    s.add(p)
    s.flush()
    for currency, minor in prices.items():
        s.add(ProductPrice(product_id=p.id, currency=currency, unit_price_minor=minor))
    s.flush()
    return p.id


def _setup(db, actor, now):
    with db.write() as s:
        _product(s, "WID-1", {"USD": 1999, "EUR": 1800}, tax_bp=2000, name="Widget")
        _product(s, "GAD-2", {"USD": 10_000})
        _product(s, "OLD-3", {"USD": 500}, archived=True)
        _product(s, "EURO-4", {"EUR": 700})
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "1000"}, actor=actor, now=now)
    return deal


seeded_rows, db_url, setup = seeded_fixtures(_setup, "setup")


def _counts(db):
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (DealItem, AuditEvent, Deal)) + (
            s.scalar(select(Deal.version)), s.scalar(select(Deal.amount_minor)))


def test_add_items_retotals_the_deal_and_bumps_its_version(db, actor, now, setup):
    with db.write() as s:
        a = deal_items.add_item(s, actor, setup.id, sku_or_product_id="wid-1", quantity="2.5", discount="10%",
                                now=now)
    # 2.5 × 19.99 = 49.975 → 49.98; 10% → 5.00; net 44.98; tax 20% → 9.00 (half-even per line)
    assert (a.gross_minor, a.discount_minor, a.net_minor, a.tax_minor, a.total_minor) == (4998, 500, 4498, 900, 5398)
    assert (a.sku, a.quantity_milli, a.unit_price_minor, a.price_overridden, a.position) == ("WID-1", 2500, 1999,
                                                                                             False, 1)
    with db.write() as s:
        b = deal_items.add_item(s, actor, setup.id, sku_or_product_id="GAD-2", quantity=1, discount="15",
                                description="rush", deal_version=setup.version + 1, now=now)
        listed = deal_items.list_items(s, actor, setup.id)
        deal = deals.get_deal(s, deal_id=setup.id)
    assert (b.discount_kind, b.discount_value, b.net_minor, b.position, b.description) == ("amount", 1500, 8500, 2,
                                                                                           "rush")
    assert deal.amount_minor == 5398 + 8500 == listed.totals.total_minor == listed.amount_minor
    assert deal.version == setup.version + 2 == listed.deal_version
    assert [i.sku for i in listed.items] == ["WID-1", "GAD-2"]
    assert (listed.totals.subtotal_minor, listed.totals.discount_minor, listed.totals.tax_minor) == (14998, 2000, 900)


def test_edit_and_remove(db, actor, now, setup):
    with db.write() as s:
        a = deal_items.add_item(s, actor, setup.id, sku_or_product_id="GAD-2", quantity=2, now=now)
        b = deal_items.add_item(s, actor, setup.id, sku_or_product_id="WID-1", quantity=1, now=now)
    with db.write() as s:
        edited = deal_items.edit_item(s, actor, setup.id, item_id=a.id, version=a.version, quantity="3",
                                      discount="50%", now=now)
        assert (edited.net_minor, edited.version) == (15_000, a.version + 1)
        assert deals.get_deal(s, deal_id=setup.id).amount_minor == 15_000 + 1999 + 400
        deal_items.edit_item(s, actor, setup.id, item_id=a.id, version=edited.version, discount="", now=now)
        assert deals.get_deal(s, deal_id=setup.id).amount_minor == 30_000 + 2399
    with db.write() as s:
        deal_items.remove_item(s, actor, setup.id, item_id=b.id, now=now)
        assert deals.get_deal(s, deal_id=setup.id).amount_minor == 30_000
        deal_items.remove_item(s, actor, setup.id, item_id=a.id, now=now)
        # the last item gone: the amount stays as it was, and may be edited by hand again
        deal = deals.get_deal(s, deal_id=setup.id)
        assert deal.amount_minor == 30_000
        assert deals.update_deal(s, deal_id=setup.id, changes={"amount": "12"}, actor=actor).amount_minor == 1200
    with db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "deal")
                                 .order_by(AuditEvent.id)))
        item_actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "deal_item")))
    assert actions[1:] == ["item_add", "item_add", "item_edit", "item_edit", "item_remove", "item_remove", "update"]
    assert item_actions == {"create", "update", "delete"}


def test_manual_amount_and_currency_edits_are_refused_while_items_exist(db, actor, now, setup):
    with db.write() as s:
        deal_items.add_item(s, actor, setup.id, sku_or_product_id="GAD-2", now=now)
    before = _counts(db)
    with db.write() as s:
        with pytest.raises(InvalidInput, match="1 line item: its amount is their total"):
            deals.update_deal(s, deal_id=setup.id, changes={"amount": "5"}, actor=actor)
        with pytest.raises(InvalidInput, match="its currency cannot be set by hand"):
            deals.update_deal(s, deal_id=setup.id, changes={"currency": "EUR"}, actor=actor)
        # the same amount (a form sending every field back) and other fields still go through
        deals.update_deal(s, deal_id=setup.id, changes={"amount": "100", "title": "Anvils 2"}, actor=actor)
    assert _counts(db)[0] == before[0]


def test_stale_versions_raise_the_conflict(db, actor, now, setup):
    with db.write() as s:
        a = deal_items.add_item(s, actor, setup.id, sku_or_product_id="GAD-2", now=now)
    before = _counts(db)
    with db.write() as s:
        with pytest.raises(Conflict, match="was changed"):
            deal_items.add_item(s, actor, setup.id, sku_or_product_id="GAD-2", deal_version=setup.version, now=now)
    with db.write() as s:
        deal_items.edit_item(s, actor, setup.id, item_id=a.id, version=a.version, quantity=2, now=now)
    with db.write() as s:
        with pytest.raises(Conflict):
            deal_items.edit_item(s, actor, setup.id, item_id=a.id, version=a.version, quantity=5, now=now)
        with pytest.raises(Conflict):
            deal_items.remove_item(s, actor, setup.id, item_id=a.id, version=a.version, now=now)
    after = _counts(db)
    assert after[0] == before[0] and after[4] == 20_000


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"quantity": "0"}, InvalidInput, "quantity must be more than zero"),
    ({"quantity": "-2"}, InvalidInput, "quantity must be more than zero"),
    ({"quantity": "two"}, InvalidInput, "invalid quantity"),
    ({"quantity": "1.0005"}, InvalidInput, "at most 3 decimal places"),
    ({"discount": "101%"}, InvalidInput, "over 100%"),
    ({"discount": "200"}, InvalidInput, "larger than the line"),
    ({"sku_or_product_id": "NOPE"}, NotFound, "no product with SKU 'NOPE'"),
    ({"sku_or_product_id": "OLD-3"}, InvalidInput, "OLD-3 is archived"),
    ({"sku_or_product_id": "EURO-4"}, InvalidInput, "EURO-4 has no price in USD \\(it has EUR\\)"),
    ({"unit_price": "-3"}, InvalidInput, "must not be negative"),
])
def test_bad_input_writes_nothing(db, actor, now, setup, kwargs, error, message):
    before = _counts(db)
    with db.write() as s:
        with pytest.raises(error, match=message):
            deal_items.add_item(s, actor, setup.id, **{"sku_or_product_id": "GAD-2", "quantity": 1, **kwargs},
                                now=now)
    assert _counts(db) == before


def test_unknown_deal_and_item(db, actor, now, setup):
    with db.write() as s:
        with pytest.raises(NotFound, match="no deal with id 999"):
            deal_items.add_item(s, actor, 999, sku_or_product_id="GAD-2", now=now)
        other = deals.create_deal(s, data={"title": "Other"}, actor=actor, now=now)
        mine = deal_items.add_item(s, actor, setup.id, sku_or_product_id="GAD-2", now=now)
        with pytest.raises(NotFound, match=f"deal #{other.id} has no item {mine.id}"):
            deal_items.remove_item(s, actor, other.id, item_id=mine.id, now=now)


def test_items_price_in_the_deals_currency(db, actor, now, setup):
    with db.write() as s:
        euro = deals.create_deal(s, data={"title": "Euro deal", "currency": "EUR"}, actor=actor, now=now)
        item = deal_items.add_item(s, actor, euro.id, sku_or_product_id="WID-1", now=now)
    assert (item.unit_price_minor, item.currency) == (1800, "EUR")


def test_permissions_per_deal_and_price_override(db, actor, now, setup):
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor, now=now)
        sam = users.actor_for(s, login="sam", now=now)
        mine = deals.create_deal(s, data={"title": "Sam's", "owner_id": sam.user_id}, actor=actor, now=now)
    before = _counts(db)
    with db.write() as s:
        with pytest.raises(Forbidden, match="sam \\(sales\\) may not"):
            deal_items.add_item(s, sam, setup.id, sku_or_product_id="GAD-2", now=now)  # ann's deal
        with pytest.raises(Forbidden, match="unit price other than the price list"):
            deal_items.add_item(s, sam, mine.id, sku_or_product_id="GAD-2", unit_price="50", now=now)
    assert _counts(db)[:2] == before[:2]
    with db.write() as s:
        same = deal_items.add_item(s, sam, mine.id, sku_or_product_id="GAD-2", unit_price="100.00", now=now)
        assert not same.price_overridden  # the list price typed out is no override
        cheap = deal_items.add_item(s, actor, mine.id, sku_or_product_id="GAD-2", unit_price="99.50", now=now)
        assert (cheap.unit_price_minor, cheap.price_overridden) == (9950, True)
        with pytest.raises(Forbidden):
            deal_items.edit_item(s, sam, mine.id, item_id=same.id, version=same.version, unit_price="1", now=now)
        edited = deal_items.edit_item(s, sam, mine.id, item_id=same.id, version=same.version, quantity=2, now=now)
    assert edited.net_minor == 20_000


def test_two_processes_adding_items_at_once_both_count(db, db_url, actor, now, setup):
    """Real OS processes add items to one deal at the same moment: the deal row is locked while it is
    re-totalled, so no add is lost and no one gets a conflict; the amount is the sum of every line."""
    from tests.unit.items_workers import add_items
    from tests.unit.proc_workers import context, process

    ctx = context()
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    children = [process(ctx, add_items, (db_url, setup.id, actor, sku, 5, barrier, queue))
                for sku in ("WID-1", "GAD-2")]
    for child in children:
        child.start()
    results = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert results == ["ok", "ok"]
    with db.read() as s:
        listed = deal_items.list_items(s, actor, setup.id)
    assert len(listed.items) == 10
    assert sorted(i.position for i in listed.items) == list(range(1, 11))
    assert listed.amount_minor == 5 * (1999 + 400) + 5 * 10_000 == listed.totals.total_minor
