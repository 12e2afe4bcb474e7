"""`crm report cases|case-times|sla|csat|nps`: the service reports' numbers as table, CSV and JSON, on both
databases, with the permission of the one who runs them (data: tests/unit/test_service_reports.py)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.unit.test_service_reports import build

NOV = ("--from", "2026-11-01", "--to", "2026-11-30")


@pytest.fixture
def data(db, actor, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    return build(db, now)


def test_cases_by_week_as_csv_and_the_listing(crm, data):
    out = crm.ok("report", "cases", *NOV, "--grain", "week", "--format", "csv").stdout
    assert list(csv.reader(io.StringIO(out))) == [
        ["period", "opened", "resolved", "closed", "backlog"],
        ["2026-10-26", "1", "1", "0", "3"], ["2026-11-02", "2", "3", "1", "2"], ["2026-11-09", "2", "0", "0", "4"],
        ["2026-11-16", "2", "1", "2", "4"], ["2026-11-23", "1", "0", "0", "5"], ["2026-11-30", "0", "0", "0", "5"],
    ]
    listed = {item["name"]: item["title"] for item in crm.json("report", "list")["items"]}
    assert listed["sla"] == "SLA hit rate" and listed["nps"] == "Net Promoter Score (NPS)"


def test_times_as_json_and_table(crm, data):
    doc = json.loads(crm.ok("report", "case-times", *NOV, "-f", "json").stdout)
    assert (doc["report"], doc["time_zone"], doc["period"]["from"]) == ("case-times", "America/New_York", "2026-11-01")
    first = doc["tables"][0]["rows"][0]
    assert (first["name"], first["first_median"], first["first_p90"], first["resolution_median"],
            first["resolution_p90"]) == ("All cases", 30, 120, 300, 2880)
    table = crm.ok("report", "case-times", *NOV).stdout
    assert "Response and resolution times · 2026-11-01 – 2026-11-30 · everyone · America/New_York" in table
    assert "USD" not in table
    assert re.search(r"\b2d\b", table) and re.search(r"\b5h\b", table)  # p90 2880 minutes, median 300 (words.span)
    bob = json.loads(crm.ok("report", "case-times", *NOV, "--owner", "bob", "-f", "json").stdout)
    assert bob["owner"] == "bob" and bob["tables"][0]["rows"][0]["cases"] == 3


def test_csat_nps_and_sla_tables(crm, data):
    csat = json.loads(crm.ok("report", "csat", *NOV, "-f", "json").stdout)["tables"][0]["rows"]
    assert [(r["name"], r["responses"], r["average"]) for r in csat] == [
        ("All answers", 4, 3.25), ("bob", 2, 4.0), ("cat", 2, 2.5), ("Tier 1", 2, 4.0), ("Tier 2", 2, 2.5)]
    nps = crm.ok("report", "nps", *NOV, "--grain", "week", "-f", "csv").stdout.splitlines()
    assert nps[0] == "period,responses,promoters,passives,detractors,promoters_pct,detractors_pct,nps"
    assert nps[2] == "2026-11-02,2,2,0,0,100.0,0.0,100.0"
    # the SLA's first responses decided by a due time before the real clock's now (December or later)
    teams = crm.ok("report", "sla", *NOV, "--table", "teams", "-f", "csv").stdout.splitlines()
    assert teams[0].startswith("name,cases,first_met,first_missed") and teams[1].startswith("Tier 1,3,2,1,")
    table = crm.ok("report", "sla", *NOV, "--grain", "week").stdout
    assert "SLA hit rate per week" in table and "SLA hit rate per team" in table


def test_who_may_run_them(crm, data):
    seller = json.loads(crm.ok("report", "csat", *NOV, "-f", "json", user="sam").stdout)
    # the CSATs of c5 (Acme, sam's company) and c9 (Cleo, sam's contact), as sam's case list shows them
    assert seller["tables"][0]["rows"][0]["responses"] == 2
    support = json.loads(crm.ok("report", "cases", *NOV, "-f", "json", user="dee").stdout)
    assert support["tables"][0]["total"]["opened"] == 8
    refused = crm.fails("report", "nps", *NOV, user="mia")
    assert "may not see support cases" in refused.stderr
    crm.fails("report", "pipeline", user="dee")
    crm.fails("report", "cases", *NOV, "--grain", "hour", code=2)
