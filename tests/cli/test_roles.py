"""Roles through the CLI: each role's refusals as one line, `crm role list|grant|revoke|reset` (issue 8)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import row_counts

ROLES = {"ann": "admin", "mia": "manager", "sam": "sales", "max": "marketing", "sue": "support"}


@pytest.fixture
def team(crm):
    for login, role in list(ROLES.items())[1:]:
        crm.ok("user", "add", login, "--role", role)
    deal = crm.json("deal", "add", "Mia's deal", "--owner", "mia")
    company = crm.json("company", "add", "Acme")  # ann's
    return {"deal": deal["id"], "company": company["id"]}


# (the command, the logins it is allowed for)
CASES = [
    (("contact", "add", "--first", "Eve"), {"ann", "mia", "sam", "max", "sue"}),
    (("deal", "edit", "{deal}", "--title", "Bigger"), {"ann", "mia"}),
    (("pipeline", "add", "Renewals"), {"ann"}),
    (("report", "sources"), {"ann", "mia", "sam", "max"}),
    (("contact", "add", "--first", "Eve", "--owner", "mia"), {"ann", "mia", "sam", "max"}),
    (("company", "edit", "{company}", "--owner", "sam"), {"ann", "mia"}),
    (("export", "companies"), {"ann", "mia", "max"}),
]


def test_each_role_through_the_cli(crm, team, db_url):
    runs = [(tuple(a.format(**team) for a in args), login, login in allowed)
            for args, allowed in CASES for login in ROLES]
    before = row_counts(db_url)
    for args, login, _ in [r for r in runs if not r[2]]:  # refused: one line naming the role, nothing written
        assert "that needs the" in crm.fails(*args, user=login, code=4).stderr
    assert row_counts(db_url) == before
    for args, login, _ in [r for r in runs if r[2]]:
        crm.ok(*args, user=login)


def test_role_commands(crm):
    crm.ok("user", "add", "sue", "--role", "support")
    refused = crm.fails("deal", "add", "Renewal", user="sue", code=4)
    assert refused.stderr.strip() == (
        "error: sue (support) may not add, edit, move, win, lose and archive deals: "
        "that needs the admin or manager role")
    assert crm.ok("role", "grant", "support", "deal.edit", "--own").stdout.strip() == "support deal.edit: own"
    crm.ok("deal", "add", "Renewal", user="sue")
    listed = {r["action"]: r for r in crm.json("role", "list")["items"]}
    assert listed["deal.edit"]["scopes"]["support"] == "own" and listed["deal.edit"]["changed"] == ["support"]
    assert "own*" in crm.ok("role", "list").stdout
    assert crm.json("role", "revoke", "support", "contact.edit")["scope"] == "none"
    crm.fails("contact", "add", "--first", "Eve", user="sue", code=4)
    assert crm.ok("role", "reset").stdout.strip() == "every role back to the defaults (2 changes undone)"
    crm.ok("contact", "add", "--first", "Eve", user="sue")
    crm.fails("role", "grant", "admin", "deal.edit", code=2)
    crm.fails("role", "grant", "sales", "nope", code=2)


def test_unknown_user_gets_the_command_to_run_and_no_app(crm):
    crm.ok("contact", "list")
    result = crm.fails(user="zed", code=4)  # `crm` alone starts the app: refused before it starts
    assert "ask an admin (ann) to run `crm user add zed" in result.stderr
