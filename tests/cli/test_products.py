"""`crm product`, `crm import products` and `crm export products`: prices per currency, --json,
one-line errors that write nothing, dry run, duplicates by SKU, all or nothing, and a round trip."""

from __future__ import annotations

import json

from tests.cli.conftest import row_counts


def test_add_list_show_edit_price_archive(crm):
    added = crm.json("product", "add", "AB-1", "Consulting hour", "--price", "120USD", "--price", "110 EUR",
                     "--unit", "hour", "--tax", "20%", "--description", "Senior")
    assert added["prices"] == {"EUR": {"amount": "110.00", "minor": 11000}, "USD": {"amount": "120.00", "minor": 12000}}
    assert (added["tax_rate_bp"], added["tax_rate"], added["unit"]) == (2000, "20%", "hour")
    crm.ok("product", "add", "CD-2", "Licence", "--price", "99", "--currency", "GBP")
    out = crm.ok("product", "list").stdout
    assert "AB-1" in out and "120.00 USD" in out and "99.00 GBP" in out and "2 in all" in out
    page = crm.json("product", "list", "--search", "lic")
    assert [i["sku"] for i in page["items"]] == ["CD-2"] and page["total"] == 1
    shown = crm.json("product", "show", "ab-1")
    assert shown["sku"] == "AB-1" and shown["version"] == 1
    assert "Consulting hour" in crm.ok("product", "show", "AB-1").stdout
    priced = crm.json("product", "price", "AB-1", "1,200.50", "CHF")
    assert priced["prices"]["CHF"]["minor"] == 120050 and priced["version"] == 2
    edited = crm.json("product", "edit", "AB-1", "--name", "Senior hour", "--remove-price", "USD", "--tax", "7.5",
                      "--version", "2")
    assert (edited["name"], edited["tax_rate_bp"], sorted(edited["prices"])) == ("Senior hour", 750, ["CHF", "EUR"])
    assert "priced product" in crm.ok("product", "price", "AB-1", "--remove", "CHF").stdout
    crm.ok("product", "archive", "AB-1")
    assert [i["sku"] for i in crm.json("product", "list")["items"]] == ["CD-2"]
    assert [i["sku"] for i in crm.json("product", "list", "--archived")["items"]] == ["AB-1"]
    crm.ok("product", "unarchive", "ab-1")
    assert crm.json("product", "show", "AB-1")["archived"] is False


def test_bad_input_is_one_line_and_writes_nothing(crm, db_url):
    crm.ok("product", "add", "AB-1", "Consulting hour", "--price", "120USD")
    before = row_counts(db_url)
    for args, message in [
        (["product", "add", "ab-1", "Again"], "a product with SKU AB-1 already exists"),
        (["product", "add", "X-1", "Neg", "--price", "-5 USD"], "must not be negative"),
        (["product", "add", "X-1", "Tax", "--tax", "120%"], "between 0% and 100%"),
        (["product", "add", "X-1", "Tax", "--tax", "lots"], "invalid tax rate"),
        (["product", "add", "X-1", "Cur", "--price", "5 XYZ"], "unknown currency 'XYZ'"),
        (["product", "add", "X-1", "Cur", "--price", "5"], "has no currency"),
        (["product", "show", "NOPE"], "no product with SKU 'NOPE'"),
        (["product", "edit", "AB-1", "--name", "x", "--version", "9"], "was changed"),
        (["product", "price", "AB-1", "--remove", "EUR"], "AB-1 has no price in EUR to remove"),
        (["product", "price", "AB-1"], "give a price"),
    ]:
        result = crm.fails(*args)
        assert message in result.stderr, (args, result.stderr)
    assert row_counts(db_url) == before


def test_a_seller_may_not_change_the_catalog(crm, db_url):
    crm.ok("user", "add", "sam", "--name", "Sam", "--role", "sales")
    result = crm.fails("product", "add", "AB-1", "Hour", user="sam")
    assert "may not add, edit, price and archive products" in result.stderr
    crm.ok("product", "add", "AB-1", "Hour")
    assert crm.json("product", "list", user="sam")["total"] == 1


