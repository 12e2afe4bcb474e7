"""Phones on the command line (issue 17 #5, #6): the configured default country stores E.164 for
`contact add|edit` and import alike, and `crm contact|company not-dupe` marks a pair as not one,
which `dupes` then leaves out (`--dismissed` lists them, `--undo` brings one back)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import row_counts


def _config(text: str) -> None:
    folder = Path(os.environ["CRM_CONFIG_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")


def test_contact_add_and_edit_store_e164_in_the_configured_country(crm):
    _config('phone_country = "US"\n')
    made = crm.json("contact", "add", "--first", "Ann", "--phone", "(404) 555-0199")
    assert made["phones"] == ["+14045550199"]
    edited = crm.json("contact", "edit", str(made["id"]), "--phone", "404.555.0100", "--phone", "+44 20 7946 0958")
    assert edited["phones"] == ["+14045550100", "+442079460958"]
    # a number that is not a whole number there is kept as typed, not refused
    assert crm.json("contact", "add", "--first", "Bob", "--phone", "555-0100")["phones"] == ["555-0100"]


def test_without_a_country_a_national_number_is_kept_as_typed_and_the_environment_can_say(crm):
    assert crm.json("contact", "add", "--first", "Ann", "--phone", "(404) 555-0199")["phones"] == ["(404) 555-0199"]
    made = crm.json("contact", "add", "--first", "Bob", "--phone", "(404) 555-0100", env={"CRM_PHONE_COUNTRY": "us"})
    assert made["phones"] == ["+14045550100"]


def test_import_reads_phones_in_the_configured_country_unless_country_says(crm, tmp_path):
    _config('phone_country = "US"\n')
    path = tmp_path / "people.csv"
    path.write_text("Name,Phone\nAnn Lee,(404) 555-0199\n", encoding="utf-8")
    crm.ok("import", "contacts", str(path))
    path.write_text("Name,Phone\nBob Roe,020 7946 0958\n", encoding="utf-8")
    crm.ok("import", "contacts", str(path), "--country", "GB")
    found = {c["full_name"]: c["phone"] for c in crm.json("contact", "list")["items"]}
    assert found == {"Ann Lee": "+14045550199", "Bob Roe": "+442079460958"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("config", "message"), [
    ('phone_country = "USA"\n', "phone_country in the config file 'USA': use a two-letter country code"),
    ("phone_country = 1\n", "phone_country in the config file must be a two-letter country code"),
])
def test_a_bad_phone_country_is_one_line(crm, config, message):
    _config(config)
    assert message in crm.fails("contact", "list", code=2).stderr


def test_not_dupe_leaves_a_pair_out_until_undone(crm, db_url):
    a = crm.json("contact", "add", "--first", "Ann", "--last", "Lee", "--phone", "+14045550199")["id"]
    b = crm.json("contact", "add", "--first", "Anne", "--last", "Lee", "--phone", "+14045550199")["id"]
    assert [(p["a_id"], p["b_id"]) for p in crm.json("contact", "dupes")["pairs"]] == [(a, b)]
    out = crm.ok("contact", "not-dupe", str(b), str(a)).stdout
    assert f"contact #{a} 'Ann Lee' and #{b} 'Anne Lee' are not duplicates" in out
    assert crm.json("contact", "dupes")["pairs"] == []
    assert "no likely duplicate contacts" in crm.ok("contact", "dupes").stdout
    assert "already marked" in crm.ok("contact", "not-dupe", str(a), str(b)).stdout
    listed = crm.json("contact", "dupes", "--dismissed")["dismissed"]
    assert [(d["a_id"], d["b_id"], d["by"]) for d in listed] == [(a, b, "ann")]
    assert "Anne Lee" in crm.ok("contact", "dupes", "--dismissed").stdout
    crm.ok("contact", "not-dupe", str(a), str(b), "--undo")
    assert [(p["a_id"], p["b_id"]) for p in crm.json("contact", "dupes")["pairs"]] == [(a, b)]
    before = row_counts(db_url)
    assert "were not marked as not duplicates" in crm.fails("contact", "not-dupe", str(a), str(b), "--undo").stderr
    assert "one record" in crm.fails("contact", "not-dupe", str(a), str(a), code=2).stderr
    assert "no contact" in crm.fails("contact", "not-dupe", str(a), "nobody@example.com").stderr
    assert row_counts(db_url) == before


def test_company_not_dupe(crm):
    crm.ok("company", "add", "Acme Inc")
    crm.ok("company", "add", "ACME, Inc.", *(["--allow-duplicate"] if _allows_duplicate(crm) else []))
    [pair] = crm.json("company", "dupes")["pairs"]
    crm.ok("company", "not-dupe", str(pair["a_id"]), str(pair["b_id"]))
    assert crm.json("company", "dupes")["pairs"] == []
    assert len(crm.json("company", "dupes", "--dismissed")["dismissed"]) == 1


def _allows_duplicate(crm) -> bool:
    """Issue 17 #3 may refuse a second company of the same normalised name without --allow-duplicate."""
    return "--allow-duplicate" in crm("company", "add", "--help").output


def test_normalize_phones_dry_run_then_for_real(crm):
    made = crm.json("contact", "add", "--first", "Ann", "--phone", "(404) 555-0199")
    assert made["phones"] == ["(404) 555-0199"]
    out = crm.ok("contact", "normalize-phones").stdout
    assert "changed 0 contacts (no default country" in out
    dry = crm.json("contact", "normalize-phones", "--country", "US", "--dry-run")
    assert dry["contacts"] == [{"id": made["id"], "old": ["(404) 555-0199"], "new": ["+14045550199"]}]
    assert crm.json("contact", "show", str(made["id"]))["phones"] == ["(404) 555-0199"]
    _config('phone_country = "US"\n')
    assert "changed 1 contacts" in crm.ok("contact", "normalize-phones").stdout
    assert crm.json("contact", "show", str(made["id"]))["phones"] == ["+14045550199"]
    assert "--country 'XX'" in crm.fails("contact", "normalize-phones", "--country", "XX", code=2).stderr
