"""Sending from a record: queued in the outbox in the transaction that stores the message and logs
it on the contact, company and deal; sent after commit from the user's own address, with the
stored Message-ID; a reply threads; SMTP down keeps it queued, and it is sent exactly once.
Real SMTP: aiosmtpd on loopback."""

from __future__ import annotations

import email
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select

from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, EmailMessage
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import activities, deals, email_templates as templates, mail_send, users
from crm_tui.workflows import runner
from crm_tui.workflows.email import SmtpSettings, send_queued
from tests.unit import test_email_templates
from tests.unit.test_workflow_email import RULES, Inbox, _deal, _free_port

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
ann_lee = test_email_templates.ann_lee  # the fixture: Ann (the sender), Acme, Lee Park and a deal


@pytest.fixture
def smtp_server():
    inbox, port = Inbox(), _free_port()
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield inbox, SmtpSettings(host="127.0.0.1", port=port, sender="CRM <crm@team.example>", starttls=False, timeout=5)
    server.stop()


def _send(db, actor, now, lee, deal, **kw):
    with db.write() as s:
        t = templates.add_template(s, name=f"T{now.timestamp()}{kw.get('cc')}", subject="Hello {{ contact.first_name }}",
                                   body="About {{ deal.title }}.\n{{ me.name }}", actor=actor, now=now)
        draft = mail_send.draft(s, actor=actor, contact_id=lee.id, deal_id=deal.id, template_id=t.id,
                                cc=kw.get("cc", []), in_reply_to=kw.get("in_reply_to"))
        return mail_send.send(s, draft=draft, actor=actor, now=now, dry_run=kw.get("dry_run", False))


def test_an_email_from_a_contact_is_stored_on_its_timelines_and_sent_from_my_address(db, actor, now, ann_lee,
                                                                                   smtp_server):
    lee, acme, deal = ann_lee
    inbox, smtp = smtp_server
    queued = _send(db, actor, now, lee, deal, cc=["boss@acme.com", "Lee@Acme.com"])
    assert queued.to == ["lee@acme.com"] and queued.cc == ["boss@acme.com"]  # To is not copied again
    with db.read() as s:
        timeline = [a for a in activities.timeline(s, contact_id=lee.id).items if a.kind == "email"]
        on_deal = [a.id for a in activities.timeline(s, deal_id=deal.id).items if a.kind == "email"]
        on_company = [a.id for a in activities.timeline(s, company_id=acme.id).items if a.kind == "email"]
        stored = s.get(EmailMessage, queued.email_id)
        row = s.scalar(select(Activity).where(Activity.id == timeline[0].id))
        outbox = s.get(EmailOutbox, queued.outbox_id)
        assert (stored.message_id, stored.source, stored.direction) == (queued.message_id, "sent", "out")
        assert (row.email_id, row.direction, row.subject) == (stored.id, "outbound", "Hello Lee")
        assert (outbox.status, outbox.email_id, outbox.from_addr) == ("queued", stored.id, "Ann Admin <ann@team.example>")
    assert on_deal == on_company == [timeline[0].id] == queued.activity_ids

    report = send_queued(db, smtp, now=now)
    assert report.sent == [queued.outbox_id]
    [msg] = inbox.messages
    assert (msg["From"], msg["To"], msg["Cc"], msg["Subject"]) == ("Ann Admin <ann@team.example>", "lee@acme.com",
                                                                    "boss@acme.com", "Hello Lee")
    assert msg["Message-ID"] == f"<{queued.message_id}>" and queued.message_id.endswith("@team.example")
    assert "About Acme renewal." in msg.get_payload()
    assert send_queued(db, smtp, now=now).sent == []  # never twice


def test_a_reply_threads_by_in_reply_to_and_references(db, actor, now, ann_lee, smtp_server):
    lee, _acme, deal = ann_lee
    inbox, smtp = smtp_server
    first = _send(db, actor, now, lee, deal)
    second = _send(db, actor, now + timedelta(minutes=1), lee, deal, in_reply_to=f"<{first.message_id}>")
    third = _send(db, actor, now + timedelta(minutes=2), lee, deal, in_reply_to=second.message_id)
    send_queued(db, smtp, now=now)
    last = inbox.messages[-1]
    assert last["In-Reply-To"] == f"<{second.message_id}>"
    assert last["References"].split() == [f"<{first.message_id}>", f"<{second.message_id}>"]
    with db.read() as s:
        keys = {m.thread_key for m in s.scalars(select(EmailMessage))}
    assert keys == {first.message_id} and third.references.split()[0] == first.message_id


