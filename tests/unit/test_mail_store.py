"""Storing mail: one row per Message-ID, one email activity per linked contact, idempotent,
set-based, audited; unmatched mail waits for Triage; threads by References and In-Reply-To."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm_tui.models import Activity, AuditEvent, Contact, EmailMessage
from crm_tui.services import contacts, mail_store
from crm_tui.services.mail_store import MailMessage


def _count(db, model, *where):
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _people(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada", "emails": ["ada@example.com"]}, actor=actor, now=now)
        bob = contacts.create_contact(s, data={"first_name": "Bob", "emails": ["Bob@Example.com", "b2@example.org"]},
                                      actor=actor, now=now)
    return ada, bob


def test_ids_and_threads_are_read_from_headers():
    assert mail_store.clean_message_id("  <abc@x.org> ") == "abc@x.org"
    assert mail_store.clean_message_id("abc@x.org") == "abc@x.org"
    assert mail_store.clean_message_id("") is None
    assert mail_store.message_ids("<a@x> <b@y>\r\n <c@z>") == ["a@x", "b@y", "c@z"]
    assert mail_store.thread_key("m@x", "p@x", ["root@x", "p@x"]) == "root@x"
    assert mail_store.thread_key("m@x", "p@x", []) == "p@x"
    assert mail_store.thread_key("m@x", None, []) == "m@x"
    one = mail_store.synthetic_message_id("Subject", "from@x", "2026-12-01")
    assert one == mail_store.synthetic_message_id("Subject", "from@x", "2026-12-01")
    assert one != mail_store.synthetic_message_id("Subject", "from@x", "2026-12-02")


def test_a_message_to_two_contacts_is_one_row_and_two_timeline_entries(db, actor, now):
    ada, bob = _people(db, actor, now)
    sent = now - timedelta(hours=2)
    msg = MailMessage(message_id="m1@example.com", sent_at=sent, subject="Proposal", from_addr="ann@ourco.test",
                      to_addrs=("ada@example.com",), cc_addrs=("BOB@example.com", "stranger@else.net"), body="Hi")
    with db.write() as s:
        stored = mail_store.store_messages(s, [msg], actor=actor, source="sync", ours=["ann@ourco.test"], now=now)
    assert stored.new == ["m1@example.com"] and stored.activities == 2 and stored.unmatched == []
    assert _count(db, EmailMessage) == 1
    with db.read() as s:
        rows = s.execute(select(Activity.contact_id, Activity.kind, Activity.direction, Activity.email_id)
                         .order_by(Activity.contact_id)).all()
        email = s.get(EmailMessage, stored.email_ids["m1@example.com"])
        assert s.get(Contact, ada.id).last_contacted_at == sent
        assert (email.direction, email.thread_key, email.source) == ("out", "m1@example.com", "sync")
        assert email.to_addrs == ["ada@example.com"] and email.cc_addrs == ["BOB@example.com", "stranger@else.net"]
    eid = stored.email_ids["m1@example.com"]
    assert rows == [(ada.id, "email", "outbound", eid), (bob.id, "email", "outbound", eid)]
    assert _count(db, AuditEvent, AuditEvent.entity == "activity", AuditEvent.action == "create") == 2

    # the same message again (the recipient's sync, or a re-run): nothing new
    with db.write() as s:
        again = mail_store.store_messages(s, [msg, msg], actor=actor, source="sync", now=now)
    assert again.new == [] and again.activities == 0
    assert (_count(db, EmailMessage), _count(db, Activity)) == (1, 2)


def test_mail_from_no_known_address_waits_for_triage(db, actor, now):
    _people(db, actor, now)
    msg = MailMessage(message_id="x@else.net", sent_at=now, subject="Hello", from_addr="who@else.net",
                      to_addrs=("ann@ourco.test",))
    with db.write() as s:
        stored = mail_store.store_messages(s, [msg], actor=actor, source="ingest", ours=["ann@ourco.test"], now=now)
        assert s.scalar(select(func.count()).select_from(Activity).where(Activity.email_id.is_not(None))) == 0
    assert stored.unmatched == ["x@else.net"] and stored.activities == 0
    with db.read() as s:
        assert s.scalar(select(EmailMessage.direction)) == "in"


def test_sending_from_a_record_links_the_given_contact_and_deal_and_threads_replies(db, actor, now):
    ada, _bob = _people(db, actor, now)
    first = MailMessage(message_id="root@ourco.test", sent_at=now - timedelta(days=1), subject="Quote",
                        from_addr="ann@ourco.test", to_addrs=("someone@else.net",), contact_ids=(ada.id,),
                        direction="outbound")
    reply = MailMessage(message_id="r1@else.net", sent_at=now, subject="Re: Quote", from_addr="ada@example.com",
                        to_addrs=("ann@ourco.test",), in_reply_to="root@ourco.test", references=("root@ourco.test",))
    with db.write() as s:
        mail_store.store_messages(s, [first], actor=actor, source="sent", now=now)
        stored = mail_store.store_messages(s, [reply], actor=actor, source="sync", ours=["ann@ourco.test"], now=now)
        thread = mail_store.thread(s, email_id=stored.email_ids["r1@else.net"])
        assert [m.message_id for m in thread] == ["root@ourco.test", "r1@else.net"]
    with db.read() as s:
        rows = s.execute(select(Activity.contact_id, Activity.direction).order_by(Activity.occurred_at)).all()
    assert rows == [(ada.id, "outbound"), (ada.id, "inbound")]


def test_a_batch_matches_addresses_in_a_bounded_number_of_queries(db, actor, now):
    from sqlalchemy import event

    _people(db, actor, now)
    batch = [MailMessage(message_id=f"b{i}@else.net", sent_at=now - timedelta(minutes=i), subject=f"n{i}",
                         from_addr="ada@example.com" if i % 2 else f"p{i}@else.net", to_addrs=("ann@ourco.test",))
             for i in range(120)]
    statements = []
    with db.write() as s:
        conn = s.connection()
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        stored = mail_store.store_messages(s, batch, actor=actor, source="sync", ours=["ann@ourco.test"], now=now)
    assert len(stored.new) == 120 and stored.activities == 60 and len(stored.unmatched) == 60
    # a fixed number of statements for the batch, not one (or more) per message
    assert len(statements) < 20, len(statements)
