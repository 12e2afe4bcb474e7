"""Email to case (issue 23): mail to the support address ([support] addresses) opens a case and is
acknowledged, or joins the case it answers; a CSAT survey's reply scores the survey.

Mail capture (services/mail_capture/capture.py) calls `handle` for each message it stored for the
first time, in the batch's transaction, so a re-sync or a second mailbox holding the same message
does nothing more (and for the few `unhandled` ones: support mail a sync without [support] stored
lately, which no case took). Mail capture calls in, not mail_store: this module sends the
acknowledgement through mail_send, which stores through mail_store.

- A message to a support address (To, Cc, Delivered-To or X-Original-To) joins a case found by
  `[#1234]` in its subject when the sender is the case's customer (its address, its contact or a
  contact of its company; a merged case leads to the one it was merged into), else by its
  threading headers (In-Reply-To, References naming an email of a case's thread or its CSAT
  survey's email), as a public inbound entry (which reopens a waiting or resolved case). A closed
  case is not reopened: the message opens a follow-up case, with an internal note naming it.
- Otherwise it opens a case (channel email, its subject, its text, the team `[support] team`) for
  the contact the sender's address belongs to, or a new lead made from the sender's name and
  address, and queues an acknowledgement ("[support] ack_template", else a built-in text) in the
  outbox, from the support address, threaded as a reply, its subject carrying `[#id]`.
- Mail a machine sent (an auto-reply, a bounce, a list's mail: `ParsedMail.automated`, or a sender
  that is a support address, MAILER-DAEMON, postmaster or a no-reply address) is never answered and
  never opens a case. When it answers an existing case it is kept on the thread as an internal
  note linked to the email (an out-of-office or a bounce is worth an agent's eye) that neither
  reopens the case nor counts as the customer's reply.
- Mail from the team's own addresses (a user's, [mail] addresses, the support addresses) is
  outbound and never a case: a teammate opens a case for a customer with `crm case add`.
- No more than ACK_LIMIT acknowledgements go to one contact in an hour: a mail loop with a machine
  that marks nothing as automated stops there.

The writes run as the system actor `system:email-to-case`, through the services, which check
permissions and audit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.config import Settings
from crm_tui.errors import CrmError, Duplicate
from crm_tui.models import Contact, ContactEmail, EmailMessage
from crm_tui.models.case import CLOSED, INTERNAL, PUBLIC, Case, CaseEntry, Survey
from crm_tui.services import cases, mail_contacts, mail_send, mail_store, surveys
from crm_tui.shapes import system_actor

ACTOR = system_actor("email-to-case")
ACK_LIMIT = 3  # acknowledgements to one contact per hour
ACK_RULE = "auto-replied: case acknowledgement"  # the outbox's rule: sent with Auto-Submitted: auto-replied
MAX_MERGE_HOPS = 20
_NUMBER = re.compile(r"\[#(\d{1,9})\]")
_MACHINES = ("mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply",
             "do_not_reply", "bounce", "bounces")
_QUOTE_HEAD = re.compile(r"^(On .{4,300} wrote:|-{2,} ?Original Message ?-{2,}|_{10,})\s*$", re.IGNORECASE)

NEW, FOLLOW_UP, ENTRY, NOTE, SURVEY, IGNORED, DONE = ("new", "follow-up", "entry", "note", "survey", "ignored",
                                                     "done")
# mail stored before by a sync that knew no [support] addresses (a teammate's mailbox copied on
# it, their config without the table) still becomes a case when the support mailbox reads it, if
# it was stored this recently: never a case and an acknowledgement for old mail
LATE_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Handled:
    """What became of one message: `kind` NEW (a case opened), FOLLOW_UP (a case opened after a
    closed one), ENTRY (added to a case), NOTE (a machine's mail kept on a case), SURVEY (a
    survey's answer), IGNORED (automated mail that answers no case); `case` the case it went to;
    `acknowledged` whether an acknowledgement was queued; `contact_made` a lead made for it."""

    kind: str
    case: Case | None = None
    acknowledged: bool = False
    contact_made: int | None = None
    warning: str | None = None


def ingest(session: Session, message: mail_store.MailMessage, *, settings: Settings,
           now: datetime | None = None) -> Case | None:
    """The case an inbound message, already stored (mail_store), opened or joined; None when it
    is not support mail (or answered a survey, or is automated mail that answers no case)."""
    found = handle(session, message, settings=settings, now=now)
    return found.case if found is not None and found.kind != SURVEY else None


def unhandled(session: Session, messages: list[mail_store.MailMessage], *, settings: Settings | None,
              now: datetime) -> list[mail_store.MailMessage]:
    """Of messages stored before (a re-sync, another mailbox), those a sync without the [support]
    table stored and no case took: to a support address, from a person, no survey's answer, on no
    case's thread, stored within LATE_WINDOW. One query for the batch."""
    if settings is None or not settings.support.addresses:
        return []
    maybe = {m.message_id: m for m in messages
             if support_address(m, settings) and automated(m, settings) is None and not _maybe_score(m)}
    if not maybe:
        return []
    taken = select(CaseEntry.id).where(CaseEntry.email_id == EmailMessage.id).exists()
    late = set(session.scalars(select(EmailMessage.message_id).where(
        EmailMessage.message_id.in_(list(maybe)), EmailMessage.direction == "in",
        EmailMessage.created_at >= now - LATE_WINDOW, ~taken)))
    return [m for mid, m in maybe.items() if mid in late]


def wanted(message: mail_store.MailMessage, settings: Settings | None) -> bool:
    """Whether `handle` has anything to do with the message: it is to a support address, or may be
    a survey's reply (a reply whose text starts with a number). No query: mail capture asks this of
    every message it stores."""
    if settings is None:
        return False
    return bool(support_address(message, settings)) or _maybe_score(message)


def support_address(message: mail_store.MailMessage, settings: Settings) -> str | None:
    """The support address the message was sent to (To, Cc, then the envelope's), or None."""
    ours = settings.support.addresses
    if not ours:
        return None
    for address in (*message.to_addrs, *message.cc_addrs, *message.delivered_to):
        if address.strip().lower() in ours:
            return address.strip().lower()
    return None


def automated(message: mail_store.MailMessage, settings: Settings) -> str | None:
    """Why the message is a machine's (never answered), or None for a person's."""
    if message.automated:
        return message.automated
    sender = (message.from_addr or "").strip().lower()
    if not sender:
        return "no sender"
    if sender in settings.support.addresses:
        return f"from the support address {sender} itself (a loop)"
    local = sender.partition("@")[0]
    if local in _MACHINES or local.startswith(("noreply", "no-reply", "bounce")):
        return f"from {sender}, a machine's address"
    return None


def handle(session: Session, message: mail_store.MailMessage, *, settings: Settings,
           now: datetime | None = None) -> Handled | None:
    """Everything `ingest` does, and what it did; None when the message is not support mail."""
    now = resolve_now(now)
    # locked (PostgreSQL): two syncs reading one message stored before handle it one after the other
    row = session.scalar(select(EmailMessage).where(EmailMessage.message_id == message.message_id)
                         .with_for_update())
    if row is None or row.direction != "in":
        return None  # not stored (a caller's mistake), or the team's own mail
    done = session.scalar(select(CaseEntry.case_id).where(CaseEntry.email_id == row.id).limit(1))
    if done is not None:  # handled before: nothing more
        return Handled(DONE, session.get(Case, done))
    machine = automated(message, settings)
    if machine is None and _maybe_score(message):
        survey = surveys.score_from_reply(session, row, now=now)
        if survey is not None:
            return Handled(SURVEY, session.get(Case, survey.case_id) if survey.case_id else None)
    to = support_address(message, settings)
    if to is None:
        return None
    contact_id = _contact_of(session, message.from_addr)
    case, how = _find(session, message)
    # a machine's mail, or a number answering a survey that took none (answered before, out of
    # range), is kept as a note (the team's, never the customer's word): the case stays as it is
    quiet = machine is not None or (how == _SURVEY and _maybe_score(message))
    if case is not None and (case.status != CLOSED or quiet):
        if quiet:
            what = f"Automated mail ({machine})" if machine is not None else "A survey reply not recorded"
            note = f"{what} from {message.from_addr or 'no sender'}:\n\n{_reply_text(row.body)}"
            cases.add_entry(session, case.id, actor=ACTOR, body=note, visibility=INTERNAL, direction="out",
                            email_id=row.id, now=now)
            return Handled(NOTE, case)
        _entry(session, case, row, body=_reply_text(row.body), contact_id=contact_id, now=now)
        return Handled(ENTRY, case)
    if machine is not None:
        return Handled(IGNORED)
    made = warning = None
    if contact_id is None and message.from_addr:
        try:
            with session.begin_nested():
                contact_id = made = _make_lead(session, message, now=now)
        except CrmError as exc:  # a required custom field, say: the case goes without a contact
            warning = f"no lead made for {message.from_addr}: {exc.message}"
    # the contact's company comes with it (cases.create_case)
    new = cases.create_case(session, actor=ACTOR, subject=(message.subject or "").strip()[:300] or "(no subject)",
                            description=(row.body or "")[:cases.MAX_DESCRIPTION], contact_id=contact_id,
                            channel="email", team=settings.support.team, from_addr=message.from_addr, now=now)
    company_id = new.company_id
    _entry(session, new, row, body=row.body or "", contact_id=contact_id, now=now)
    if case is not None:  # the message answered a closed case: this one follows it up
        cases.note(session, new.id, actor=ACTOR, body=f"Follow-up to the closed case #{case.id}.", now=now)
    acknowledged, why = _acknowledge(session, new, row, to=to, contact_id=contact_id, company_id=company_id,
                                     settings=settings, now=now)
    warning = "; ".join(w for w in (warning, why) if w) or None
    return Handled(FOLLOW_UP if case is not None else NEW, new, acknowledged, made, warning)


# --- finding the case --------------------------------------------------------------------------


_NUMBERED, _THREAD, _SURVEY = "number", "thread", "survey"


def find_case(session: Session, message: mail_store.MailMessage) -> Case | None:
    """The case a message answers: the first `[#id]` of its subject that names a case the sender
    belongs to, else the case whose thread holds an email its In-Reply-To or References name (the
    latest such entry), else the case whose CSAT survey email they name. A merged case gives the
    case it was merged into. A number is easily guessed, a Message-ID is not: a stranger's `[#id]`
    alone (not the case's address, contact or company) does not reach the case, and the message
    opens a case of its own."""
    return _find(session, message)[0]


def _find(session: Session, message: mail_store.MailMessage) -> tuple[Case | None, str | None]:
    """The case and how it was found (_NUMBERED, _THREAD or _SURVEY)."""
    for number in dict.fromkeys(int(n) for n in _NUMBER.findall(message.subject or "")):
        case = _surviving(session, session.get(Case, number))
        if case is not None and _belongs(session, case, message.from_addr):
            return case, _NUMBERED
    refs = list(dict.fromkeys(r for r in (message.in_reply_to, *message.references) if r))[-100:]
    if not refs:
        return None, None
    case_id = session.scalar(
        select(CaseEntry.case_id).join(EmailMessage, EmailMessage.id == CaseEntry.email_id)
        .where(EmailMessage.message_id.in_(refs)).order_by(CaseEntry.id.desc()).limit(1))
    how = _THREAD
    if case_id is None:
        case_id = session.scalar(
            select(Survey.case_id).join(EmailMessage, EmailMessage.id == Survey.email_id)
            .where(EmailMessage.message_id.in_(refs), Survey.case_id.is_not(None)).order_by(Survey.id.desc()).limit(1))
        how = _SURVEY
    if case_id is None:
        return None, None
    return _surviving(session, session.get(Case, case_id)), how


def _belongs(session: Session, case: Case, sender: str | None) -> bool:
    """Whether the sender is the case's customer: the address it came from, its contact, or a
    contact of its company."""
    sender = (sender or "").strip().lower()
    if not sender:
        return False
    if sender == (case.from_addr or "").lower():
        return True
    if case.contact_id is None and case.company_id is None:
        return False
    found = session.execute(
        select(Contact.id, Contact.company_id).join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.email == sender).limit(50)).all()
    return any(c.id == case.contact_id or (case.company_id is not None and c.company_id == case.company_id)
               for c in found)


