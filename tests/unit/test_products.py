"""The product catalog: SKUs unique in any spelling, prices per currency in minor units, tax rates in
basis points, versioned and audited changes, the product.edit permission, keyset list and picker."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Product, ProductPrice
from crm_tui.services import products, users


def _add(s, actor, now, sku="AB-1", name="Consulting hour", **kw):
    return products.create_product(s, sku=sku, name=name, actor=actor, now=now, **kw)


def test_a_product_keeps_its_prices_in_minor_units_and_its_tax_in_basis_points(db, actor, now):
    with db.write() as s:
        p = _add(s, actor, now, unit="hour", tax_rate="20%", prices=["120 USD", "110.50EUR", "JPY 1500"],
                 description="One hour of a senior consultant")
    assert (p.sku, p.unit, p.tax_rate_bp) == ("AB-1", "hour", 2000)
    assert {(x.currency, x.unit_price_minor) for x in p.prices} == {("USD", 12000), ("EUR", 11050), ("JPY", 1500)}
    with db.read() as s:
        assert products.price_for(s, p.id, "eur") == 11050
        assert products.get_by_sku(s, sku=" ab-1 ").id == p.id
        assert products.find_product(s, "Ab-1").id == p.id
        assert products.find_product(s, f"#{p.id}").id == p.id
        with pytest.raises(products.NoPrice, match=r"^AB-1 has no price in GBP \(it has EUR, JPY, USD\)$"):
            products.price_for(s, p.id, "GBP")
        with pytest.raises(NotFound, match="no product with SKU 'ZZ-9'"):
            products.get_by_sku(s, sku="ZZ-9")


@pytest.mark.parametrize("given, bp", [("20%", 2000), ("20", 2000), ("7.5 %", 750), ("0", 0), ("100%", 10000),
                                       ("7,25%", 725), (None, 0), (1900, 1900)])
def test_tax_rates_read_as_percent(given, bp):
    assert products.parse_tax_rate(given) == bp


@pytest.mark.parametrize("kwargs, message", [
    ({"tax_rate": "120%"}, "between 0% and 100%"),
    ({"tax_rate": "-5%"}, "invalid tax rate"),
    ({"tax_rate": "7.125%"}, "at most two decimal places"),
    ({"tax_rate": "twenty"}, "invalid tax rate"),
    ({"prices": ["-5 USD"]}, "must not be negative"),
    ({"prices": ["12 XYZ"]}, "unknown currency 'XYZ'"),
    ({"prices": ["12"]}, "has no currency"),
    ({"prices": ["12 USD", "13 USD"]}, "two prices in USD"),
    ({"prices": ["12.345 USD"]}, "at most 2 decimal places"),
    ({"sku": "AB 1"}, "a SKU has no spaces"),
    ({"sku": " "}, "SKU"),
    ({"name": ""}, "product name"),
])
def test_bad_input_is_one_line_and_writes_nothing(db, actor, now, kwargs, message):
    with db.write() as s:
        with pytest.raises(InvalidInput, match=message) as caught:
            _add(s, actor, now, **kwargs)
        assert "\n" not in str(caught.value)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 0
        assert s.scalar(select(func.count()).select_from(ProductPrice)) == 0


def test_a_sku_is_unique_in_any_spelling_archived_or_not(db, actor, now):
    with db.write() as s:
        p = _add(s, actor, now)
        other = _add(s, actor, now, sku="CD-2", name="Licence")
        products.set_product_archived(s, product_id=p.id, archived=True, actor=actor, now=now)
    with db.write() as s:
        with pytest.raises(Duplicate, match=r"a product with SKU AB-1 already exists: #\d+ \(archived\)"):
            _add(s, actor, now, sku="ab-1", name="Again")
        with pytest.raises(Duplicate, match="SKU AB-1"):
            products.update_product(s, product_id=other.id, sku="AB-1", actor=actor, now=now)
        # its own SKU in another spelling is no duplicate
        assert products.update_product(s, product_id=other.id, sku="cd-2", actor=actor, now=now).sku == "cd-2"


def test_edits_and_prices_are_versioned_and_audited(db, actor, now):
    with db.write() as s:
        p = _add(s, actor, now, prices={"USD": "100"})
    with db.write() as s:
        p2 = products.set_price(s, product_id=p.id, currency="EUR", amount="90", actor=actor, version=p.version,
                                now=now)
        assert p2.version == p.version + 1
        p3 = products.update_product(s, product_id=p.id, name="Senior hour", tax_rate="19%",
                                     prices=["110 USD"], actor=actor, version=p2.version, now=now)
        assert p3.version == p2.version + 1  # fields and a price in one edit: one new version
        p4 = products.remove_price(s, product_id=p.id, currency="usd", actor=actor, now=now)
    assert [(x.currency, x.unit_price_minor) for x in p4.prices] == [("EUR", 9000)]
    assert (p3.name, p3.tax_rate_bp) == ("Senior hour", 1900)
    with db.write() as s:
        with pytest.raises(Conflict, match="was changed"):
            products.update_product(s, product_id=p.id, name="Stale", actor=actor, version=p.version, now=now)
        with pytest.raises(products.NoPrice, match="AB-1 has no price in GBP to remove"):
            products.remove_price(s, product_id=p.id, currency="GBP", actor=actor, now=now)
    with db.read() as s:
        rows = s.execute(select(AuditEvent.action, AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value)
                         .where(AuditEvent.entity == "product").order_by(AuditEvent.id)).all()
    assert [r.action for r in rows][:1] == ["create"]
    assert ("update", "price EUR", None, "90.00") in rows
    assert ("update", "price USD", "100.00", "110.00") in rows
    assert ("update", "price USD", "110.00", None) in rows
    assert ("update", "name", "Consulting hour", "Senior hour") in rows


def test_only_roles_with_product_edit_change_the_catalog(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "name": "Sam", "role": "sales"}, actor=actor, now=now)
        users.create_user(s, data={"login": "mia", "name": "Mia", "role": "manager"}, actor=actor, now=now)
        sam = users.actor_for(s, login="sam", now=now)
        mia = users.actor_for(s, login="mia", now=now)
        p = _add(s, mia, now)
    with db.write() as s:
        with pytest.raises(Forbidden, match="may not add, edit, price and archive products"):
            _add(s, sam, now, sku="X-1")
        with pytest.raises(Forbidden):
            products.set_price(s, product_id=p.id, currency="USD", amount="1", actor=sam, now=now)
        with pytest.raises(Forbidden):
            products.set_product_archived(s, product_id=p.id, archived=True, actor=sam, now=now)
        # reading is for everyone
        assert products.lookup(s, query="ab")[0].id == p.id


def test_the_list_pages_by_keyset_and_searches_name_and_sku_prefixes(db, actor, now):
    with db.write() as s:
        for i in range(7):
            _add(s, actor, now, sku=f"SKU-{i:02d}", name=f"Widget {chr(ord('G') - i)}")
        _add(s, actor, now, sku="WX-9", name="Alpha box")
        gone = _add(s, actor, now, sku="OLD-1", name="Widget Old")
        products.set_product_archived(s, product_id=gone.id, archived=True, actor=actor, now=now)
    with db.read() as s:
        first = products.list_products(s, limit=3, with_total=True)
        second = products.list_products(s, limit=3, after=first.next_cursor)
        assert [r.name for r in first.items] == ["Alpha box", "Widget A", "Widget B"]
        assert first.total == 8
        assert [r.name for r in second.items] == ["Widget C", "Widget D", "Widget E"]
        back = products.list_products(s, limit=3, before=second.prev_cursor)
        assert [r.name for r in back.items] == [r.name for r in first.items]
        # "w" starts "Widget …" names and the SKU WX-9: one list, by name
        found = products.list_products(s, query="w", limit=50, with_total=True)
        assert [r.sku for r in found.items] == ["WX-9", "SKU-06", "SKU-05", "SKU-04", "SKU-03", "SKU-02", "SKU-01",
                                                "SKU-00"]
        assert found.total == 8
        assert [r.sku for r in products.list_products(s, query="sku-0", sort="sku", limit=2).items] == \
            ["SKU-00", "SKU-01"]
        assert [r.sku for r in products.list_products(s, archived=True).items] == ["OLD-1"]


def test_the_picker_puts_the_exact_sku_first_then_names_then_skus(db, actor, now):
    with db.write() as s:
        _add(s, actor, now, sku="CAB-1", name="Cable")
        _add(s, actor, now, sku="CA", name="Zebra adapter")
        _add(s, actor, now, sku="Q-1", name="Camera")
        old = _add(s, actor, now, sku="CAM-OLD", name="Camera old")
        products.set_product_archived(s, product_id=old.id, archived=True, actor=actor, now=now)
    with db.read() as s:
        assert [c.sku for c in products.lookup(s, query="ca")] == ["CA", "CAB-1", "Q-1"]
        assert [c.sku for c in products.lookup(s, query="ca", limit=2)] == ["CA", "CAB-1"]
        assert [c.sku for c in products.lookup(s, query="ca", include_archived=True)] == \
            ["CA", "CAB-1", "Q-1", "CAM-OLD"]
        assert [c.sku for c in products.lookup(s, query="")][:1] == ["CAB-1"]
        assert products.pick_one(s, ref="zebra").sku == "CA"
        with pytest.raises(InvalidInput, match="matches several products"):
            products.pick_one(s, ref="c")


@pytest.mark.parametrize("cross_sort_max", [0, 1000])
def test_a_search_on_the_other_column_walks_the_list_order_or_sorts_a_few_alike(db, actor, now, monkeypatch,
                                                                                 cross_sort_max):
    """A search's SKU branch in a list by name (and its name branch in a list by SKU) is read in list
    order either way: sorted when it matches few products, found walking the list's own index when it
    matches many (CROSS_SORT_MAX 0 forces that walk). Same pages, cursors and prices both ways."""
    monkeypatch.setattr(products, "CROSS_SORT_MAX", cross_sort_max)
    with db.write() as s:
        for i, name in enumerate(["Pump", "Anvil", "Zinc", "Press", "Bolt", "Pipe", "Cable"]):
            _add(s, actor, now, sku=f"P-{i:02d}", name=f"{name} {i}", prices=[f"{10 + i} USD", f"{9 + i} EUR"])
        _add(s, actor, now, sku="Q-1", name="Pliers")
        gone = _add(s, actor, now, sku="P-OLD", name="Anvil old")
        products.set_product_archived(s, product_id=gone.id, archived=True, actor=actor, now=now)
    by_name = ["Anvil 1", "Bolt 4", "Cable 6", "Pipe 5", "Pliers", "Press 3", "Pump 0", "Zinc 2"]
    with db.read() as s:
        first = products.list_products(s, query="p", limit=3, with_total=True)
        assert [r.name for r in first.items] == by_name[:3] and first.total == 8
        assert [(p.currency, p.unit_price_minor) for p in first.items[0].prices] == [("EUR", 1000), ("USD", 1100)]
        second = products.list_products(s, query="p", limit=3, after=first.next_cursor)
        third = products.list_products(s, query="p", limit=3, after=second.next_cursor)
        assert [r.name for r in second.items + third.items] == by_name[3:] and third.next_cursor is None
        back = products.list_products(s, query="p", limit=3, before=second.prev_cursor)
        assert [r.name for r in back.items] == by_name[:3]
        # a list by SKU: the name branch ("Pliers" is Q-1) is the other column's now
        assert [r.sku for r in products.list_products(s, query="p", sort="sku", limit=50).items] == \
            [f"P-{i:02d}" for i in range(7)] + ["Q-1"]
        assert [r.sku for r in products.list_products(s, query="pl", sort="sku").items] == ["Q-1"]
        assert [r.sku for r in products.list_products(s, query="p", archived=True).items] == ["P-OLD"]
        assert products.list_products(s, query="p-9").items == []