def _csv(tmp_path, text: str, name: str = "products.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_detects_the_columns_dry_runs_and_builds_price_lists(crm, tmp_path, db_url):
    path = _csv(tmp_path, "Code,Product Name,List Price,Currency,VAT,Unit,EUR price\n"
                          "AB-1,Consulting hour,120,USD,20%,hour,110\n"
                          "CD-2,Licence,\"1,200.50\",,0,seat,\n"
                          "ab-1,Consulting hour (again),1,USD,,,\n")
    crm.ok("product", "list")
    before = row_counts(db_url)
    dry = crm.json("import", "products", str(path), "--dry-run", "--currency", "GBP")
    assert (dry["created"], dry["skipped"], dry["invalid"], dry["committed"]) == (2, 1, 0, False)
    assert row_counts(db_url) == before
    out = crm.ok("import", "products", str(path), "--currency", "GBP").stdout
    assert "EUR price" in out and "price.EUR" in out and "List Price" in out
    assert "3 rows, 2 created, 0 updated, 1 skipped as duplicates" in out and "same SKU as line 2" in out
    ab = crm.json("product", "show", "AB-1")
    assert {k: v["minor"] for k, v in ab["prices"].items()} == {"USD": 12000, "EUR": 11000}
    assert (ab["name"], ab["tax_rate_bp"], ab["unit"]) == ("Consulting hour", 2000, "hour")
    assert crm.json("product", "show", "CD-2")["prices"] == {"GBP": {"amount": "1200.50", "minor": 120050}}
    # again: every SKU is a duplicate; skipped by default, or updated with the new prices
    again = crm.json("import", "products", str(path), "--currency", "GBP")
    assert (again["created"], again["skipped"]) == (0, 3)
    changed = _csv(tmp_path, "sku,name,price_usd,price_chf\nab-1,Consulting hour,130,5\nCD-2,Licence,,\n",
                   "changed.csv")
    updated = crm.json("import", "products", str(changed), "--on-duplicate", "update")
    assert (updated["created"], updated["updated"], updated["unchanged"]) == (0, 1, 1)
    ab = crm.json("product", "show", "AB-1")
    assert {k: v["minor"] for k, v in ab["prices"].items()} == {"USD": 13000, "EUR": 11000, "CHF": 500}
    assert ab["version"] == 2


def test_an_import_with_a_bad_row_imports_nothing(crm, tmp_path, db_url):
    path = _csv(tmp_path, "sku,name,price,currency\nAB-1,Hour,120,USD\nCD-2,Licence,-5,USD\nEF-3,,1,USD\n"
                          "GH-4,Box,5,XYZ\n")
    crm.ok("product", "list")
    before = row_counts(db_url)
    result = crm.fails("import", "products", str(path), code=2)
    assert "3 of 4 rows of products.csv are invalid, so nothing was imported" in result.stderr
    assert "must not be negative" in result.stdout and "XYZ" in result.stdout
    assert row_counts(db_url) == before
    refused = crm.fails("import", "products", str(path), "--on-duplicate", "create")
    assert "a SKU names one product" in refused.stderr


def test_export_products_imports_back_as_the_same_catalog(crm, tmp_path, db_url):
    crm.ok("product", "add", "AB-1", "Consulting hour", "--price", "120USD", "--price", "110 EUR", "--unit", "hour",
           "--tax", "20%")
    crm.ok("product", "add", "CD-2", "Licence", "--description", "Per seat", "--price", "1000 JPY")
    text = crm.ok("export", "products").stdout
    lines = text.splitlines()
    assert lines == ["sku,name,unit,tax,description,price.EUR,price.JPY,price.USD",
                     "AB-1,Consulting hour,hour,20%,,110.00,,120.00",
                     "CD-2,Licence,unit,0%,Per seat,,1000,"]
    as_json = json.loads(crm.ok("export", "products", "--format", "json").stdout)
    assert [p["sku"] for p in as_json] == ["AB-1", "CD-2"] and as_json[0]["price.USD"] == "120.00"
    path = _csv(tmp_path, text, "exported.csv")
    # into the same database every row is a duplicate, and nothing changes
    report = crm.json("import", "products", str(path), "--on-duplicate", "update")
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, 2)
    # into an empty catalog: the same products and prices
    crm.ok("product", "edit", "AB-1", "--sku", "OLD-1")
    crm.ok("product", "edit", "CD-2", "--sku", "OLD-2")
    report = crm.json("import", "products", str(path))
    assert report["created"] == 2
    ab = crm.json("product", "show", "AB-1")
    assert ({k: v["minor"] for k, v in ab["prices"].items()}, ab["tax_rate_bp"], ab["unit"]) == \
        ({"EUR": 11000, "USD": 12000}, 2000, "hour")
    assert crm.json("product", "show", "CD-2")["description"] == "Per seat"
