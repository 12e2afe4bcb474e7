"""`crm workflows`: init, list, validate, check (a dry run), run (for cron), log and outbox."""

from __future__ import annotations

import os
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
    assert "crm workflows init" in crm.ok("workflows", "list").stdout
    crm.ok("workflows", "init")
    crm.fails("workflows", "init", code=2)  # never overwrites without --force
    assert len(crm.json("workflows", "list")["rules"]) == 8
    refused = crm("workflows", "validate")  # the example needs a sales team and a manager
    assert refused.exit_code == 2 and "rule 'new-lead': assign_owner: no active user has the role 'sales'" in \
        refused.stderr
    crm.ok("user", "add", "bob", "--role", "sales")
    crm.ok("user", "add", "mia", "--role", "manager")
    assert "8 rules, all valid" in crm.ok("workflows", "validate").stdout

    _rules_file().write_text(RULES + BROKEN, encoding="utf-8")
    checked = crm("workflows", "check")
    assert checked.exit_code == 0
    assert "call-new-leads: contact #1 'Lee Ng' — created at" in checked.stdout
    assert "→ create task 'Call Lee Ng' for ann" in checked.stdout
    assert "workflows.toml line 9, rule 'broken': unknown trigger 'deal_rotting'" in checked.stderr
    assert crm.json("task", "list", "--status", "all")["items"] == []  # a dry run writes nothing

    ran = crm("workflows", "run")
    assert ran.exit_code == 1  # the broken rule is reported, and cron hears about it...
    assert "fired 1, failed 0" in ran.stdout  # ...but the good rule ran
    assert [t["title"] for t in crm.json("task", "list", "--status", "all")["items"]] == ["Call Lee Ng"]
    assert "fired 0" in crm("workflows", "run").stdout  # once per occurrence

    [firing] = crm.json("workflows", "log")["items"]
    assert (firing["rule"], firing["entity"], firing["status"]) == ("call-new-leads", "contact", "done")
    assert firing["actions"][0].startswith("task #1 'Call Lee Ng' for ann")
    result = crm("workflows", "validate")
    assert result.exit_code == 2 and "unknown trigger 'deal_rotting'" in result.stderr
    assert crm.json("workflows", "outbox") == []