def _surviving(session: Session, case: Case | None) -> Case | None:
    """The case itself, or the one it was merged into (through any chain of merges)."""
    seen: set[int] = set()
    while case is not None and case.merged_into_id is not None and case.id not in seen:
        if len(seen) >= MAX_MERGE_HOPS:
            return None
        seen.add(case.id)
        case = session.get(Case, case.merged_into_id)
    return case


# --- writing -----------------------------------------------------------------------------------


def _entry(session: Session, case: Case, row: EmailMessage, *, body: str, contact_id: int | None,
           now: datetime) -> CaseEntry:
    """The customer's message on the thread (public, inbound): a waiting or resolved case reopens."""
    return cases.add_entry(session, case.id, actor=ACTOR, body=body[:cases.MAX_BODY] or "(no text)",
                           visibility=PUBLIC, direction="in", email_id=row.id, contact_id=contact_id, now=now)


def _contact_of(session: Session, address: str | None) -> int | None:
    """The contact (not archived) holding the address; the oldest if several do."""
    address = (address or "").strip().lower()
    if not address:
        return None
    return session.scalar(
        select(ContactEmail.contact_id).join(Contact, Contact.id == ContactEmail.contact_id)
        .where(ContactEmail.email == address, Contact.archived.is_(False)).order_by(ContactEmail.contact_id).limit(1))


