"""A contact's address, birthday, social profile URLs and description (issue 20): stored, read,
changed with the audit, and bad input refused with one line and nothing written."""

from __future__ import annotations

from datetime import date

import pytest

from crm_tui.errors import InvalidInput
from crm_tui.services import audit, contacts


def test_profile_fields_are_stored_and_changed(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={
            "first_name": "Ada", "address": " 12 St James's Square, London ", "birthday": "1985-12-10",
            "social_urls": ["linkedin.com/in/ada", "https://github.com/ada", "https://github.com/ada"],
            "description": "Met at the Analytical Society.\nWants the notes."}, actor=actor, now=now)
    assert (ada.address, ada.birthday) == ("12 St James's Square, London", date(1985, 12, 10))
    assert ada.social_urls == ["https://linkedin.com/in/ada", "https://github.com/ada"]
    assert ada.description == "Met at the Analytical Society.\nWants the notes."
    with db.write() as s:
        changed = contacts.update_contact(s, contact_id=ada.id, changes={"birthday": "", "social_urls": []},
                                          actor=actor, version=ada.version, now=now)
    assert (changed.birthday, changed.social_urls, changed.address) == (None, [], ada.address)
    with db.read() as s:
        fields = {e.field for e in audit.list_events(s, entity="contact", entity_id=ada.id).items
                  if e.action == "update"}
    assert {"birthday", "social_urls"} <= fields


@pytest.mark.parametrize(("data", "message"), [
    ({"birthday": "10/12/1815"}, "invalid birthday '10/12/1815': give it as YYYY-MM-DD"),
    ({"birthday": "2099-01-01"}, "birthday 2099-01-01 is in the future"),
    ({"social_urls": ["javascript:alert(1)"]}, "invalid profile URL 'javascript:alert(1)'"),
    ({"social_urls": ["not a url"]}, "invalid profile URL 'not a url'"),
    ({"address": "x" * 501}, "address is too long"),
])
def test_bad_profile_input_writes_nothing(db, actor, now, data, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        with db.write() as s:
            contacts.create_contact(s, data={"first_name": "Ada", **data}, actor=actor, now=now)
    with db.read() as s:
        assert contacts.count_contacts(s) == 0


def test_profile_columns_export_and_import_back(db, actor, now, tmp_path):
    from crm_tui.services import export
    from crm_tui.services.importing import ImportOptions, run_import

    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Ada", "emails": ["ada@example.com"], "address": "1 Elm St",
                                         "birthday": "1985-12-10", "social_urls": ["https://github.com/ada"],
                                         "description": "Likes engines."}, actor=actor, now=now)
    assert {"address", "birthday", "social", "description"} <= set(export.COLUMNS["contacts"])
    path = tmp_path / "people.csv"
    path.write_text("first_name,email,address,birthday,linkedin,about\n"
                    "Grace,grace@example.com,2 Oak Rd,1986-12-09,linkedin.com/in/grace,Writes compilers.\n")
    with db.write() as s:
        run_import(s, path=path, options=ImportOptions(entity="contacts"), actor=actor, now=now)
    with db.read() as s:
        grace = contacts.find_contact(s, "grace@example.com")
    assert (grace.address, grace.birthday, grace.social_urls, grace.description) == (
        "2 Oak Rd", date(1986, 12, 9), ["https://linkedin.com/in/grace"], "Writes compilers.")
