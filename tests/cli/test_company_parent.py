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


def test_import_reads_the_parent_company(crm, tmp_path):
    crm.ok("company", "add", "Initech Group")
    path = tmp_path / "accounts.csv"
    path.write_text("Account Name,Website,Parent Account\n"
                    "Initech Austin,initech-austin.com,Initech Group\n"
                    "Globex Lyon,globex-lyon.fr,Globex Holdings\n"
                    "Globex Holdings,globex.com,\n", encoding="utf-8")
    crm.ok("import", "companies", str(path))
    austin = crm.json("company", "show", "Initech Austin")
    assert austin["parent_name"] == "Initech Group"
    lyon = crm.json("company", "show", "Globex Lyon")
    assert lyon["parent_name"] == "Globex Holdings"
    names = [c["name"] for c in crm.json("company", "list", "--limit", "50")["items"]]
    assert sorted(names) == ["Globex Holdings", "Globex Lyon", "Initech Austin", "Initech Group"]


@pytest.mark.parametrize(("keep", "merged", "expected_parent"), [
    ("Globex Holdings", "Globex France", None),  # the parent absorbs a subsidiary
    ("Globex France", "Globex Holdings", None),  # a subsidiary absorbs its parent: no parent of its own
    ("Globex Lyon", "Globex France", "Globex Holdings"),  # takes its parent's place in the group
])
def test_a_merge_moves_the_subsidiaries_and_never_makes_a_cycle(crm, keep, merged, expected_parent):
    crm.ok("company", "add", "Globex Holdings")
    crm.ok("company", "add", "Globex France", "--parent", "Globex Holdings")
    crm.ok("company", "add", "Globex Lyon", "--parent", "Globex France")
    ids = {c["name"]: c["id"] for c in crm.json("company", "list")["items"]}
    crm.ok("company", "merge", str(ids[keep]), str(ids[merged]), "--yes") if "--yes" in crm(
        "company", "merge", "--help").stdout else crm.ok("company", "merge", str(ids[keep]), str(ids[merged]))
    survivor = crm.json("company", "show", str(ids[keep]))
    assert survivor["parent_name"] == expected_parent
    for name, id_ in ids.items():
        if name not in (keep, merged):
            other = crm.json("company", "show", str(id_))
            assert other["parent_id"] in (None, ids[keep], ids.get("Globex Holdings"))
            assert other["parent_id"] != ids[merged]
