"""`crm` refuses duplicates on create (--allow-duplicate insists), lists the candidates of an
ambiguous reference, and names companies by one rule (--create-company adds an unknown one):
issue 17 #3 and #4."""

from __future__ import annotations

from tests.cli.conftest import row_counts


def test_contact_add_with_a_taken_email_is_refused_naming_the_contact(crm, db_url):
    ann = crm.json("contact", "add", "--first", "Ann", "--last", "Lee", "--email", "ann@example.com")
    before = row_counts(db_url)
    result = crm.fails("contact", "add", "--first", "Anne", "--email", "ANN@example.com", code=2)
    assert result.stderr.strip() == (f"error: a contact with ann@example.com already exists: #{ann['id']} Ann Lee "
                                     f"(crm contact show {ann['id']}); add --allow-duplicate to add another")
    assert row_counts(db_url) == before
    anne = crm.json("contact", "add", "--first", "Anne", "--email", "ann@example.com", "--allow-duplicate")
    # now the email names two people: a reference by it is an error listing both, never a pick
    result = crm.fails("deal", "add", "Renewal", "--contact", "ann@example.com")
    assert result.stderr.strip() == (f"error: 'ann@example.com' matches several contacts: Ann Lee (#{ann['id']}), "
                                     f"Anne (#{anne['id']}); give the id")
    crm.ok("deal", "add", "Renewal", "--contact", str(anne["id"]))


def test_company_add_twice_is_refused_by_domain_and_by_name(crm, db_url):
    globex = crm.json("company", "add", "Globex", "--domain", "globex.com")
    before = row_counts(db_url)
    result = crm.fails("company", "add", "Globex", "--domain", "globex.com")
    assert result.stderr.strip() == (f"error: a company with the domain globex.com already exists: #{globex['id']} "
                                     f"Globex (crm company show {globex['id']}); add --allow-duplicate to add another")
    result = crm.fails("company", "add", "GLOBEX, Inc.")
    assert f"a company with the name 'Globex' already exists: #{globex['id']} Globex" in result.stderr
    assert row_counts(db_url) == before
    other = crm.json("company", "add", "Globex", "--domain", "globex.com", "--allow-duplicate")
    result = crm.fails("contact", "add", "--first", "Bo", "--company", "Globex")
    assert result.stderr.strip() == (f"error: 'Globex' matches several companies: Globex (#{globex['id']}), "
                                     f"Globex (#{other['id']}); give the id")
    assert crm.json("contact", "add", "--first", "Bo", "--company", str(other["id"]))["company_id"] == other["id"]


def test_a_company_is_named_by_one_rule_and_added_only_when_asked(crm, db_url):
    acme = crm.json("company", "add", "Acme", "--domain", "acme.com")
    for spelling in ("Acme Inc.", "ACME, Inc.", "acme.com"):
        made = crm.json("contact", "add", "--first", spelling, "--company", spelling)
        assert made["company_id"] == acme["id"], spelling
    before = row_counts(db_url)
    result = crm.fails("contact", "add", "--first", "Cy", "--company", "Globexx")
    assert result.stderr.strip() == ("error: no company 'Globexx': add --create-company to add it, "
                                     "or add it first with `crm company add 'Globexx'`")
    crm.fails("deal", "add", "Big one", "--company", "Globexx")
    assert row_counts(db_url) == before
    cy = crm.json("contact", "add", "--first", "Cy", "--company", "Globexx", "--create-company")
    assert cy["company_id"] == crm.json("company", "show", "Globexx")["id"]
    deal = crm.json("deal", "add", "Big one", "--company", "Initech", "--create-company")
    crm.fails("deal", "edit", str(deal["id"]), "--company", "Umbrella")
    edited = crm.json("deal", "edit", str(deal["id"]), "--company", "Umbrella", "--create-company")
    assert edited["company_name"] == "Umbrella"
    crm.fails("contact", "edit", str(cy["id"]), "--company", "Hooli")
    edited = crm.json("contact", "edit", str(cy["id"]), "--company", "Hooli", "--create-company")
    assert edited["company_name"] == "Hooli"
    # --create-company never adds a second company for a name that exists
    edited = crm.json("contact", "edit", str(cy["id"]), "--company", "ACME Corp", "--create-company")
    assert edited["company_id"] == acme["id"]
    names = sorted(c["name"] for c in crm.json("company", "list")["items"])
    assert names == ["Acme", "Globexx", "Hooli", "Initech", "Umbrella"]
