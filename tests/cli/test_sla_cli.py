"""`crm sla`: policies, business hours, holidays (and an .ics import) and the scan, through the CLI,
on SQLite and PostgreSQL: --json where it lists, one error line for bad input, nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crm_tui.db import open_database
from crm_tui.services import cases, users
from tests.cli.conftest import row_counts

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1
SUMMARY:New Year's Day
DTSTART;VALUE=DATE:20200101
RRULE:FREQ=YEARLY
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:Standup
DTSTART:20270104T090000Z
END:VEVENT
END:VCALENDAR
"""


def test_hours_policies_and_holidays(crm, tmp_path):
    crm.ok("init")
    out = crm.ok("sla", "hours", "set", "--days", "mon-fri", "--from", "9:00", "--to", "17:00",
                 "--zone", "Europe/Berlin").stdout
    assert "business hours of Business hours (Europe/Berlin): mon 09:00-17:00" in out and "sat closed" in out
    cal = crm.json("sla", "hours", "set", "--days", "fri", "--from", "9", "--to", "12", "--from", "13", "--to", "15")
    assert cal["hours"]["fri"] == [["09:00", "12:00"], ["13:00", "15:00"]] and cal["timezone"] == "Europe/Berlin"
    shown = crm.ok("sla", "hours", "show").stdout
    assert "Friday" in shown and "09:00-12:00, 13:00-15:00" in shown and "closed" in shown

    added = crm.json("sla", "policy", "add", "Standard", "-t", "urgent=30m/4h", "-t", "normal=4h/3d", "-t", "low=/5d")
    assert added["default"] and added["targets"]["normal"] == {"first": 240, "resolve": 1440}
    assert added["targets"]["low"] == {"first": None, "resolve": 2400} and added["calendar"] == "Business hours"
    crm.ok("sla", "policy", "add", "Gold", "-t", "urgent=15m/2h")
    listed = crm.json("sla", "policy", "list")["items"]
    assert [(p["name"], p["default"]) for p in listed] == [("Gold", False), ("Standard", True)]
    table = crm.ok("sla", "policy", "list").stdout
    assert "30m / 4h" in table and "- / 5d" in table
    crm.ok("sla", "policy", "default", "gold")
    assert crm.json("sla", "policy", "show", "Gold")["default"] is True
    edited = crm.json("sla", "policy", "edit", "Standard", "-t", "high=1h/1d", "--name", "Silver")
    assert edited["name"] == "Silver" and edited["targets"]["high"] == {"first": 60, "resolve": 480}
    assert "first response 1h, resolution 1d" in crm.ok("sla", "policy", "show", "silver").stdout

    assert crm.ok("sla", "holiday", "add", "2026-12-24", "Christmas Eve").stdout.strip() == \
        "added holiday 2026-12-24 Christmas Eve"
    ics = tmp_path / "holidays.ics"
    ics.write_text(ICS)
    result = crm.json("sla", "holiday", "import", str(ics), "--years", "2026-2027")
    assert [h["day"] for h in result["added"]] == ["2026-01-01", "2027-01-01"]
    assert result["skipped"] == ["Standup: not an all-day event"]
    assert [h["day"] for h in crm.json("sla", "holiday", "list", "--year", "2026")["items"]] == [
        "2026-01-01", "2026-12-24"]
    crm.ok("sla", "holiday", "remove", "2026-12-24")
    assert "2026-12-24" not in crm.ok("sla", "holiday", "list").stdout


def test_bad_input_is_one_line_and_writes_nothing(crm, db_url, tmp_path):
    crm.ok("init")
    crm.ok("sla", "policy", "add", "Standard", "-t", "urgent=30m/4h")
    before = row_counts(db_url)
    crm.fails("sla", "policy", "add", "Other", "-t", "urgent=soon")
    crm.fails("sla", "policy", "add", "Other", "-t", "critical=1h")
    crm.fails("sla", "policy", "add", "standard")  # a name taken in another case
    crm.fails("sla", "policy", "show", "Nope")
    crm.fails("sla", "policy", "edit", "Standard", "--name", "X", "--version", "99")
    crm.fails("sla", "hours", "set", "--days", "funday", "--from", "9", "--to", "17")
    crm.fails("sla", "hours", "set", "--days", "mon", "--from", "9", "--to", "17", "--zone", "Mars/Base")
    crm.fails("sla", "hours", "set", "--days", "mon", "--from", "9")
    crm.fails("sla", "holiday", "remove", "2026-05-01")
    crm.fails("sla", "holiday", "import", str(tmp_path / "missing.ics"))
    (tmp_path / "bad.ics").write_text("hello")
    crm.fails("sla", "holiday", "import", str(tmp_path / "bad.ics"))
    crm.fails("sla", "scan", "--within", "soon")
    assert row_counts(db_url) == before


def test_only_sla_admins_change_them(crm, db_url):
    crm.ok("init")
    crm.ok("user", "add", "sue", "--role", "support")
    crm.fails("sla", "policy", "add", "Standard", "-t", "urgent=1h/4h", user="sue")
    crm.ok("sla", "policy", "add", "Standard", "-t", "urgent=1h/4h")
    assert [p["name"] for p in crm.json("sla", "policy", "list", user="sue")["items"]] == ["Standard"]


def test_scan_lists_breached_and_soon_due_cases(crm, db_url):
    crm.ok("init")
    crm.ok("sla", "hours", "set", "--days", "all", "--from", "0:00", "--to", "24:00", "--zone", "UTC")
    crm.ok("sla", "policy", "add", "Standard", "-t", "urgent=30m/4h", "-t", "normal=2h/1d")
    assert "nothing due" in crm.ok("sla", "scan").stdout
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = open_database(db_url)
    try:
        with db.write() as s:
            actor = users.actor_for(s, login="ann", now=now)
            late = cases.create_case(s, actor=actor, subject="Down since yesterday", priority="urgent",
                                     now=now - timedelta(hours=1)).id
            soon = cases.create_case(s, actor=actor, subject="Slow pages", now=now - timedelta(minutes=100)).id
    finally:
        db.dispose()
    found = crm.json("sla", "scan")["items"]
    assert [(r["case_id"], r["target"], r["breached"]) for r in found] == [(late, "first", True)]
    found = crm.json("sla", "scan", "--within", "30m")["items"]
    assert [(r["case_id"], r["breached"]) for r in found] == [(late, True), (soon, False)]
    table = crm.ok("sla", "scan", "--within", "1h").stdout
    assert "BREACHED" in table and "due soon" in table and f"#{soon}" in table
    assert [r["case_id"] for r in crm.json("sla", "scan", "--at", "+1d")["items"]] == [late, soon]