def _make_lead(session: Session, message: mail_store.MailMessage, *, now: datetime) -> int:
    """A lead for an unknown sender (at the company whose domain the address is at, if any), made
    through the contacts service (checked and audited), and the message put on its timeline."""
    address = message.from_addr.strip().lower()
    try:
        contact_id = mail_contacts.create_contact(session, address=address, name=message.from_name, actor=ACTOR,
                                                  now=now)
    except Duplicate as exc:  # a teammate's sync made it a moment ago (or an archived contact holds it)
        contact_id = exc.existing_id
    mail_store.store_messages(session, [replace(message, direction="inbound", contact_ids=(contact_id,))],
                              actor=ACTOR, source="ingest", now=now)
    return contact_id


# --- the acknowledgement -----------------------------------------------------------------------


def _acknowledge(session: Session, case: Case, row: EmailMessage, *, to: str, contact_id: int | None,
                 company_id: int | None, settings: Settings, now: datetime) -> tuple[bool, str | None]:
    """Queue the acknowledgement of a new case (and keep it on the case's thread); (False, why)
    when none goes (a loop's limit). A template that cannot be used falls back to the built-in
    text, with a warning for the sync log."""
    if contact_id is not None and session.scalar(
            select(func.count()).select_from(Case)
            .where(Case.contact_id == contact_id, Case.channel == "email", Case.id != case.id,
                   Case.created_at >= now - timedelta(hours=1))) >= ACK_LIMIT:
        return False, f"case #{case.id}: no acknowledgement, {ACK_LIMIT} went to {row.from_addr} within the hour"
    team = settings.support.team or "Support"
    subject, body, warning = _ack_text(session, case, row, team=team, to=to, contact_id=contact_id,
                                       company_id=company_id, template=settings.support.ack_template)
    draft = mail_send.Draft(to=[row.from_addr], subject=subject, body=body, contact_id=contact_id,
                            company_id=company_id, in_reply_to=row.message_id)
    queued = mail_send.send(session, draft=draft, actor=ACTOR, now=now, from_addr=settings.support.sender(address=to),
                            source="workflow", rule=ACK_RULE)
    cases.add_entry(session, case.id, actor=ACTOR, body=body, visibility=PUBLIC, direction="out",
                    email_id=queued.email_id, contact_id=contact_id, now=now)
    return True, warning