def test_a_dry_run_writes_nothing_and_bad_input_is_one_line(db, actor, now, ann_lee):
    lee, _acme, deal = ann_lee
    queued = _send(db, actor, now, lee, deal, dry_run=True)
    assert queued.outbox_id is None and queued.subject == "Hello Lee"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(EmailMessage)) == 0
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 0
    with db.write() as s:
        with pytest.raises(InvalidInput, match="Cc: invalid email"):
            mail_send.send(s, draft=mail_send.Draft(to=["lee@acme.com"], cc=["nope"], subject="x", body="y",
                                                    contact_id=lee.id), actor=actor, now=now)
        with pytest.raises(InvalidInput, match="nobody to go to"):
            mail_send.send(s, draft=mail_send.Draft(to=[], subject="x", body="y"), actor=actor, now=now)


def test_a_user_without_an_email_address_cannot_send(db, actor, now, ann_lee):
    lee, _acme, _deal = ann_lee
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "name": "Sam", "role": "sales"}, actor=actor, now=now)
        sam = users.actor_for(s, login="sam", now=now)
        with pytest.raises(InvalidInput, match="sam has no email address"):
            mail_send.send(s, draft=mail_send.Draft(to=["lee@acme.com"], subject="x", body="y", contact_id=lee.id),
                           actor=sam, now=now)


def test_the_records_offer_their_addresses(db, actor, now, ann_lee):
    lee, acme, deal = ann_lee
    with db.read() as s:
        assert mail_send.recipients(s, contact_id=lee.id).to == ["lee@acme.com"]
        assert mail_send.recipients(s, deal_id=deal.id).to == ["lee@acme.com"]
        assert mail_send.recipients(s, company_id=acme.id).to == ["lee@acme.com"]
        assert [c.label for c in mail_send.address_choices(s, query="lee")] == ["lee@acme.com"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_smtp_down_keeps_a_persons_email_queued_and_it_goes_once_later(db, actor, now, ann_lee):
    lee, _acme, deal = ann_lee
    inbox, port = Inbox(), _free_port()
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender="crm@team.example", starttls=False, timeout=2)
    queued = _send(db, actor, now, lee, deal)
    report = send_queued(db, smtp, now=now)
    assert report.deferred == 1 and "unreachable" in report.error
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        assert send_queued(db, smtp, now=now).sent == [queued.outbox_id]
        assert send_queued(db, smtp, now=now).sent == []
    finally:
        server.stop()
    assert [m["Message-ID"] for m in inbox.messages] == [f"<{queued.message_id}>"]


def test_a_rules_email_is_stored_as_a_message_with_its_message_id(db, actor, now, smtp_server):
    inbox, smtp = smtp_server
    deal = _deal(db, actor, now - timedelta(days=3), title="Orbit")
    with db.write() as s:
        deals.mark_won(s, deal_id=deal.id, actor=actor, now=now)
    runner.run(db, rules=RULES, now=now, zone=timezone.utc, smtp=smtp)
    with db.read() as s:
        [stored] = s.scalars(select(EmailMessage)).all()
        linked = s.scalars(select(Activity.deal_id).where(Activity.email_id == stored.id)).all()
        assert (stored.source, stored.subject, stored.from_addr) == ("workflow", "Thank you, Ann", "crm@team.example")
        message_id = stored.message_id
    assert linked == [deal.id]
    [msg] = inbox.messages
    assert msg["Message-ID"] == f"<{message_id}>" and msg["From"] == "CRM <crm@team.example>"
    assert isinstance(msg, email.message.Message)


