"""Sending a quote: the PDF goes as an attachment (built from the stored PDF when the outbox sends),
from the seller's address, with a template or the default text, logged on the deal's timeline; the
draft becomes sent and frozen with its PDF stored. Email off: the error says what to configure.
Real SMTP: aiosmtpd on loopback."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, EmailMessage, Quote
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import email_templates, quote_send, quotes
from crm_tui.workflows.email import send_queued
from tests.unit.quote_fixtures import deal_with_items
from tests.unit import test_mail_send

pypdf = pytest.importorskip("pypdf")
smtp_server = test_mail_send.smtp_server  # the fixture: aiosmtpd on loopback


def _quote(db, actor, now):
    deal, lee = deal_with_items(db, actor, now)
    with db.write() as s:
        return quotes.create_quote(s, actor=actor, deal_id=deal.id, now=now), lee


def test_a_quote_is_emailed_with_its_pdf_and_logged_on_the_deal(db, actor, now, smtp_server):
    inbox, smtp = smtp_server
    q, lee = _quote(db, actor, now)
    with db.write() as s:
        sent = quote_send.send_quote(s, actor=actor, quote_id=q.id, email_enabled=True, now=now)
    assert sent.quote.status == "sent" and sent.attachment == f"{q.number}.pdf"
    with db.read() as s:
        stored = s.scalar(select(Quote.pdf).where(Quote.id == q.id))
        outbox = s.get(EmailOutbox, sent.queued.outbox_id)
        activity = s.scalar(select(Activity).where(Activity.deal_id == q.deal_id, Activity.kind == "email"))
        message = s.get(EmailMessage, sent.queued.email_id)
        assert stored.startswith(b"%PDF") and outbox.quote_id == q.id
        assert activity.email_id == message.id and message.attachments[0]["name"] == f"{q.number}.pdf"
    assert send_queued(db, smtp, now=now).sent == [sent.queued.outbox_id]
    [msg] = inbox.messages
    assert msg["From"] == "Ann Admin <ann@team.example>" and msg["To"] == lee.emails[0]
    assert msg["Subject"] == f"Quote {q.number}: Acme renewal"
    parts = list(msg.walk())
    [body] = [p for p in parts if p.get_content_type() == "text/plain"]
    assert "please find attached our quote" in body.get_payload(decode=True).decode() and "Ann Admin" in \
        body.get_payload(decode=True).decode()
    [pdf] = [p for p in parts if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"{q.number}.pdf" and pdf.get_payload(decode=True) == stored
    assert q.number in pypdf.PdfReader(io.BytesIO(stored)).pages[0].extract_text()
    # sent again: the same stored PDF, and the quote stays as it was
    with db.write() as s:
        again = quote_send.send_quote(s, actor=actor, quote_id=q.id, email_enabled=True, now=now)
    assert again.quote.version == sent.quote.version
    send_queued(db, smtp, now=now)
    assert inbox.messages[-1].get_payload()[1].get_payload(decode=True) == stored


def test_a_template_gives_the_subject_and_body(db, actor, now, smtp_server):
    inbox, smtp = smtp_server
    q, _lee = _quote(db, actor, now)
    with db.write() as s:
        t = email_templates.add_template(s, name="Quote", subject="Your quote, {{ contact.first_name }}",
                                         body="Attached. {{ me.name }}", actor=actor, now=now)
        quote_send.send_quote(s, actor=actor, quote_id=q.id, email_enabled=True, template_id=t.id, now=now)
    send_queued(db, smtp, now=now)
    assert inbox.messages[0]["Subject"] == "Your quote, Lee"


def test_email_off_says_what_to_configure_and_writes_nothing(db, actor, now):
    q, _lee = _quote(db, actor, now)
    with pytest.raises(InvalidInput, match=r"\[smtp\] table.*crm secret set smtp"):
        with db.write() as s:
            quote_send.send_quote(s, actor=actor, quote_id=q.id, email_enabled=False, now=now)
    with db.write() as s:  # a dry run checks the rest and writes nothing
        dry = quote_send.send_quote(s, actor=actor, quote_id=q.id, email_enabled=False, dry_run=True, now=now)
    assert dry.queued.outbox_id is None and dry.size > 1000
    with db.read() as s:
        assert s.get(Quote, q.id).status == "draft"
        assert s.scalar(select(EmailOutbox.id)) is None


def test_a_declined_quote_is_not_sent(db, actor, now):
    q, _lee = _quote(db, actor, now)
    with db.write() as s:
        quotes.decline_quote(s, actor=actor, quote_id=q.id, now=now)
    with pytest.raises(InvalidInput, match="is declined; revise it"):
        with db.write() as s:
            quote_send.send_quote(s, actor=actor, quote_id=q.id, email_enabled=True, now=now)
