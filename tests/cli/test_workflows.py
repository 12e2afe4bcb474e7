"""`crm workflows`: init, list, validate, check (a dry run), run (for cron), log and outbox."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

RULES = """
[[rule]]
name = "call-new-leads"
trigger = { type = "lead_created" }
actions = [ { type = "create_task", title = "Call {contact.name}", due = "+1d", assignee = "user:ann" } ]
"""
BROKEN = """
[[rule]]
name = "broken"
trigger = { type = "deal_rotting" }
actions = [ { type = "notify", title = "x" } ]
"""


def _rules_file() -> Path:
    return Path(os.environ["CRM_CONFIG_DIR"]) / "workflows.toml"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_workflow_commands_from_init_to_the_run_log(crm):
    crm.ok("contact", "add", "--first", "Lee", "--last", "Ng", "--email", "lee@example.com")
    assert "crm workflows publish" in crm.ok("workflows", "list").stdout  # nothing published yet
    crm.ok("workflows", "init")
    crm.fails("workflows", "init", code=2)  # never overwrites without --force
    draft = str(_rules_file())
    assert len(crm.json("workflows", "list", "--file", draft)["rules"]) == 11
    refused = crm("workflows", "validate")  # the example needs a sales team and a manager
    assert refused.exit_code == 2 and "rule 'new-lead': assign_owner: no active user has the role 'sales'" in \
        refused.stderr
    refused = crm("workflows", "publish")  # and is not published while it is not valid here
    assert refused.exit_code == 2 and "not published: " in refused.stderr and "(and " in refused.stderr
    crm.ok("user", "add", "bob", "--role", "sales")
    crm.ok("user", "add", "mia", "--role", "manager")
    assert "11 rules, all valid" in crm.ok("workflows", "validate").stdout

    _rules_file().write_text(RULES + BROKEN, encoding="utf-8")
    checked = crm("workflows", "check", "--file", draft)
    assert checked.exit_code == 0
    assert "call-new-leads: contact #1 'Lee Ng' — created at" in checked.stdout
    assert "→ create task 'Call Lee Ng' for ann" in checked.stdout
    assert "workflows.toml line 9, rule 'broken': unknown trigger 'deal_rotting'" in checked.stderr
    assert crm.json("task", "list", "--status", "all")["items"] == []  # a dry run writes nothing

    refused = crm("workflows", "publish")
    assert refused.exit_code == 2
    assert "not published: workflows.toml line 9, rule 'broken': unknown trigger 'deal_rotting'" in refused.stderr
    assert crm.json("workflows", "list")["rules"] == []
    assert "no rules are published yet" in crm.ok("workflows", "run").stdout  # a draft does not run

    ran = crm("workflows", "run", "--file", draft)  # an admin may run a draft directly
    assert ran.exit_code == 1  # the broken rule is reported, and cron hears about it...
    assert "fired 1, failed 0" in ran.stdout  # ...but the good rule ran
    assert [t["title"] for t in crm.json("task", "list", "--status", "all")["items"]] == ["Call Lee Ng"]

    _rules_file().write_text(RULES, encoding="utf-8")
    assert "published 1 rules from " in crm.ok("workflows", "publish").stdout
    assert "nothing to publish" in crm.ok("workflows", "publish").stdout  # the same text again
    listed = crm.json("workflows", "list")
    assert [r["name"] for r in listed["rules"]] == ["call-new-leads"] and listed["published"]["by"] == "ann"
    assert "fired 0" in crm.ok("workflows", "run", user="bob").stdout  # once per occurrence, whoever runs it

    [firing] = crm.json("workflows", "log")["items"]
    assert (firing["rule"], firing["entity"], firing["status"]) == ("call-new-leads", "contact", "done")
    assert firing["actions"][0].startswith("task #1 'Call Lee Ng' for ann")
    assert firing["runner"].startswith("ann@")  # the person who ran it, not just "cli"
    result = crm("workflows", "validate")
    assert result.exit_code == 0
    assert crm.json("workflows", "outbox") == []


GRAB = """
[[rule]]
name = "grab"
trigger = { type = "deal_stale", days = 0 }
actions = [ { type = "assign_owner", to = "user:bob" } ]
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_only_a_rules_admin_decides_what_the_engine_runs(crm, tmp_path):
    """Rules act as the system actor, which may do everything: a seller's own rules file would be a
    way round every role check. Publishing and running a file need workflow.admin; anyone signed in
    runs the published rules; a login that may not sign in runs nothing."""
    crm.ok("demo", "--contacts", "20")
    crm.ok("user", "add", "bob", "--role", "sales")
    crm.ok("user", "add", "zed", "--role", "support")
    crm.ok("user", "edit", "zed", "--inactive")
    evil = tmp_path / "grab.toml"
    evil.write_text(GRAB, encoding="utf-8")
    owners_before = {d["id"]: d["owner_login"] for d in crm.json("deal", "list", "--limit", "100")["items"]}

    for args in (("workflows", "run", "--file", str(evil)), ("workflows", "publish", "--file", str(evil))):
        refused = crm(*args, user="bob")
        assert refused.exit_code != 0 and "needs the admin role" in refused.stderr, args
    assert crm("workflows", "run", user="stranger").exit_code != 0  # not a user: told whom to ask
    assert "crm user add stranger" in crm("workflows", "run", user="stranger").stderr
    assert crm("workflows", "run", user="zed").exit_code != 0  # deactivated
    assert {d["id"]: d["owner_login"] for d in crm.json("deal", "list", "--limit", "100")["items"]} == owners_before
    assert crm.json("workflows", "log")["items"] == []

    # what the admin published, any teammate's run carries out, as the system actor
    crm.ok("workflows", "publish", "--file", str(evil))
    assert "fired " in crm.ok("workflows", "run", user="bob").stdout
    assert {d["owner_login"] for d in crm.json("deal", "list", "--status", "open", "--limit", "100")["items"]} == {"bob"}
    firings = crm.json("workflows", "log", "--limit", "100")["items"]
    # this test's OS or database login acts as bob: the log names both (issue 16)
    assert firings and all(re.match(r"^\S+ \(as bob\)@", f["runner"]) for f in firings)
    published = [e for e in crm.json("audit", "--since", "2000-01-01")["items"] if e["entity"] == "workflow_rules"]
    assert [(e["actor"], e["action"]) for e in published] == [("ann", "publish")]


def test_outbox_lists_queued_and_sent_emails(crm, db_url, now):
    """The outbox with emails in it (issue 17 #15: it read rows after their session closed)."""
    from crm_tui.db import open_database
    from crm_tui.models.workflow import EmailOutbox

    crm.ok("contact", "list")  # ann, the first user
    db = open_database(db_url)
    try:
        with db.write() as session:
            session.add(EmailOutbox(rule="welcome", to_addr="lee@example.com", subject="Hello Lee", body="Hi",
                                    created_at=now))
            session.add(EmailOutbox(rule="welcome", to_addr="kim@example.com", subject="Hello Kim", body="Hi",
                                    status="sent", attempts=1, created_at=now, sent_at=now))
    finally:
        db.dispose()
    table = crm.ok("workflows", "outbox").stdout
    assert "Hello Lee" in table and "Hello Kim" in table and "queued" in table
    listed = crm.json("workflows", "outbox")
    assert [(e["to"], e["status"], e["attempts"]) for e in listed] == [("kim@example.com", "sent", 1),
                                                                      ("lee@example.com", "queued", 0)]
    assert [e["subject"] for e in crm.json("workflows", "outbox", "--status", "sent")] == ["Hello Kim"]