def test_a_reply_to_an_email_that_came_in_goes_to_its_sender(db, actor, now, ann_lee):
    from crm_tui.services import mail_store

    lee, _acme, _deal = ann_lee
    with db.write() as s:
        mail_store.store_messages(s, [mail_store.MailMessage(
            message_id="q1@acme.com", sent_at=now, subject="Question", from_addr="lee@acme.com",
            to_addrs=("ann@team.example",), body="How much?")], actor=actor, source="ingest",
            ours=["ann@team.example"], now=now)
        activity_id = s.scalar(select(Activity.id).where(Activity.contact_id == lee.id, Activity.kind == "email"))
        reply = mail_send.reply_to(s, activity_id=activity_id)
    assert (reply.in_reply_to, reply.subject, reply.to) == ("q1@acme.com", "Re: Question", ["lee@acme.com"])


def test_many_emails_at_once_check_each_and_store_the_rest_in_one_batch(db, actor, now, ann_lee):
    from crm_tui.errors import CrmError
    from crm_tui.models import AuditEvent

    lee, acme, deal = ann_lee
    items = [mail_send.Outgoing(mail_send.Draft(to=["lee@acme.com"], subject="One", body="First.",
                                                contact_id=lee.id), from_addr="Ann Admin <ann@team.example>",
                                user_id=actor.user_id),
             mail_send.Outgoing(mail_send.Draft(to=["not an address"], subject="Two", body="Bad.", contact_id=lee.id)),
             mail_send.Outgoing(mail_send.Draft(to=["lee@acme.com"], subject="Three", body="Third.",
                                                contact_id=999_999)),
             mail_send.Outgoing(mail_send.Draft(to=["lee@acme.com"], subject="Four", body="Fourth.",
                                                deal_id=deal.id))]
    with db.write() as s:
        done = mail_send.send_many(s, items, actor=actor, now=now, rule="batch", id_from="crm@team.example",
                                   outcome="sent in a batch")
    # a record that is not there is NotFound, as `send` says it
    assert [type(r).__name__ for r in done] == ["Queued", "InvalidInput", "NotFound", "Queued"]
    assert isinstance(done[1], CrmError) and "To:" in done[1].message and "no contact" in done[2].message
    with db.read() as s:
        outbox = {o.subject: o for o in s.scalars(select(EmailOutbox))}
        assert set(outbox) == {"One", "Four"}
        assert (outbox["One"].user_id, outbox["One"].from_addr, outbox["One"].id) == (
            actor.user_id, "Ann Admin <ann@team.example>", done[0].outbox_id)
        assert (outbox["Four"].user_id, outbox["Four"].from_addr) == (None, None)
        assert done[3].message_id.endswith("@team.example") and done[0].message_id.endswith("@team.example")
        one = s.execute(select(Activity.contact_id, Activity.company_id, Activity.outcome)
                        .where(Activity.email_id == done[0].email_id)).all()
        four = s.execute(select(Activity.deal_id).where(Activity.email_id == done[3].email_id)).all()
        sends = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "email",
                                                                              AuditEvent.action == "send"))
    assert one == [(lee.id, acme.id, "sent in a batch")] and done[0].activity_ids
    assert deal.id in {d for (d,) in four}  # the deal's email reaches its contact's timeline too
    assert sends == 2


def test_a_batch_and_a_single_send_refuse_a_missing_record_alike(db, actor, now, ann_lee):
    from crm_tui.errors import NotFound

    lee, _acme, _deal = ann_lee
    drafts = [mail_send.Draft(to=["lee@acme.com"], subject="Hi", body="Hello.", contact_id=999_999),
              mail_send.Draft(to=["lee@acme.com"], subject="Hi", body="Hello.", deal_id=2**40)]
    with db.write() as s:
        done = mail_send.send_many(s, [mail_send.Outgoing(d) for d in drafts], actor=actor, now=now,
                                   id_from="crm@team.example")
        singles = []
        for d in drafts:
            with pytest.raises(NotFound) as caught:
                mail_send.send(s, draft=d, actor=actor, now=now, from_addr="ann@team.example")
            singles.append(caught.value.message)
    # an id past what the column holds is simply not found (no driver error on PostgreSQL)
    assert [type(r) for r in done] == [NotFound, NotFound]
    assert [r.message for r in done] == singles == ["no contact with id 999999", f"no deal with id {2**40}"]
