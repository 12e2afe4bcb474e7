"""Email to case (services/case_mail.py) through mail capture, as `crm mail ingest` and sync store
mail: a new case with its acknowledgement queued and threaded, replies found by [#id] and by their
threading headers, a merged case followed, a closed case followed up, auto-replies and loops never
answered, unknown senders made leads, and nothing done twice. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage as Mime
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select

from crm_tui.config import ImapConfig, Settings, SupportConfig
from crm_tui.models import (
    Activity, AuditEvent, Case, CaseEntry, Contact, EmailMessage, MailSyncLog, MailTriage,
)
from crm_tui.models.case import CLOSED, INTERNAL, OPEN, PUBLIC, WAITING
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import case_mail, cases, companies, contacts, email_templates, mail_store, surveys
from crm_tui.services.mail_capture import imap, run
from crm_tui.services.mail_capture.capture import RawMail
from crm_tui.services.mail_capture.parse import parse_message
from tests import dovecot

SUPPORT = "support@ourco.com"
SETTINGS = Settings(support=SupportConfig(addresses=(SUPPORT,), team="Support"))


def mail(*, sender="Zoe Park <zoe@newco.com>", to=SUPPORT, cc=None, subject="Printer on fire",
         body="It is on fire.\nPlease help.\n", message_id="<m1@newco.com>", in_reply_to=None, references=None,
         headers=(), when=None) -> bytes:
    msg = Mime()
    msg["From"] = sender
    if to:
        msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when) if when else "Mon, 23 Nov 2026 09:00:00 +0000"
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def ingest(db, actor, now, *raws: bytes, settings=SETTINGS):
    return run.ingest(db, [RawMail(raw, f"m{n}.eml") for n, raw in enumerate(raws)], actor=actor, now=now,
                      settings=settings)


def count(db, model, *where) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def the_case(db, case_id=None) -> Case:
    with db.read() as session:
        stmt = select(Case).order_by(Case.id.desc()) if case_id is None else select(Case).where(Case.id == case_id)
        case = session.scalars(stmt).first()
        session.expunge_all()
        return case


def thread(db, case_id) -> list[tuple]:
    with db.read() as session:
        return [tuple(r) for r in session.execute(
            select(CaseEntry.direction, CaseEntry.visibility, CaseEntry.body, EmailMessage.message_id)
            .outerjoin(EmailMessage, EmailMessage.id == CaseEntry.email_id)
            .where(CaseEntry.case_id == case_id).order_by(CaseEntry.id))]


def outbox(db) -> list[EmailOutbox]:
    with db.read() as session:
        rows = list(session.scalars(select(EmailOutbox).order_by(EmailOutbox.id)))
        session.expunge_all()
        return rows


@pytest.fixture
def ada(db, actor, now):
    with db.write() as session:
        company = companies.create_company(session, data={"name": "Acme", "domain": "acme.io"}, actor=actor, now=now)
        return contacts.create_contact(session, data={"first_name": "Ada", "last_name": "Lovelace",
                                                      "emails": ["ada@acme.io"], "company_id": company.id},
                                       actor=actor, now=now)


# --- reading what decides --------------------------------------------------------------------


@pytest.mark.parametrize("headers, why", [
    ((("Auto-Submitted", "auto-replied"),), "Auto-Submitted: auto-replied"),
    ((("Auto-Submitted", "auto-generated; type=vacation"),), "Auto-Submitted: auto-generated"),
    ((("Precedence", "bulk"),), "Precedence: bulk"),
    ((("Precedence", "Junk"),), "Precedence: junk"),
    ((("Precedence", "list"),), "Precedence: list"),
    ((("X-Autoreply", "yes"),), "X-Autoreply: yes"),
    ((("X-Autorespond", "Out of office"),), "X-Autorespond: out of office"),
    ((("List-Id", "<news.shop.com>"),), "mailing list (List-Id)"),
    ((("List-Unsubscribe", "<mailto:u@shop.com>"),), "mailing list (List-Unsubscribe)"),
    ((("Return-Path", "<>"),), "a bounce (empty Return-Path)"),
    ((("Auto-Submitted", "no"), ("Precedence", "first-class")), None),
    ((), None),
])
def test_parsing_keeps_why_a_machine_sent_the_message(headers, why, now):
    assert parse_message(mail(headers=headers), received_at=now).automated == why


def test_parsing_keeps_the_envelope_recipients_and_the_senders_name(now):
    parsed = parse_message(mail(to="someone@else.com", headers=(("Delivered-To", SUPPORT),
                                                               ("X-Original-To", "<Help@OurCo.com>"))),
                           received_at=now)
    assert parsed.delivered_to == [SUPPORT, "help@ourco.com"]
    stored = parsed.to_store()
    assert stored.delivered_to == (SUPPORT, "help@ourco.com") and stored.from_name == "Zoe Park"
    assert case_mail.support_address(stored, SETTINGS) == SUPPORT


def test_a_delivery_report_is_a_machines(now):
    raw = (b"From: MAILER-DAEMON@mx.newco.com\r\nTo: support@ourco.com\r\nSubject: Undelivered\r\n"
           b"Message-ID: <dsn@mx>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n")
    assert parse_message(raw, received_at=now).automated == "a delivery report"


def test_a_replys_own_text_leaves_the_quoted_message_out():
    body = "Thanks, that worked.\n\nOn Mon, 23 Nov 2026 at 10:00, Support <support@ourco.com> wrote:\n> Try again\n"
    assert case_mail._reply_text(body) == "Thanks, that worked."
    assert case_mail._reply_text("Fine.\n> quoted\n>> older\n") == "Fine."
    assert case_mail._reply_text("> only quoted\n") == "> only quoted"


# --- a new case ----------------------------------------------------------------------------


def test_mail_to_support_from_a_stranger_opens_a_case_for_a_new_lead_and_queues_a_threaded_acknowledgement(
        db, actor, now):
    report = ingest(db, actor, now, mail())
    assert (report.stored, report.cases, report.acknowledged, report.triaged) == (1, 1, 1, 0)
    assert "1 new case (1 acknowledged)" in report.summary()
    case = the_case(db)
    assert (case.subject, case.description, case.channel, case.team, case.from_addr) == (
        "Printer on fire", "It is on fire.\nPlease help.", "email", "Support", "zoe@newco.com")
    with db.read() as session:
        lead = session.get(Contact, case.contact_id)
        assert (lead.first_name, lead.last_name, lead.lifecycle, lead.email) == ("Zoe", "Park", "lead",
                                                                                  "zoe@newco.com")
        made = session.execute(select(AuditEvent.actor).where(AuditEvent.entity == "contact",
                                                              AuditEvent.entity_id == lead.id,
                                                              AuditEvent.action == "create")).scalar_one()
        assert made == "system:email-to-case"
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "case", AuditEvent.entity_id == case.id)) >= 1
        # the customer's message is on the lead's timeline, and not in Triage
        assert session.scalar(select(func.count()).select_from(Activity).join(
            EmailMessage, EmailMessage.id == Activity.email_id).where(
            Activity.contact_id == lead.id, EmailMessage.message_id == "m1@newco.com")) == 1
        assert session.scalar(select(func.count()).select_from(MailTriage)) == 0
    [ack] = outbox(db)
    assert ack.to_addrs == ["zoe@newco.com"] and ack.from_addr == f"Support <{SUPPORT}>"
    assert ack.subject == f"Re: Printer on fire [#{case.id}]" and ack.status == "queued"
    assert (ack.in_reply_to, ack.references) == ("m1@newco.com", "m1@newco.com")
    assert ack.rule == case_mail.ACK_RULE and f"case #{case.id}" in ack.body and "Hello Zoe," in ack.body
    assert thread(db, case.id) == [("in", PUBLIC, "It is on fire.\nPlease help.", "m1@newco.com"),
                                   ("out", PUBLIC, ack.body, ack.message_id)]
    assert the_case(db, case.id).first_response_at is None  # an automatic answer is not the team's response


def test_a_known_sender_gets_the_case_on_their_contact_and_company(db, actor, now, ada):
    ingest(db, actor, now, mail(sender="Ada L <ADA@acme.io>"))
    case = the_case(db)
    assert (case.contact_id, case.company_id) == (ada.id, ada.company_id)
    assert count(db, Contact) == 1
    assert outbox(db)[0].body.startswith("Hello Ada,")


def test_a_lead_that_cannot_be_made_leaves_the_case_without_a_contact_and_says_why(db, actor, now):
    from crm_tui.services import fields

    with db.write() as session:  # every contact needs a value the mail cannot give
        fields.add_field(session, kind="contact", key="segment", type="choice", options=["smb", "enterprise"],
                         required=True, actor=actor, now=now)
    report = ingest(db, actor, now, mail())
    assert (report.cases, report.acknowledged) == (1, 1) and count(db, Contact) == 0
    assert "no lead made for zoe@newco.com" in report.warnings[0] and "segment" in report.warnings[0]
    case = the_case(db)
    assert (case.contact_id, case.from_addr) == (None, "zoe@newco.com")
    assert outbox(db)[0].body.startswith("Hello,")


def test_mail_copied_or_delivered_to_support_counts_and_other_mail_is_untouched(db, actor, now, ada):
    report = ingest(db, actor, now,
                    mail(to="ann@ourco.com", message_id="<plain@acme.io>", sender="ada@acme.io"),
                    mail(to="ann@ourco.com", cc=SUPPORT, message_id="<cc@acme.io>", sender="ada@acme.io"),
                    mail(to="list@ourco.com", message_id="<bcc@acme.io>", sender="ada@acme.io",
                         headers=(("Delivered-To", SUPPORT),)))
    assert (report.stored, report.cases) == (3, 2)
    with db.read() as session:
        plain = session.scalar(select(EmailMessage.id).where(EmailMessage.message_id == "plain@acme.io"))
        assert session.scalar(select(func.count()).select_from(CaseEntry).where(CaseEntry.email_id == plain)) == 0
        message = mail_store.MailMessage(message_id="plain@acme.io", sent_at=now, from_addr="ada@acme.io",
                                         to_addrs=("ann@ourco.com",))
        assert case_mail.ingest(session, message, settings=SETTINGS, now=now) is None
    # without [support] addresses nothing is a case
    assert ingest(db, actor, now, mail(message_id="<x@acme.io>"), settings=Settings()).cases == 0


def test_the_ack_template_is_filled_for_the_contact_and_the_case(db, actor, now, ada):
    with db.write() as session:
        email_templates.add_template(session, name="Case received", subject="We got it: {{ case.subject }}",
                                     body="Hi {{ contact.first_name }}, this is {{ case.number }} "
                                          "({{ case.tag }}). {{ me.name }}", actor=actor, shared=True, now=now)
    settings = Settings(support=SupportConfig(addresses=(SUPPORT,), team="Helpdesk", ack_template="case received"))
    ingest(db, actor, now, mail(sender="ada@acme.io"), settings=settings)
    case = the_case(db)
    [ack] = outbox(db)
    assert ack.subject == f"We got it: Printer on fire [#{case.id}]"
    assert ack.body == f"Hi Ada, this is #{case.id} ([#{case.id}]). Helpdesk"
    assert ack.from_addr == f"Helpdesk <{SUPPORT}>"


def test_an_ack_template_that_cannot_be_used_falls_back_to_the_built_in_text_with_a_warning(db, actor, now):
    settings = Settings(support=SupportConfig(addresses=(SUPPORT,), ack_template="No such template"))
    report = ingest(db, actor, now, mail(), settings=settings)
    assert report.acknowledged == 1 and "No such template" in report.warnings[0]
    assert "our team will answer" in outbox(db)[0].body
    assert count(db, MailSyncLog, MailSyncLog.level == "warning") == 1


def test_at_most_three_acknowledgements_an_hour_go_to_one_sender(db, actor, now):
    report = ingest(db, actor, now, *(mail(message_id=f"<loop{n}@newco.com>", subject=f"Loop {n}") for n in range(5)))
    assert (report.cases, report.acknowledged) == (5, 3)
    later = ingest(db, actor, now + timedelta(hours=2), mail(message_id="<later@newco.com>", subject="Later"))
    assert later.acknowledged == 1


# --- replies ----------------------------------------------------------------------------------


def test_a_reply_carrying_the_case_number_joins_the_case_and_is_not_acknowledged(db, actor, now):
    ingest(db, actor, now, mail())
    case = the_case(db)
    report = ingest(db, actor, now, mail(message_id="<m2@newco.com>", subject=f"RE: Printer on fire [#{case.id}]",
                                         body="Still burning.\n\nOn Mon, Support wrote:\n> Hello Zoe\n"))
    assert (report.cases, report.case_mail, report.acknowledged) == (0, 1, 0)
    assert thread(db, case.id)[-1] == ("in", PUBLIC, "Still burning.", "m2@newco.com")
    assert len(outbox(db)) == 1 and count(db, Case) == 1


def test_a_case_number_from_a_stranger_does_not_reach_the_case_but_a_colleagues_does(db, actor, now, ada):
    ingest(db, actor, now, mail(sender="Ada <ada@acme.io>"))
    case = the_case(db)
    with db.write() as session:
        contacts.create_contact(session, data={"first_name": "Bo", "emails": ["bo@acme.io"],
                                               "company_id": ada.company_id}, actor=actor, now=now)
    report = ingest(db, actor, now,
                    mail(sender="mallory@evil.example", message_id="<x1@evil.example>", subject=f"Re: [#{case.id}]",
                         body="Injected"),
                    mail(sender="bo@acme.io", message_id="<b1@acme.io>", subject=f"Re: [#{case.id}]", body="Me too"))
    assert (report.cases, report.case_mail) == (1, 1)
    assert [e[2] for e in thread(db, case.id) if e[0] == "in"] == ["It is on fire.\nPlease help.", "Me too"]
    assert the_case(db).from_addr == "mallory@evil.example"  # a case of its own
    # the stranger replying to a message of the case's thread (its Message-ID) is in the conversation
    ack = outbox(db)[0]
    ingest(db, actor, now, mail(sender="mallory@evil.example", message_id="<x2@evil.example>",
                                subject="Re: Printer on fire", in_reply_to=f"<{ack.message_id}>",
                                body="Forwarded to me"))
    assert thread(db, case.id)[-1][2] == "Forwarded to me"


def test_a_reply_found_by_its_threading_headers_joins_the_case(db, actor, now):
    ingest(db, actor, now, mail())
    case = the_case(db)
    ack = outbox(db)[0]
    ingest(db, actor, now, mail(message_id="<m2@newco.com>", subject="Re: Printer on fire",
                                in_reply_to=f"<{ack.message_id}>"))
    ingest(db, actor, now, mail(message_id="<m3@newco.com>", subject="and another thing",
                                references="<other@x.com> <m1@newco.com>"))
    assert [e[3] for e in thread(db, case.id)] == ["m1@newco.com", ack.message_id, "m2@newco.com", "m3@newco.com"]
    assert count(db, Case) == 1 and len(outbox(db)) == 1


def test_a_reply_reopens_a_waiting_or_resolved_case(db, actor, now):
    ingest(db, actor, now, mail())
    case = the_case(db)
    with db.write() as session:
        cases.set_status(session, case.id, WAITING, actor=actor, now=now)
    ingest(db, actor, now, mail(message_id="<m2@newco.com>", subject=f"[#{case.id}] here it is"))
    assert the_case(db, case.id).status == OPEN
    with db.write() as session:
        cases.resolve(session, case.id, actor=actor, now=now)
    ingest(db, actor, now, mail(message_id="<m3@newco.com>", subject=f"[#{case.id}] it broke again"))
    reopened = the_case(db, case.id)
    assert (reopened.status, reopened.resolved_at) == (OPEN, None) and count(db, Case) == 1


def test_mail_to_a_merged_case_goes_to_the_case_it_was_merged_into(db, actor, now):
    ingest(db, actor, now, mail(), mail(message_id="<m2@newco.com>", subject="Printer again"))
    first, second = sorted(c.id for c in (the_case(db, i) for i in _case_ids(db)))
    with db.write() as session:
        cases.merge_cases(session, keep_id=first, merge_id=second, actor=actor, now=now)
    report = ingest(db, actor, now, mail(message_id="<m3@newco.com>", subject=f"Re: Printer again [#{second}]"))
    assert report.case_mail == 1 and report.cases == 0
    assert thread(db, first)[-1][3] == "m3@newco.com"
    with db.read() as session:
        message = mail_store.MailMessage(message_id="x", sent_at=now, subject=f"[#{second}]", from_addr="zoe@newco.com")
        assert case_mail.find_case(session, message).id == first


def _case_ids(db) -> list[int]:
    with db.read() as session:
        return list(session.scalars(select(Case.id).order_by(Case.id)))


def test_a_reply_to_a_closed_case_opens_a_follow_up(db, actor, now):
    ingest(db, actor, now, mail())
    case = the_case(db)
    with db.write() as session:
        cases.close(session, case.id, actor=actor, now=now)
    report = ingest(db, actor, now, mail(message_id="<m2@newco.com>", subject=f"Re: Printer on fire [#{case.id}]"))
    assert (report.cases, report.acknowledged) == (1, 1)
    follow = the_case(db)
    assert follow.id != case.id and the_case(db, case.id).status == CLOSED
    assert any(e[1] == INTERNAL and f"#{case.id}" in e[2] for e in thread(db, follow.id))


# --- machines ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sender, headers", [
    ("Zoe Park <zoe@newco.com>", (("Auto-Submitted", "auto-replied"),)),
    ("Zoe Park <zoe@newco.com>", (("Precedence", "bulk"),)),
    ("Zoe Park <zoe@newco.com>", (("X-Autoreply", "yes"),)),
    ("news@shop.com", (("List-Id", "<news.shop.com>"),)),
    ("MAILER-DAEMON@mx.newco.com", ()),
    ("postmaster@newco.com", ()),
    ("noreply@newco.com", ()),
    (SUPPORT, ()),
])
def test_auto_replies_bulk_mail_and_loops_never_open_a_case_nor_get_an_answer(db, actor, now, sender, headers):
    report = ingest(db, actor, now, mail(sender=sender, headers=headers))
    assert report.stored == 1 and report.cases == 0 and report.acknowledged == 0
    assert count(db, Case) == 0 and outbox(db) == [] and count(db, Contact) == 0


def test_an_auto_reply_to_a_case_is_kept_as_an_internal_entry_that_reopens_nothing(db, actor, now):
    ingest(db, actor, now, mail())
    case = the_case(db)
    with db.write() as session:
        cases.set_status(session, case.id, WAITING, actor=actor, now=now)
    report = ingest(db, actor, now, mail(message_id="<ooo@newco.com>", subject=f"Out of office: Re: [#{case.id}]",
                                         body="I am away until Monday.",
                                         headers=(("Auto-Submitted", "auto-replied"),)))
    assert (report.case_mail, report.acknowledged) == (1, 0)
    direction, visibility, body, message_id = thread(db, case.id)[-1]
    assert (direction, visibility, message_id) == ("out", INTERNAL, "ooo@newco.com")  # the team's note
    assert "Auto-Submitted: auto-replied" in body and "I am away until Monday." in body
    assert the_case(db, case.id).status == WAITING and len(outbox(db)) == 1


def test_the_acknowledgement_says_it_is_automatic(db, actor, now):
    from crm_tui.workflows.email import SmtpSettings, _message

    ingest(db, actor, now, mail())
    msg = _message(outbox(db)[0], SmtpSettings(host="localhost", sender="crm@ourco.com"), now)
    assert msg["Auto-Submitted"] == "auto-replied" and msg["In-Reply-To"] == "<m1@newco.com>"


# --- once only ---------------------------------------------------------------------------------


def test_the_same_message_again_does_nothing_more(db, actor, now):
    first = ingest(db, actor, now, mail())
    again = ingest(db, actor, now, mail(), mail())
    assert (first.cases, again.stored, again.known, again.cases, again.case_mail) == (1, 0, 1, 0, 0)
    case = the_case(db)
    assert count(db, Case) == 1 and len(thread(db, case.id)) == 2 and len(outbox(db)) == 1
    with db.write() as session:  # called again directly: the same case, nothing written
        message = parse_message(mail(), received_at=now).to_store()
        assert case_mail.ingest(session, message, settings=SETTINGS, now=now).id == case.id
    assert len(thread(db, case.id)) == 2 and len(outbox(db)) == 1


def test_support_mail_stored_lately_by_a_sync_without_support_becomes_a_case_when_the_support_box_reads_it(
        db, actor, now):
    stored = ingest(db, actor, now, mail(), mail(message_id="<old@newco.com>", subject="Old"),
                    mail(message_id="<ooo@newco.com>", headers=(("Auto-Submitted", "auto-replied"),)),
                    settings=Settings())  # a teammate's config without [support]
    assert (stored.stored, stored.cases) == (3, 0)
    with db.write() as session:  # stored long ago
        session.execute(EmailMessage.__table__.update().where(EmailMessage.message_id == "old@newco.com")
                        .values(created_at=now - case_mail.LATE_WINDOW - timedelta(minutes=1)))
    later = ingest(db, actor, now, mail(), mail(message_id="<old@newco.com>", subject="Old"),
                   mail(message_id="<ooo@newco.com>", headers=(("Auto-Submitted", "auto-replied"),)))
    assert (later.stored, later.known, later.cases, later.acknowledged) == (0, 3, 1, 1)
    assert the_case(db).subject == "Printer on fire" and count(db, Case) == 1
    again = ingest(db, actor, now, mail())
    assert (again.cases, again.case_mail) == (0, 0) and count(db, Case) == 1 and len(outbox(db)) == 1


def test_ingest_called_directly_on_a_stored_message(db, actor, now, ada):
    message = parse_message(mail(sender="Ada <ada@acme.io>"), received_at=now).to_store()
    with db.write() as session:
        mail_store.store_messages(session, [message], actor=actor, source="ingest", now=now)
        case = case_mail.ingest(session, message, settings=SETTINGS, now=now)
        assert case.contact_id == ada.id and case.subject == "Printer on fire"
        assert session.scalar(select(func.count()).select_from(EmailOutbox)) == 1


# --- surveys -----------------------------------------------------------------------------------


def test_a_reply_starting_with_a_number_is_offered_to_the_surveys_first(db, actor, now, monkeypatch):
    ingest(db, actor, now, mail())
    case = the_case(db)
    seen = []

    def score(session, message, *, now):
        seen.append(message.message_id)
        return surveys.Survey(kind="csat", case_id=case.id, token_hash="x" * 64, sent_at=now, score=5) \
            if message.message_id == "score@newco.com" else None

    monkeypatch.setattr(surveys, "score_from_reply", score)
    ingest(db, actor, now,
           mail(message_id="<score@newco.com>", subject="Re: How did we do?", body="5\nGreat", in_reply_to="<s@x>"),
           mail(message_id="<words@newco.com>", subject=f"Re: [#{case.id}]", body="Thanks", in_reply_to="<s@x>"),
           mail(message_id="<auto@newco.com>", subject="Re: How", body="4 days away", in_reply_to="<s@x>",
                headers=(("Auto-Submitted", "auto-replied"),)),
           mail(message_id="<num@newco.com>", subject=f"Re: [#{case.id}]", body="3 more printers", in_reply_to="<s@x>"))
    assert seen == ["score@newco.com", "num@newco.com"]  # never the automated one, nor one without a number
    assert [e[3] for e in thread(db, case.id)][2:] == ["words@newco.com", "num@newco.com"]
    assert count(db, Case) == 1


# --- through IMAP ------------------------------------------------------------------------------


@pytest.mark.skipif(dovecot.unavailable() is not None, reason=dovecot.unavailable() or "")
def test_syncing_the_support_mailbox_over_imap_opens_the_case_once(db, actor, now, tmp_path, monkeypatch):
    server = dovecot.Dovecot.start(tmp_path / "dovecot")
    try:
        monkeypatch.setenv("CRM_IMAP_PASSWORD", server.password)
        account = imap.account_from(ImapConfig(host=server.host, port=server.port, username=server.user,
                                               address=SUPPORT), what="mail.imap", insecure=True)
        server.append("INBOX", mail())
        first = run.sync(db, account, actor=actor, team=True, now=now, settings=SETTINGS)
        assert first.error is None and (first.total.cases, first.total.acknowledged) == (1, 1)
        case = the_case(db)
        server.append("INBOX", mail(message_id="<m2@newco.com>", subject=f"Re: Printer on fire [#{case.id}]"))
        again = run.sync(db, account, actor=actor, team=True, now=now, settings=SETTINGS)
        assert (again.total.stored, again.total.cases, again.total.case_mail) == (1, 0, 1)
        assert count(db, Case) == 1 and len(outbox(db)) == 1 and len(thread(db, case.id)) == 3
    finally:
        server.stop()


def test_a_customers_reply_to_the_csat_survey_scores_it_and_other_replies_find_the_case(db, actor, now,
                                                                                         monkeypatch):
    monkeypatch.setenv("CRM_TEST_SURVEY_KEY", "k" * 32)
    settings = Settings(support=SupportConfig(addresses=(SUPPORT,), team="Support", survey_url="https://crm.example",
                                              secret_env="CRM_TEST_SURVEY_KEY"))
    ingest(db, actor, now, mail(), settings=settings)
    case = the_case(db)
    with db.write() as session:
        cases.resolve(session, case.id, actor=actor, settings=settings, now=now)
        survey = session.scalars(select(surveys.Survey).where(surveys.Survey.case_id == case.id)).one()
        csat = session.get(EmailMessage, survey.email_id).message_id
    entries = len(thread(db, case.id))
    scored = ingest(db, actor, now, mail(message_id="<s1@newco.com>", subject="Re: How did we do?", body="5 - great",
                                         in_reply_to=f"<{csat}>"), settings=settings)
    assert (scored.survey_answers, scored.cases, scored.case_mail) == (1, 0, 0)
    with db.read() as session:
        assert session.get(surveys.Survey, survey.id).score == 5
    # the surveys service notes the score on the thread; the message itself is no entry
    assert the_case(db, case.id).status == "resolved"
    assert [(e[1], e[3]) for e in thread(db, case.id)[entries:]] == [(INTERNAL, None)]
    # a second number is not recorded (the survey is spent): a note, and the case stays resolved
    twice = ingest(db, actor, now, mail(message_id="<s2@newco.com>", subject="Re: How did we do?", body="1",
                                        in_reply_to=f"<{csat}>"), settings=settings)
    assert (twice.survey_answers, twice.case_mail) == (0, 1)
    assert thread(db, case.id)[-1][1] == INTERNAL and the_case(db, case.id).status == "resolved"
    # words in answer to the survey are the customer's reply: the case reopens
    ingest(db, actor, now, mail(message_id="<s3@newco.com>", subject="Re: How did we do?", body="It broke again",
                                in_reply_to=f"<{csat}>"), settings=settings)
    assert thread(db, case.id)[-1][2] == "It broke again" and the_case(db, case.id).status == OPEN
    # a late number once the case is closed opens no follow-up
    with db.write() as session:
        cases.close(session, case.id, actor=actor, now=now)
    late = ingest(db, actor, now, mail(message_id="<s4@newco.com>", subject="Re: How did we do?", body="2",
                                       in_reply_to=f"<{csat}>"), settings=settings)
    assert (late.cases, late.acknowledged, late.case_mail) == (0, 0, 1) and count(db, Case) == 1
    assert thread(db, case.id)[-1][1] == INTERNAL and the_case(db, case.id).status == CLOSED


@pytest.mark.slow
def test_three_processes_ingesting_one_message_at_once_open_one_case(db, db_url, actor, now):
    from tests.unit import case_mail_workers, proc_workers

    reports = proc_workers.run_in_processes(case_mail_workers.ingest_support_mail,
                                            [(db_url, mail(), actor, now)] * 3)
    assert all(r[0] == "ok" for r in reports), reports
    assert sorted(r[1:] for r in reports) == [(0, 0, 0), (0, 0, 0), (1, 1, 1)]
    assert count(db, Case) == 1 and count(db, Contact) == 1 and len(outbox(db)) == 1
