"""A company can have a parent company (issue 17 #23): set on add and edit, shown on the account,
refused when it would make a company its own ancestor."""

from __future__ import annotations

import pytest


def test_a_subsidiary_belongs_to_its_group(crm):
    crm.ok("company", "add", "Globex Holdings", "--domain", "globex.com")
    crm.ok("company", "add", "Globex France", "--parent", "Globex Holdings")
    crm.ok("company", "add", "Globex Lyon")
    crm.ok("company", "edit", "Globex Lyon", "--parent", "Globex France")
    lyon = crm.json("company", "show", "Globex Lyon")
    assert (lyon["parent_id"], lyon["parent_name"]) == (2, "Globex France")
    group = crm.json("company", "show", "globex.com")
    assert group["parent_id"] is None and group["subsidiaries"] == [{"id": 2, "name": "Globex France"}]
    shown = crm.ok("company", "show", "Globex France").stdout
    assert "Globex Holdings (#1)" in shown and "Globex Lyon (#3)" in shown


@pytest.mark.parametrize(("company", "parent"), [("Globex Holdings", "Globex Lyon"),  # a cycle through two
                                                 ("Globex France", "Globex France")])  # itself
def test_a_company_cannot_be_its_own_ancestor(crm, company, parent):
    crm.ok("company", "add", "Globex Holdings")
    crm.ok("company", "add", "Globex France", "--parent", "Globex Holdings")
    crm.ok("company", "add", "Globex Lyon", "--parent", "Globex France")
    refused = crm.fails("company", "edit", company, "--parent", parent)
    assert "its own subsidiaries" in refused.stderr


def test_a_parent_can_be_cleared_and_is_audited(crm):
    crm.ok("company", "add", "Globex Holdings")
    crm.ok("company", "add", "Globex France", "--parent", "Globex Holdings")
    crm.ok("company", "edit", "Globex France", "--parent", "")
    assert crm.json("company", "show", "Globex France")["parent_id"] is None
    changes = [(e["field"], e["old_value"], e["new_value"])
               for e in crm.json("audit", "--entity", "company", "--id", "2")["items"] if e["action"] == "update"]
    assert changes == [("parent_id", "1", None)]
