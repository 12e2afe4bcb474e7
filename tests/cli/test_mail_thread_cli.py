"""`crm mail thread`: an email's conversation from an activity id, an email id or a Message-ID,
oldest first, bounded by --limit with a cursor to the older messages, and only the messages the
actor may see (issue 21). SQLite and PostgreSQL (the `crm` fixture's db_url)."""

from __future__ import annotations

from datetime import timedelta

from crm_tui.cli.main import app

from tests.cli.conftest import row_counts
from tests.unit import mail_samples as s

ROOT = "<t1@example.com>"


def _ingest(crm, tmp_path, *messages: bytes, user: str = "ann") -> None:
    names = []
    for i, raw in enumerate(messages):
        path = tmp_path / f"{user}-{len(list(tmp_path.iterdir()))}-{i}.eml"
        path.write_bytes(raw)
        names.append(str(path))
    result = crm.runner.invoke(app, ["--db", crm.db_url, "--user", user, "mail", "ingest", *names])
    assert result.exit_code == 0, result.output


def _conversation(crm, tmp_path) -> None:
    """Ada writes, Ann answers, Ada answers again; Ann copies in Zoe (no contact) once; an unrelated
    mail from Ada is another thread."""
    crm.ok("contact", "add", "--first", "Ada", "--email", "ada@example.com")
    when = s.WHEN
    _ingest(crm, tmp_path,
            s.plain(subject="Pricing", body="What does it cost?\n", message_id=ROOT, when=when),
            s.plain(sender="Ann <ann@ourco.com>", to="ada@example.com", subject="Re: Pricing",
                    body="Ten a seat.\n", message_id="<t2@ourco.com>", when=when + timedelta(hours=1),
                    in_reply_to=ROOT, references=ROOT),
            s.plain(subject="Re: Pricing", body="Deal. Send the contract.\n", message_id="<t3@example.com>",
                    when=when + timedelta(hours=2), in_reply_to="<t2@ourco.com>",
                    references=f"{ROOT} <t2@ourco.com>"),
            s.plain(subject="Lunch?", body="Free on Friday?\n", message_id="<other@example.com>",
                    when=when + timedelta(hours=3)))
    # Ann's own mail to Zoe, in the same thread but on no timeline: Ann's alone to see
    _ingest(crm, tmp_path,
            s.plain(sender="Ann <ann@ourco.com>", to="zoe@newco.com", subject="Fwd: Pricing",
                    body="Zoe, can legal look?\n", message_id="<t4@ourco.com>", when=when + timedelta(hours=4),
                    in_reply_to="<t3@example.com>", references=f"{ROOT} <t2@ourco.com> <t3@example.com>"))


def _activity_of(crm, subject_body: str) -> int:
    recent = crm.json("contact", "show", "ada@example.com")["recent_activities"]
    return next(a["id"] for a in recent if a["body"] and subject_body in a["body"])


def test_a_thread_from_an_activity_an_email_id_or_a_message_id_oldest_first(crm, tmp_path):
    _conversation(crm, tmp_path)
    first = _activity_of(crm, "What does it cost?")
    thread = crm.json("mail", "thread", str(first))
    bodies = [m["body"].strip() for m in thread["items"]]
    assert bodies == ["What does it cost?", "Ten a seat.", "Deal. Send the contract.", "Zoe, can legal look?"]
    assert [m["from_addr"] for m in thread["items"]][:2] == ["ada@example.com", "ann@ourco.com"]
    assert thread["items"][1]["to_addrs"] == ["ada@example.com"]
    assert thread["items"][0]["subject"] == "Pricing" and thread["older_cursor"] is None

    # the same thread from any of its messages, by email id or by Message-ID
    last_email = thread["items"][2]["email_id"]
    assert crm.json("mail", "thread", f"email:{last_email}")["items"] == thread["items"]
    assert crm.json("mail", "thread", "<t2@ourco.com>")["items"] == thread["items"]

    text = crm.ok("mail", "thread", str(first)).stdout
    assert text.index("What does it cost?") < text.index("Ten a seat.") < text.index("Deal. Send the contract.")
    assert "From:    ada@example.com" in text and "To:      ada@example.com" in text
    assert "Subject: Re: Pricing" in text and "Lunch?" not in text


def test_a_thread_is_bounded_and_the_older_messages_come_by_cursor(crm, tmp_path):
    _conversation(crm, tmp_path)
    first = _activity_of(crm, "What does it cost?")
    latest = crm.json("mail", "thread", str(first), "--limit", "2")
    assert [m["body"].strip() for m in latest["items"]] == ["Deal. Send the contract.", "Zoe, can legal look?"]
    assert latest["older_cursor"]
    older = crm.json("mail", "thread", str(first), "--limit", "2", "--before", latest["older_cursor"])
    assert [m["body"].strip() for m in older["items"]] == ["What does it cost?", "Ten a seat."]
    assert older["older_cursor"] is None and older["newer_cursor"]
    text = crm.ok("mail", "thread", str(first), "--limit", "2").stdout
    assert f"older messages: repeat with --before {latest['older_cursor']}" in text


def test_only_the_messages_the_actor_may_see(crm, tmp_path):
    _conversation(crm, tmp_path)
    crm.ok("user", "add", "bob", "--name", "Bob", "--role", "sales")
    first = _activity_of(crm, "What does it cost?")
    seen = crm.json("mail", "thread", str(first), user="bob")
    # Ann's mail to Zoe matched no contact: on no timeline, so only Ann (whose mailbox it came from) sees it
    assert [m["body"].strip() for m in seen["items"]] == ["What does it cost?", "Ten a seat.",
                                                          "Deal. Send the contract."]
    assert "Zoe" not in crm.ok("mail", "thread", str(first), user="bob").stdout
    # asked for by its own Message-ID, it is not found, in the same words as a message that does not exist
    hidden = crm.fails("mail", "thread", "<t4@ourco.com>", user="bob")
    assert "no email with id" in hidden.stderr
    assert crm.json("mail", "thread", "<t4@ourco.com>")["items"][-1]["body"].strip() == "Zoe, can legal look?"


def test_what_names_no_thread_is_one_line_and_writes_nothing(crm, db_url, tmp_path):
    _conversation(crm, tmp_path)
    note = crm.json("log", "note", "--contact", "ada@example.com", "--subject", "called")["activity"]
    before = row_counts(db_url)
    assert "not a stored email" in crm.fails("mail", "thread", str(note["id"]), code=2).stderr
    assert "no activity with id 99999" in crm.fails("mail", "thread", "99999").stderr
    assert "no email with id 99999" in crm.fails("mail", "thread", "email:99999").stderr
    assert "no stored email with Message-ID" in crm.fails("mail", "thread", "<nope@example.com>").stderr
    assert "names no email" in crm.fails("mail", "thread", "pricing").stderr
    crm.fails("mail", "thread", str(2**40))
    crm.fails("mail", "thread", "1", "--before", "garbage")
    crm.fails("mail", "thread", "1", "--limit", "0")
    assert row_counts(db_url) == before
