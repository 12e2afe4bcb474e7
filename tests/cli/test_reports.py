"""`crm report` and `crm goal`: the same numbers as the service, as CSV and JSON, on both databases."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.unit.test_reports import build_dataset

Q4 = ("--from", "2026-10-01", "--to", "2026-12-31")


@pytest.fixture
def data(db, actor, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    return build_dataset(db, actor, now)


def test_report_csv_and_json(crm, data):
    out = crm.ok("report", "forecast", *Q4, "--format", "csv").stdout
    assert list(csv.reader(io.StringIO(out))) == [
        ["month", "open", "amount", "weighted", "won_deals", "won"],
        ["2026-10-01", "1", "333.33", "166.67", "1", "5000.00"],  # Orion: won Oct 31 in New York
        ["2026-11-01", "1", "1000.00", "100.00", "1", "1234.56"],
        ["2026-12-01", "1", "2500.50", "1250.25", "0", "0.00"],
    ]
    doc = json.loads(crm.ok("report", "win-rate", *Q4, "--owner", "bob", "--format", "json").stdout)
    assert (doc["report"], doc["time_zone"], doc["owner"], doc["period"]["from"], doc["period"]["to"]) == (
        "win-rate", "America/New_York", "bob", "2026-10-01", "2026-12-31")
    rows = doc["tables"][0]["rows"]
    assert rows[0] == {"group": "overall", "name": "All deals", "won": 0, "lost": 2, "win_rate": 0.0,
                       "avg_days": None, "median_days": None}
    lost = json.loads(crm.ok("report", "lost-reasons", *Q4, "-f", "json").stdout)["tables"][0]
    assert lost["total"] == {"reason": "Total", "deals": 3, "amount_minor": 104999, "share": 100.0}
    weekly = crm.ok("report", "activity", *Q4, "--table", "weekly", "-f", "csv").stdout.splitlines()
    assert weekly[0] == "week,user,calls,emails,meetings,notes,total" and weekly[1] == "2026-09-28,ann,0,1,0,0,1"
    table = crm.ok("report", "sources", *Q4).stdout
    assert "Sources · 2026-10-01 – 2026-12-31 · everyone · USD · America/New_York" in table
    assert "email campaign" in table and "40.0%" in table


def test_goals_and_mistakes(crm, data):
    assert "added" not in crm.ok("goal", "set", "bob", "750.50", "--period", "2026-12").stdout
    goals = crm.json("goal", "list", "--user", "bob")["items"]
    assert [(g["period_kind"], g["period_start"], g["amount_minor"]) for g in goals] == [
        ("quarter", "2026-10-01", 100000), ("month", "2026-11-01", 50000), ("month", "2026-12-01", 75050)]
    revenue = json.loads(crm.ok("report", "revenue", *Q4, "--owner", "bob", "-f", "json").stdout)
    assert [(r["period"], r["goal_minor"]) for r in revenue["tables"][0]["rows"]] == [
        ("2026-11-01", 50000), ("2026-12-01", 75050)]
    names = [item["name"] for item in crm.json("report", "list")["items"]]
    assert names == ["pipeline", "forecast", "win-rate", "revenue", "activity", "sources", "stale", "lost-reasons",
                     "revenue-by-product", "revenue-by-product-seller", "quotes", "discounts", "cases", "case-times",
                     "sla", "csat", "nps"]
    crm.fails("report", "forecast", "--format", "xml", code=2)
    crm.fails("report", "forecast", "--period", "fortnight", code=2)
    crm.fails("report", "forecast", "--from", "2026-12-01", "--to", "2026-11-01", code=2)
    crm.fails("report", "forecast", "--owner", "nobody-here")
    crm.fails("goal", "set", "bob", "lots", "--period", "2026-12", code=2)
    crm.fails("goal", "set", "bob", "5", "--period", "2026-13", code=2)


def test_report_by_team(crm, data):
    crm.ok("user", "edit", "ann", "--team", "EMEA")
    crm.ok("user", "edit", "bob", "--team", "Americas")
    doc = json.loads(crm.ok("report", "revenue", *Q4, "--grain", "quarter", "--by", "team", "--format", "json").stdout)
    assert doc["by"] == "team"
    assert [(r["team"], r["won_minor"], r["goal_minor"]) for r in doc["tables"][0]["rows"]] == [
        ("Americas", 0, 100000), ("EMEA", 623456, 600000)]
    out = crm.ok("report", "win-rate", *Q4, "--by", "team").stdout
    assert "by team" in out and "Americas" in out and "EMEA" in out
    assert "report stale cannot group by team" in crm.fails("report", "stale", "--by", "team").stderr
