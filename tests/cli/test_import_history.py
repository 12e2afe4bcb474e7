"""`crm import deals` keeps a deal's history (issue 17 #9): the opening and stage dates a file
gives feed days to win, the pipeline funnel and the stale report; and values are rewritten on
the way in with --value / --values (issue 17 #22). On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli.conftest import row_counts

YEAR = ("--from", "2025-01-01", "--to", "2025-12-31")

HISTORY = """\
    Opportunity Name,Deal Value,Stage,Created,Close Date,Stage entered
    Acme renewal,1000,Won,2025-01-10,2025-03-01,
    Globex pilot,2000,Proposal,2025-02-01,,2025-04-01
    Initech trial,500,Qualified,2025-03-15,,
    Hooli bid,700,Lost,2025-02-10,2025-05-01,
    """


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def table(crm, name: str, *args: str) -> list[dict]:
    return json.loads(crm.ok("report", name, *args, "-f", "json").stdout)["tables"][0]["rows"]


def test_imported_history_feeds_days_to_win_the_funnel_and_the_stale_report(crm, tmp_path):
    report = crm.json("import", "deals", str(write(tmp_path, "deals.csv", HISTORY)))
    assert report["created"] == 4
    assert {m["column"]: m["field"] for m in report["mapping"]}["Created"] == "opened_at"
    overall = table(crm, "win-rate", *YEAR)[0]
    assert (overall["won"], overall["lost"], overall["avg_days"]) == (1, 1, 50.0)  # 10 January to 1 March
    # added in 2025 by their opening: the won deal reached every stage, the open ones theirs and
    # those before, the lost one (no stage log) the first
    reached = [(r["stage"], r["reached"]) for r in table(crm, "pipeline", *YEAR)]
    assert reached == [("New", 4), ("Qualified", 3), ("Proposal", 2), ("Negotiation", 1)]
    for stage in ("Qualified", "Proposal"):
        crm.ok("pipeline", "edit-stage", stage, "--rotting-days", "30")
    stale = {r["deal"] for r in table(crm, "stale")}
    # in Proposal since the file's stage date; in Qualified since its opening (no stage date)
    assert stale == {"Globex pilot", "Initech trial"}


@pytest.mark.parametrize(("row", "problem"), [
    ("Bad,10,Won,2025-05-01,2025-03-01,", "closed 2025-03-01, before the deal was opened (2025-05-01, Created)"),
    ("Bad,10,Proposal,2025-05-01,,2025-04-01",
     "entered its stage 2025-04-01, before the deal was opened (2025-05-01, Created)"),
    ("Bad,10,New,2099-01-01,,", "opened 2099-01-01, which is in the future"),
    ("Bad,10,New,,,2099-01-01", "entered its stage 2099-01-01, which is in the future"),
])
def test_a_deal_closed_before_it_opened_is_a_bad_row(crm, tmp_path, db_url, row, problem):
    path = write(tmp_path, "deals.csv", HISTORY.splitlines()[0] + "\n" + row + "\n")
    dry = crm.json("import", "deals", str(path), "--dry-run")
    assert [p["message"] for p in dry["problems"]] == [problem]
    before = row_counts(db_url)
    crm.fails("import", "deals", str(path), code=2)
    assert row_counts(db_url) == before


def test_values_are_rewritten_before_they_are_read(crm, tmp_path, db_url):
    deals = write(tmp_path, "deals.csv", """\
        Deal name,Value,Stage,Product
        Acme,100,Signed Contract,Widget-Pro
        Globex,200,New, widget-pro 
        Initech,300,N/A,Gadget
        """)
    values = write(tmp_path, "values.csv", """\
        field,from,to
        stage,signed contract,Won
        Stage,n/a,
        """)
    report = crm.json("import", "deals", str(deals), "--custom", "--value", "product:Widget-Pro=Widget Pro",
                      "--values", str(values))
    assert report["created"] == 3 and report["invalid"] == 0
    assert report["values"] == [{"field": "custom.Product", "from": "Widget-Pro", "to": "Widget Pro"},
                                {"field": "stage", "from": "signed contract", "to": "Won"},
                                {"field": "stage", "from": "n/a", "to": ""}]
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT d.title, s.name, d.custom FROM deals d JOIN stages s "
                                        "ON s.id = d.stage_id ORDER BY d.title")).all()
    finally:
        engine.dispose()
    custom = [c if isinstance(c, dict) else json.loads(c) for _, _, c in rows]
    assert [(t, s) for t, s, _ in rows] == [("Acme", "Won"), ("Globex", "New"), ("Initech", "New")]
    assert [c["Product"] for c in custom] == ["Widget Pro", "Widget Pro", "Gadget"]
    shown = crm.ok("import", "deals", str(deals), "--custom", "--dry-run", "--value", "stage:N/A=New").stdout
    assert "rewrite" in shown and "stage: N/A" in shown and "stage: New" in shown


@pytest.mark.parametrize(("args", "message"), [
    (["--value", "stage=Won"], "--value 'stage=Won': write it as FIELD:FROM=TO"),
    (["--value", "colour:red=blue"], "--value colour:red=blue: deals have no field 'colour'"),
    (["--value", "stage:=Won"], "--value stage:=Won: name the value to rewrite"),
    (["--value", "stage:a=B", "--value", "Stage:A=C"], "--value Stage:A=C: stage 'A' is already rewritten to 'B'"),
    (["--values", "missing.csv"], "no file 'missing.csv'"),
])
def test_bad_rewrites_get_one_line(crm, tmp_path, args, message):
    deals = write(tmp_path, "deals.csv", "Deal name,Stage\nAcme,New\n")
    result = crm.fails("import", "deals", str(deals), *args, code=2)
    assert message in result.stderr


def test_a_values_file_without_its_columns_is_refused(crm, tmp_path):
    deals = write(tmp_path, "deals.csv", "Deal name,Stage\nAcme,New\n")
    values = write(tmp_path, "values.csv", "from,to\nx,y\n")
    result = crm.fails("import", "deals", str(deals), "--values", str(values), code=2)
    assert "--values values.csv: the file needs the columns field, from, to" in result.stderr
