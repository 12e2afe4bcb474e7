"""`crm deal item add|list|edit|remove` and `crm company purchases`, end to end."""

from __future__ import annotations

import pytest

from crm_tui.db import open_database
from crm_tui.services import products, users
from tests.cli.conftest import row_counts


@pytest.fixture
def catalog(crm, db_url):
    crm.ok("company", "add", "Acme")
    database = open_database(db_url)
    try:
        with database.write() as s:
            ann = users.actor_for(s, login="ann")
            products.create_product(s, sku="WID-1", name="Widget", tax_rate="20", prices={"USD": "19.99"},
                                    actor=ann)
            products.create_product(s, sku="GAD-2", name="Gadget", prices={"USD": "100", "EUR": "90"}, actor=ann)
            products.create_product(s, sku="EU-3", name="Euro only", prices={"EUR": "7"}, actor=ann)
    finally:
        database.dispose()
    return crm.json("deal", "add", "Acme renewal", "--amount", "500", "--company", "Acme")


def test_add_list_edit_remove(crm, catalog):
    deal = str(catalog["id"])
    item = crm.json("deal", "item", "add", deal, "wid-1", "--qty", "2.5", "--discount", "10%")
    assert (item["sku"], item["quantity_milli"], item["net_minor"], item["tax_minor"]) == ("WID-1", 2500, 4498, 900)
    out = crm.ok("deal", "item", "add", deal, "GAD-2", "--qty", "2", "--discount", "15",
                 "--description", "rush").stdout
    assert "added item" in out and "deal amount $238.98" in out  # 53.98 + (200 - 15)

    listed = crm.json("deal", "item", "list", deal)
    assert [i["sku"] for i in listed["items"]] == ["WID-1", "GAD-2"]
    assert listed["totals"]["total_minor"] == listed["amount_minor"] == 23_898
    table = crm.ok("deal", "item", "list", deal).stdout
    assert "Widget" in table and "10%" in table and "total $238.98" in table
    assert crm.json("deal", "show", deal)["amount_minor"] == 23_898

    second = listed["items"][1]
    edited = crm.json("deal", "item", "edit", deal, str(second["id"]), "--qty", "1", "--discount", "",
                      "--version", str(second["version"]))
    assert edited["net_minor"] == 10_000
    crm.fails("deal", "item", "edit", deal, str(second["id"]), "--qty", "3", "--version", str(second["version"]),
              code=3)

    crm.fails("deal", "edit", deal, "--amount", "1", code=2)
    out = crm.ok("deal", "item", "remove", deal, str(second["id"])).stdout
    assert "deal amount $53.98" in out
    crm.ok("deal", "item", "remove", deal, str(item["id"]))
    assert crm.json("deal", "show", deal)["amount_minor"] == 5398  # the last total stays
    assert "has no items" in crm.ok("deal", "item", "list", deal).stdout


@pytest.mark.parametrize(("args", "message"), [
    (["NOPE"], "no product with SKU 'NOPE'"),
    (["WID-1", "--qty", "0"], "quantity must be more than zero"),
    (["WID-1", "--discount", "150%"], "over 100%"),
    (["WID-1", "--discount", "25"], "larger than the line"),
    (["EU-3"], "EU-3 has no price in USD"),
])
def test_bad_input_is_one_line_and_writes_nothing(crm, catalog, db_url, args, message):
    before = row_counts(db_url)
    result = crm.fails("deal", "item", "add", str(catalog["id"]), *args)
    assert message in result.stderr
    assert row_counts(db_url) == before


def test_company_purchases(crm, catalog):
    deal = str(catalog["id"])
    crm.ok("deal", "item", "add", deal, "WID-1", "--qty", "3")
    crm.ok("deal", "item", "add", deal, "GAD-2")
    other = crm.json("deal", "add", "Acme extra", "--company", "Acme")
    crm.ok("deal", "item", "add", str(other["id"]), "GAD-2", "--qty", "2")
    assert crm.json("company", "purchases", "Acme")["items"] == []  # nothing won yet
    crm.ok("deal", "won", deal)
    data = crm.json("company", "purchases", "Acme")
    assert [(p["sku"], p["quantity_milli"]) for p in data["items"]] == [("GAD-2", 1000), ("WID-1", 3000)]
    assert [(p["sku"], p["quantity_milli"], p["deals"]) for p in data["by_product"]] == [
        ("GAD-2", 1000, 1), ("WID-1", 3000, 1)]
    table = crm.ok("company", "purchases", "Acme").stdout
    assert "Widget" in table and "Gadget" in table and "Acme renewal" in table
