"""`crm contact` and `crm company`: add, list, show, edit, archive and tag, end to end."""

from __future__ import annotations


def test_contact_add_list_show_edit(crm):
    crm.ok("company", "add", "Acme", "--domain", "acme.com")
    added = crm.json("contact", "add", "--first", "Ann", "--last", "Lee", "--email", "ann@example.com",
                     "--company", "acme.com", "--tag", "vip", "--field", "shoe=42")
    assert added["full_name"] == "Ann Lee" and added["company_name"] == "Acme"
    assert added["tags"] == ["vip"] and added["custom"] == {"shoe": "42"}

    table = crm.ok("contact", "list").stdout
    assert "Ann Lee" in table and "Acme" in table and "1 in all" in table

    shown = crm.ok("contact", "show", "ann@example.com").stdout
    assert "ann@example.com" in shown and "vip" in shown

    edited = crm.json("contact", "edit", str(added["id"]), "--title", "CTO", "--lifecycle", "customer",
                      "--version", str(added["version"]))
    assert edited["title"] == "CTO" and edited["lifecycle"] == "customer"
    assert edited["version"] == added["version"] + 1
    assert crm.json("contact", "show", "ann@example.com")["title"] == "CTO"


def test_contact_edit_with_a_stale_version_is_a_conflict(crm):
    added = crm.json("contact", "add", "--first", "Bob", "--email", "bob@example.com")
    crm.ok("contact", "edit", "bob@example.com", "--title", "CEO")
    result = crm.fails("contact", "edit", "bob@example.com", "--title", "CFO", "--version", str(added["version"]),
                       code=3)
    assert "version" in result.stderr
    assert crm.json("contact", "show", "bob@example.com")["title"] == "CEO"


def test_contact_list_pages_filters_and_counts(crm):
    for first in ("Ann", "Bob", "Cleo"):
        crm.ok("contact", "add", "--first", first, "--last", "Lee", "--email", f"{first.lower()}@example.com")
    crm.ok("contact", "tag", "cleo@example.com", "vip", "hot")

    first_page = crm.json("contact", "list", "--limit", "2")
    assert [c["full_name"] for c in first_page["items"]] == ["Ann Lee", "Bob Lee"]
    assert first_page["total"] == 3 and first_page["next_cursor"]
    rest = crm.json("contact", "list", "--limit", "2", "--after", first_page["next_cursor"])
    assert [c["full_name"] for c in rest["items"]] == ["Cleo Lee"] and rest["next_cursor"] is None

    table = crm.ok("contact", "list", "--limit", "2").stdout
    assert f"--after {first_page['next_cursor']}" in table

    assert [c["full_name"] for c in crm.json("contact", "list", "--tag", "vip")["items"]] == ["Cleo Lee"]
    assert [c["full_name"] for c in crm.json("contact", "list", "--search", "bob")["items"]] == ["Bob Lee"]
    by_created = crm.json("contact", "list", "--sort", "created")["items"]
    assert [c["full_name"] for c in by_created][0] == "Cleo Lee"


def test_contact_tag_archive_and_unarchive(crm):
    added = crm.json("contact", "add", "--first", "Dee", "--email", "dee@example.com", "--tag", "cold")
    crm.ok("contact", "tag", "dee@example.com", "warm", "--remove", "cold")
    assert crm.json("contact", "show", str(added["id"]))["tags"] == ["warm"]

    crm.ok("contact", "archive", "dee@example.com")
    assert crm.json("contact", "list")["total"] == 0
    assert crm.json("contact", "list", "--archived")["total"] == 1
    crm.ok("contact", "unarchive", "dee@example.com")
    assert crm.json("contact", "list")["total"] == 1


def test_company_add_list_show_edit_archive(crm):
    company = crm.json("company", "add", "Globex", "--domain", "https://www.globex.com/", "--industry", "Energy")
    assert company["domain"] == "globex.com"
    crm.ok("contact", "add", "--first", "Hank", "--email", "hank@globex.com", "--company", "Globex")

    assert "Globex" in crm.ok("company", "list").stdout
    shown = crm.json("company", "show", "globex.com")
    assert shown["name"] == "Globex" and [c["full_name"] for c in shown["contacts"]] == ["Hank"]
    assert "Hank" in crm.ok("company", "show", "Globex").stdout

    edited = crm.json("company", "edit", "Globex", "--name", "Globex Corp", "--version", str(company["version"]))
    assert edited["name"] == "Globex Corp"
    assert crm.json("contact", "show", "hank@globex.com")["company_name"] == "Globex Corp"

    crm.ok("company", "archive", "Globex Corp")
    assert crm.json("company", "list")["items"] == []
    assert [c["name"] for c in crm.json("company", "list", "--archived")["items"]] == ["Globex Corp"]


def test_contact_profile_flags(crm):
    """Issue 20: --address, --birthday, --social and --description on add and edit."""
    added = crm.json("contact", "add", "--first", "Ada", "--address", "12 Main St, Springfield",
                     "--birthday", "1985-12-10", "--social", "linkedin.com/in/ada", "--social",
                     "https://github.com/ada", "--description", "Met at PyCon.")
    assert (added["address"], added["birthday"]) == ("12 Main St, Springfield", "1985-12-10")
    assert added["social_urls"] == ["https://linkedin.com/in/ada", "https://github.com/ada"]
    shown = crm.ok("contact", "show", str(added["id"])).stdout
    assert "1985-12-10" in shown and "Met at PyCon." in shown and "github.com/ada" in shown
    edited = crm.json("contact", "edit", str(added["id"]), "--birthday", "", "--social", "", "--address", "1 Elm St")
    assert (edited["birthday"], edited["social_urls"], edited["address"]) == (None, [], "1 Elm St")
    result = crm.fails("contact", "edit", str(added["id"]), "--birthday", "someday")
    assert "invalid birthday 'someday'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert crm.json("contact", "show", str(added["id"]))["address"] == "1 Elm St"