def _ack_text(session: Session, case: Case, row: EmailMessage, *, team: str, to: str, contact_id: int | None,
              company_id: int | None, template: str | None) -> tuple[str, str, str | None]:
    """(subject, body, warning): the template named, filled for the contact and the case, else
    the built-in text. The subject carries `[#id]` either way."""
    tag = f"[#{case.id}]"
    warning = None
    subject = body = None
    if template:
        try:
            subject, body = _from_template(session, case, template, team=team, to=to, contact_id=contact_id,
                                           company_id=company_id)
        except CrmError as exc:
            warning = f"case #{case.id}: the acknowledgement template {template!r} was not used: {exc.message}"
    if subject is None or body is None or not body.strip():
        first = session.scalar(select(Contact.first_name).where(Contact.id == contact_id)) if contact_id else None
        subject = row.subject or ""
        subject = subject if subject.lower().startswith("re:") else f"Re: {subject}".strip()
        body = (f"Hello{' ' + first if first else ''},\n\n"
                f"Thank you for writing to us. Your message is case #{case.id}, and our team will answer it "
                f"as soon as they can.\n\nTo add to it, reply to this email and keep {tag} in the subject.\n\n"
                f"{team}")
    subject = cases.tagged_subject(case.id, subject)
    if len(subject) > 300:
        subject = f"{subject[:300 - len(tag) - 2]}… {tag}"
    return subject, body, warning


def _from_template(session: Session, case: Case, name: str, *, team: str, to: str, contact_id: int | None,
                   company_id: int | None) -> tuple[str, str]:
    # here: Jinja2 loads with the first acknowledgement, not with every sync
    from crm_tui.services import email_templates as t

    template = t.find_template(session, ref=name, actor=ACTOR)
    context = t.merge_context(session, actor=ACTOR, contact_id=contact_id, company_id=company_id)
    context["me"] = t.Fields("me", {"name": team, "email": to, "login": ACTOR.login})
    context["case"] = t.Fields("case", {"id": case.id, "number": f"#{case.id}", "tag": f"[#{case.id}]",
                                        "subject": case.subject, "team": case.team, "priority": case.priority})
    return t.render_text(template.subject, context, "subject"), t.render_text(template.body, context, "body")


def _maybe_score(message: mail_store.MailMessage) -> bool:
    """A reply whose text starts with a number: perhaps a survey's answer."""
    return bool(message.in_reply_to or message.references) and (message.body or "").lstrip()[:1].isdigit()


def _reply_text(body: str | None) -> str:
    """A reply's own text: the quoted message under "On ... wrote:" (or "-- Original Message --")
    and the quoted lines at its end taken off; the whole text when nothing else is left."""
    text = (body or "").replace("\r\n", "\n")
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if n and _QUOTE_HEAD.match(line.strip()):
            lines = lines[:n]
            break
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    own = "\n".join(lines).strip()
    return own or text.strip()
