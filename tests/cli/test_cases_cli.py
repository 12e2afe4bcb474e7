"""`crm case` (issue 23): open, list by queue, queues, show with its thread, reply (queued in the
outbox, threaded, [#id] in the subject), note, assign, status, resolve, close, reopen, priority,
link, merge, each with --json; one-line errors that write nothing; sales may read its accounts' cases only."""

from __future__ import annotations

import sqlalchemy as sa

from crm_tui.cli.main import app
from tests.cli.conftest import row_counts


def _people(crm) -> None:
    crm.ok("company", "add", "Acme")
    crm.ok("contact", "add", "--first", "Ada", "--last", "Lovelace", "--email", "ada@acme.com", "--company", "Acme")
    crm.ok("contact", "add", "--first", "Bob", "--last", "Stone", "--email", "bob@globex.com")
    crm.ok("user", "edit", "ann", "--email", "ann@team.example", "--name", "Ann Admin")
    crm.ok("user", "add", "sue", "--role", "support", "--team", "Support")
    crm.ok("user", "add", "sam", "--role", "sales")


def _outbox(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT subject, to_addrs, in_reply_to, body FROM email_outbox")).all()
    finally:
        engine.dispose()


def test_a_case_from_opening_to_closing(crm, db_url):
    _people(crm)
    made = crm.json("case", "add", "Printer on fire", "--contact", "ada@acme.com", "--priority", "high",
                    "--category", "hardware", "--channel", "email", "--description", "Smoke")
    assert (made["status"], made["priority"], made["names"]["company"], made["version"]) == ("new", "high", "Acme", 1)
    number = str(made["id"])
    assert "opened case #" in crm.ok("case", "add", "Invoice wrong", "--contact", "bob@globex.com").stdout

    listed = crm.json("case", "list")
    assert [i["subject"] for i in listed["items"]] == ["Invoice wrong", "Printer on fire"] and listed["total"] == 2
    assert [i["subject"] for i in crm.json("case", "list", "--search", "lovelace")["items"]] == ["Printer on fire"]
    assert "no cases in the mine queue" in crm.ok("case", "list", "--queue", "mine").stdout
    assert crm.json("case", "list", "--since", "-1d")["total"] == 2
    assert crm.json("case", "list", "--since", "tomorrow")["total"] == 0
    assert "can't read 'whenever' as a date" in crm.fails("case", "list", "--since", "whenever").stderr

    noted = crm.json("case", "note", f"#{number}", "They called twice")
    assert noted["case_id"] == made["id"]
    replied = crm.json("case", "reply", number, "--body", "Pull the plug.")
    assert replied["state"].startswith("queued: email is off")
    [(subject, to, in_reply_to, body)] = _outbox(db_url)
    assert (subject, body, in_reply_to) == (f"Re: Printer on fire [#{number}]", "Pull the plug.", None)
    assert "ada@acme.com" in str(to)

    shown = crm.json("case", "show", number)
    assert [(e["visibility"], e["body"]) for e in shown["entries"]] == [
        ("internal", "They called twice"), ("public", "Pull the plug.")]
    assert shown["first_response_at"] and shown["status"] == "open"
    text = crm.ok("case", "show", number).stdout
    assert "Printer on fire" in text and "(note)" in text and "(to the customer)" in text and "Smoke" in text

    assigned = crm.json("case", "assign", number, "sue", "--team", "support")
    assert (assigned["names"]["assignee"], assigned["team"]) == ("sue", "Support")
    assert [i["id"] for i in crm.json("case", "list", "--queue", "team", "--team", "Support")["items"]] == [made["id"]]
    assert [i["id"] for i in crm.json("case", "list", "--queue", "mine", user="sue")["items"]] == [made["id"]]
    counts = crm.json("case", "queues", user="sue")
    assert (counts["mine"], counts["open"], counts["team:Support"]) == (1, 2, 1)

    assert crm.json("case", "priority", number, "urgent")["priority"] == "urgent"
    assert crm.json("case", "status", number, "waiting")["status"] == "waiting"
    version = crm.json("case", "show", number)["version"]
    resolved = crm.json("case", "resolve", number, "--version", str(version))
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    crm.fails("case", "close", number, "--version", str(version), code=3)  # stale: a conflict
    assert crm.json("case", "close", number)["closed_at"]
    assert crm.json("case", "reopen", number)["status"] == "open"
    crm.fails("case", "reopen", number)


def test_link_and_merge(crm):
    _people(crm)
    crm.ok("deal", "add", "Acme renewal", "--amount", "5000", "--contact", "ada@acme.com")
    deal_id = crm.json("deal", "list")["items"][0]["id"]
    a = crm.json("case", "add", "Printer on fire", "--contact", "ada@acme.com")["id"]
    b = crm.json("case", "add", "Printer still on fire", "--contact", "ada@acme.com")["id"]
    crm.ok("case", "note", str(b), "from the duplicate")
    linked = crm.json("case", "link", str(a), "--deal", str(deal_id))
    assert (linked["deal_id"], linked["names"]["deal"]) == (deal_id, "Acme renewal")
    assert "merged case" in crm.ok("case", "merge", str(a), str(b), "--yes").stdout
    assert crm.json("case", "show", str(b))["merged_into_id"] == a
    assert [e["body"] for e in crm.json("case", "show", str(a))["entries"]] == ["from the duplicate"]
    c = crm.json("case", "add", "Third", "--contact", "ada@acme.com")["id"]
    refused = crm.runner.invoke(app, ["--db", crm.db_url, "--user", "ann", "case", "merge", str(a), str(c)], input="n\n")
    assert refused.exit_code != 0 and "merge #" in refused.output  # it asks first; no is no
    assert crm.json("case", "show", str(c))["merged_into_id"] is None


def test_bad_input_and_refusals_are_one_line_and_write_nothing(crm, db_url):
    _people(crm)
    number = str(crm.json("case", "add", "Printer on fire", "--contact", "ada@acme.com")["id"])
    other = str(crm.json("case", "add", "Bob's", "--contact", "bob@globex.com")["id"])
    crm.ok("contact", "edit", "ada@acme.com", "--owner", "sam")
    before = row_counts(db_url)
    for args, message in [
        (("case", "add", "x", "--priority", "huge"), "invalid priority 'huge'"),
        (("case", "add", "x", "--channel", "fax"), "invalid channel 'fax'"),
        (("case", "add", "x", "--contact", "nobody@x.com"), "no contact"),
        (("case", "add", "  "), "subject is required"),
        (("case", "show", "abc"), "not a case number"),
        (("case", "show", "999"), "no case with id 999"),
        (("case", "status", number, "done"), "invalid status 'done'"),
        (("case", "reply", number), "give --body, --body-file or --template"),
        (("case", "assign", number), "give a teammate, --unassign or --team"),
        (("case", "link", number, "--deal", "abc"), "give the deal's id"),
        (("case", "merge", number, number, "--yes"), "with itself"),
        (("case", "list", "--queue", "later"), "no queue 'later'"),
    ]:
        result = crm.fails(*args)
        assert message in result.stderr, (args, result.stderr)
    # sales reads its accounts' cases, and changes none
    assert crm.json("case", "show", number, user="sam")["id"] == int(number)
    assert crm.fails("case", "show", other, user="sam").stderr.startswith("error: sam (sales) may not see")
    assert [i["id"] for i in crm.json("case", "list", user="sam")["items"]] == [int(number)]
    assert "may not add, reply to" in crm.fails("case", "note", number, "hi", user="sam").stderr
    assert row_counts(db_url) == before
