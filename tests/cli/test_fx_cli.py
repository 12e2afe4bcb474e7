"""`crm fx` (set, import, list, remove) and `crm report ... --convert` and the new reports as CSV and
JSON, through typer's CliRunner on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.cli.conftest import row_counts
from tests.unit.test_reports_fx import build_sales

Q4 = ("--from", "2026-10-01", "--to", "2026-12-31")


def test_set_list_remove(crm):
    assert "1 EUR = 1.08 USD from 2026-11-01" in crm.ok("fx", "set", "EUR", "USD", "1.08", "--date", "2026-11-01").stdout
    crm.ok("fx", "set", "eur", "usd", "1.1", "--date", "2026-12-01")
    crm.ok("fx", "set", "USD", "JPY", "150.25", "--date", "2026-01-01")
    page = crm.json("fx", "list", "--pair", "EUR/USD")
    assert [(r["valid_from"], r["rate"], r["rate_e9"]) for r in page["items"]] == [
        ("2026-12-01", "1.1", 1_100_000_000), ("2026-11-01", "1.08", 1_080_000_000)]
    first = crm.json("fx", "list", "--limit", "1")
    assert len(first["items"]) == 1 and first["next_cursor"]
    table = crm.ok("fx", "list").stdout
    assert "USD/JPY" in table and "150.25" in table
    changed = crm.json("fx", "set", "EUR", "USD", "1.09", "--date", "2026-11-01", "--version", "1")
    assert (changed["rate"], changed["version"]) == ("1.09", 2)
    crm.fails("fx", "set", "EUR", "USD", "1.07", "--date", "2026-11-01", "--version", "1")  # stale
    assert "removed rate" in crm.ok("fx", "remove", "EUR", "USD", "--date", "2026-11-01").stdout
    crm.ok("fx", "remove", str(page["items"][0]["id"]))
    assert [r["pair"] if "pair" in r else r["base"] for r in crm.json("fx", "list")["items"]] == ["USD"]


def test_bad_input_is_one_line_and_writes_nothing(crm, db_url, tmp_path):
    crm.ok("fx", "list")  # the first user exists
    before = row_counts(db_url)
    crm.fails("fx", "set", "EUR", "USD", "0", "--date", "2026-11-01")
    crm.fails("fx", "set", "EUR", "USD", "abc")
    crm.fails("fx", "set", "EUR", "EUR", "1")
    crm.fails("fx", "set", "EUR", "XYZ", "1.1")
    crm.fails("fx", "set", "EUR", "USD", "1.1", "--date", "the 45th")
    crm.fails("fx", "list", "--pair", "EURUSD")
    crm.fails("fx", "remove", "EUR", "USD")
    crm.fails("fx", "remove", "EUR", "USD", "--date", "2026-11-01")
    crm.fails("fx", "remove", "999")
    bad = tmp_path / "rates.csv"
    bad.write_text("base,quote,rate,date\nEUR,USD,1.08,2026-11-01\nEUR,USD,1,2,3\nEUR,USD,x,2026-11-03\n")
    result = crm.fails("fx", "import", str(bad))
    assert "row 4: invalid rate 'x'" in result.stderr
    crm.fails("fx", "import", str(tmp_path / "missing.csv"))
    (tmp_path / "latin1.csv").write_bytes("EUR,USD,1.08,2026-11-01 \xe9\n".encode("latin-1"))
    crm.fails("fx", "import", str(tmp_path / "latin1.csv"))
    assert row_counts(db_url) == before


def test_import_with_dry_run(crm, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("EUR,USD,1.08,2026-11-01\nEUR,USD,1.10,2026-12-01\nGBP,USD,1.27,2026-11-01\n")
    assert "Dry run, nothing written: 3 rates (3 new" in crm.ok("fx", "import", str(path), "--dry-run").stdout
    assert crm.json("fx", "list")["items"] == []
    done = crm.json("fx", "import", str(path))
    assert (done["created"], done["updated"], done["unchanged"]) == (3, 0, 0)
    assert len(crm.json("fx", "list")["items"]) == 3


@pytest.fixture
def sales(db, actor, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    return build_sales(db, actor, now)


def test_reports_convert_and_new_reports(crm, sales):
    plain = json.loads(crm.ok("report", "pipeline", *Q4, "-f", "json").stdout)
    converted = json.loads(crm.ok("report", "pipeline", *Q4, "--convert", "-f", "json").stdout)
    assert not plain["converted"] and converted["converted"]
    stage = {r["stage"]: r["amount_minor"] for r in converted["tables"][0]["rows"]}
    # Delta, 1,200.00 EUR and open, converts at today's rate (the CLI's clock is the real one)
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("America/New_York")).date()
    assert stage["Negotiation"] == (1800_00 if today >= date(2026, 12, 1) else 1296_00 if today >= date(2026, 11, 1)
                                    else 0)
    assert json.loads(crm.ok("report", "pipeline", *Q4, "--per-currency", "-f", "json").stdout) == plain
    out = crm.ok("report", "revenue-by-product", *Q4, "--format", "csv").stdout
    assert list(csv.reader(io.StringIO(out))) == [["product", "deals", "quantity", "revenue", "share"],
                                                  ["A-1 · Widget", "3", "5", "5000.00", "62.7"],
                                                  ["B-2 · Gadget", "2", "2", "2972.00", "37.3"]]
    quotes = json.loads(crm.ok("report", "quotes", *Q4, "-f", "json").stdout)["tables"][0]["rows"][0]
    assert (quotes["created"], quotes["accepted"], quotes["acceptance"], quotes["days_to_accept"]) == (5, 2, 50.0, 3.0)
    table = crm.ok("report", "discounts", *Q4).stdout
    assert "11.0%" in table and "Zeta (GBP)" in table
    seller = crm.ok("report", "revenue-by-product-seller", *Q4, "-f", "csv").stdout.splitlines()
    assert seller[0] == "seller,product,deals,quantity,revenue" and seller[-1] == "bob,A-1 · Widget,1,1,1000.00"
