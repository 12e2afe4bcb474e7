"""Sending email from a record: the recipients a record offers, a draft from a template or blank,
and queueing it in the outbox in the same transaction that stores the message and logs it on the
timeline of its contacts, company and deal. The outbox is sent after commit by whoever queued it
(workflows/email.send_queued), so a rolled-back write sends nothing and a sent email is never sent twice."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr, getaddresses, parseaddr

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Activity, AuditEvent, Company, Contact, ContactEmail, Deal, EmailMessage, User
from crm_tui.models.enums import Direction
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import lookup, mail_store, permissions, validation as v
from crm_tui.services.common import Actor, audit, audit_rows, get_or_404, is_id

MAX_RECIPIENTS = 50
COMPANY_CONTACTS = 20
MAX_BODY = 200_000  # characters of an email's body  # a company's recipients offered: its first contacts by name


@dataclass(frozen=True)
class Recipients:
    """Who a record's email goes to by default (`to`), and the other addresses it knows (`others`)."""

    to: list[str]
    others: list[str]


@dataclass
class Draft:
    to: list[str]
    subject: str
    body: str
    cc: list[str] = field(default_factory=list)
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None
    # the Message-ID (no angle brackets) this email answers; References follow from the stored thread
    in_reply_to: str | None = None
    template_id: int | None = None


@dataclass(frozen=True)
class Queued:
    outbox_id: int | None  # None on a dry run
    email_id: int | None
    message_id: str
    from_addr: str
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    in_reply_to: str | None
    references: str | None
    activity_ids: list[int]
    warning: str | None = None  # a dry run's: what would stop the real send (no From address)


# --- addresses ---------------------------------------------------------------------------------


def addresses(values: list[str] | str | None, label: str) -> list[str]:
    """Every address in `values` (each may hold several, comma-separated, "Name <a@b>" or bare),
    checked and lower-cased, duplicates dropped, in order."""
    if isinstance(values, str):
        values = [values]
    found: list[str] = []
    for _name, addr in getaddresses([x for x in (values or []) if x and x.strip()]):
        if not addr:
            continue
        try:
            addr = v.email(addr)
        except InvalidInput as exc:
            raise InvalidInput(f"{label}: {exc.message}") from None
        if addr not in found:
            found.append(addr)
    if len(found) > MAX_RECIPIENTS:
        raise InvalidInput(f"{label}: at most {MAX_RECIPIENTS} addresses")
    return found


def sender(session: Session, actor: Actor) -> str:
    """The actor's own From: "Name <address>"; a user without an email address cannot send."""
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not user.email:
        raise InvalidInput(f"{actor.login} has no email address to send from; an admin sets it in the user's "
                           "settings", see=f"crm user edit {actor.login} --email ADDRESS")
    return formataddr((user.name or user.login, user.email))


def recipients(session: Session, *, contact_id: int | None = None, company_id: int | None = None,
               deal_id: int | None = None) -> Recipients:
    """A contact's primary email (its others offered); a deal's contact's; a company's first contact's
    (its other contacts offered)."""
    if deal_id is not None and contact_id is None:
        deal = get_or_404(session, Deal, deal_id, "deal")
        contact_id, company_id = deal.contact_id, company_id or deal.company_id
    if contact_id is not None:
        get_or_404(session, Contact, contact_id, "contact")
        emails = list(session.scalars(select(ContactEmail.email).where(ContactEmail.contact_id == contact_id)
                                      .order_by(ContactEmail.position, ContactEmail.id)))
        if not emails:
            primary = session.scalar(select(Contact.email).where(Contact.id == contact_id))
            emails = [primary] if primary else []
        return Recipients(to=emails[:1], others=emails[1:])
    if company_id is not None:
        get_or_404(session, Company, company_id, "company")
        emails = [e for e in session.scalars(
            select(Contact.email).where(Contact.company_id == company_id, Contact.archived.is_(False),
                                        Contact.email.is_not(None))
            .order_by(Contact.sort_name, Contact.id).limit(COMPANY_CONTACTS)) if e]
        return Recipients(to=emails[:1], others=emails[1:])
    return Recipients(to=[], others=[])


def address_choices(session: Session, *, query: str, limit: int = 5) -> list[lookup.Choice]:
    """Addresses to add to an email: the emails of the contacts a search finds (label: the
    address; detail: whose it is), for the compose screen's picker."""
    found = lookup.pick(session, kind="contact", query=query, limit=limit)
    if not found:
        return []
    emails: dict[int, list[str]] = {}
    for contact_id, address in session.execute(
            select(ContactEmail.contact_id, ContactEmail.email).where(ContactEmail.contact_id.in_([c.id for c in found]))
            .order_by(ContactEmail.position, ContactEmail.id)):
        emails.setdefault(contact_id, []).append(address)
    return [lookup.Choice("contact", c.id, address, c.label) for c in found for address in emails.get(c.id, [])][:limit]


@dataclass(frozen=True)
class Reply:
    """What answering a stored email starts from: its Message-ID, "Re: " its subject, and the
    other party (whom it came from, or whom it went to)."""

    in_reply_to: str
    subject: str
    to: list[str]


def reply_to(session: Session, *, activity_id: int | None = None, email_id: int | None = None) -> Reply:
    """The reply to the email an email activity on the timeline holds (or, `email_id`, to a stored
    email itself: the latest message of a thread)."""
    stmt = select(EmailMessage.message_id, EmailMessage.subject, EmailMessage.direction,
                  EmailMessage.from_addr, EmailMessage.to_addrs)
    if email_id is not None:
        stmt = stmt.where(EmailMessage.id == email_id)
    else:
        stmt = stmt.join(Activity, Activity.email_id == EmailMessage.id).where(Activity.id == activity_id)
    row = session.execute(stmt).first()
    if row is None:
        raise InvalidInput("this timeline entry is not a stored email, so there is nothing to reply to")
    subject = row.subject or ""
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}".strip()
    to = list(row.to_addrs or []) if row.direction == "out" else [parseaddr(row.from_addr)[1]]
    return Reply(row.message_id, subject[:300], [a for a in to if a])


# --- drafts ------------------------------------------------------------------------------------


def draft(session: Session, *, actor: Actor, contact_id: int | None = None, company_id: int | None = None,
          deal_id: int | None = None, template_id: int | None = None, subject: str = "", body: str = "",
          to: list[str] | None = None, cc: list[str] | None = None, in_reply_to: str | None = None) -> Draft:
    """A draft for a record: its recipients unless given, and the template filled for it (a merge
    field with no value is an error here, before anything is sent)."""
    # here: Jinja2 loads when a draft is first made, not with the workflow engine at every start
    from crm_tui.services import email_templates

    if to is None:
        to = recipients(session, contact_id=contact_id, company_id=company_id, deal_id=deal_id).to
    if template_id is not None:
        template = email_templates.get_template(session, template_id=template_id, actor=actor)
        subject, body = template.subject, template.body
    rendered = email_templates.render(session, subject=subject, body=body, actor=actor, contact_id=contact_id,
                                      company_id=company_id, deal_id=deal_id)
    return Draft(to=list(to), cc=list(cc or []), subject=rendered.subject, body=rendered.body,
                 contact_id=contact_id, company_id=company_id, deal_id=deal_id, in_reply_to=in_reply_to,
                 template_id=template_id)


def new_message_id(from_addr: str) -> str:
    """A Message-ID (without angle brackets) on the sender's domain, unique the world over."""
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "crm.invalid"
    return f"crm-{uuid.uuid4().hex}@{domain}"


def _reply_headers(session: Session, in_reply_to: str | None) -> tuple[str | None, str | None]:
    """(In-Reply-To, References) for a reply: the stored parent's References and its own id."""
    if not in_reply_to:
        return None, None
    parent_id = in_reply_to.strip().strip("<>").strip()
    if not parent_id or len(parent_id) > 998 or any(c.isspace() for c in parent_id):
        raise InvalidInput(f"not a Message-ID: {in_reply_to!r}")
    parent = session.scalar(select(EmailMessage.references).where(EmailMessage.message_id == parent_id))
    refs = [*(parent or "").split(), parent_id]
    return parent_id, " ".join(dict.fromkeys(refs))


def _check(session: Session, d: Draft) -> tuple[list[str], list[str], str, str]:
    to, cc, subject, body = _check_text(d)
    _check_records(d, _existing(session, [d]))
    return to, cc, subject, body


_RECORDS = (("contact", Contact, "contact_id"), ("company", Company, "company_id"), ("deal", Deal, "deal_id"))


def _existing(session: Session, drafts: Sequence[Draft],
              known: Mapping[str, Collection[int]] | None = None) -> dict[str, set[int]]:
    """The ids the drafts name that exist, by kind (one query per kind named); `known`: ids by kind
    the caller has read in this transaction, not read again, nor are those the session holds (as
    get_or_404 finds them)."""
    found: dict[str, set[int]] = {}
    for label, model, attr in _RECORDS:
        have = set((known or {}).get(label, ())) | {
            i for d in drafts if (i := getattr(d, attr)) is not None and identity_key(model, i) in session.identity_map}
        wanted = sorted({i for d in drafts if is_id(i := getattr(d, attr), session, model)} - have)
        found[label] = {getattr(d, attr) for d in drafts} & have
        for start in range(0, len(wanted), 500):
            found[label].update(session.scalars(select(model.id).where(model.id.in_(wanted[start:start + 500]))))
    return found


def _check_records(d: Draft, known: dict[str, set[int]]) -> None:
    """NotFound for a record the draft names that does not exist (`known`: `_existing`'s ids)."""
    for label, _model, attr in _RECORDS:
        id_ = getattr(d, attr)
        if id_ is not None and id_ not in known[label]:
            raise NotFound(f"no {label} with id {id_}")


def _check_text(d: Draft) -> tuple[list[str], list[str], str, str]:
    """The draft's addresses, subject and body, checked (no query)."""
    to = addresses(d.to, "To")
    cc = [a for a in addresses(d.cc, "Cc") if a not in to]
    if not to:
        raise InvalidInput("the email has nobody to go to: give a To address")
    subject = v.required_text(d.subject, "subject", max_length=300)
    body = v.clean_text(d.body or "", multiline=True)
    if not body.strip():
        raise InvalidInput("the email has no body")
    if len(body) > MAX_BODY:
        raise InvalidInput("the email's body is too long")
    return to, cc, subject, body


def send(session: Session, *, draft: Draft, actor: Actor, now: datetime | None = None, dry_run: bool = False,
         from_addr: str | None = None, source: str = "sent", rule: str = "", firing_id: int | None = None,
         id_from: str | None = None, outcome: str | None = None) -> Queued:
    """Queue the email in the outbox and store it as an email activity on its contact, company and
    deal (and on every other contact it goes to), all in the caller's transaction. `dry_run`
    checks everything and writes nothing. A rule's email (`source="workflow"`) goes from the
    [smtp] sender: `from_addr` None, and `id_from` (that sender) gives its Message-ID's domain."""
    now = resolve_now(now)
    permissions.require(session, actor, "activity.log")
    to, cc, subject, body = _check(session, draft)
    warning = None
    if from_addr is None and source == "sent":
        try:
            from_addr = sender(session, actor)
        except InvalidInput as exc:
            if not dry_run:
                raise
            warning = exc.message
    message_id = new_message_id(from_addr or id_from or "")
    in_reply_to, references = _reply_headers(session, draft.in_reply_to)
    if dry_run:
        return Queued(None, None, message_id, from_addr or "", to, cc, subject, body, in_reply_to, references, [],
                      warning)
    email_id, activity_ids = _store(session, draft, message_id=message_id, from_addr=from_addr or id_from or "",
                                    to=to, cc=cc, subject=subject, body=body, in_reply_to=in_reply_to,
                                    references=references, source=source, actor=actor, now=now, outcome=outcome)
    outbox = EmailOutbox(firing_id=firing_id, rule=rule[:100], to_addr=to[0], subject=subject, body=body,
                         status="queued", created_at=now, from_addr=from_addr, to_addrs=to, cc_addrs=cc,
                         message_id=message_id, in_reply_to=in_reply_to, references=references,
                         email_id=email_id, user_id=actor.user_id)
    session.add(outbox)
    session.flush()
    audit(session, actor=actor, entity="email", entity_id=email_id, action="send", now=now,
          summary=f"to {', '.join(to)}: {subject}"[:2000])
    return Queued(outbox.id, email_id, message_id, from_addr or "", to, cc, subject, body, in_reply_to,
                  references, activity_ids)



def _store(session: Session, d: Draft, *, message_id: str, from_addr: str, to: list[str], cc: list[str],
           subject: str, body: str, in_reply_to: str | None, references: str | None, source: str, actor: Actor,
           now: datetime, outcome: str | None) -> tuple[int, list[int]]:
    """Store the message (services/mail_store) and link it: the draft's contact, every other
    contact it goes to, the company and the deal. Returns the message's id and its activities."""
    sender = parseaddr(from_addr)[1] or from_addr
    message = _message(d, sender, message_id, to, cc, subject, body, now, in_reply_to=in_reply_to,
                       references=references)
    # the contacts To and Cc name are matched by the one rule of mail_store (the sender is ours)
    stored = mail_store.store_messages(session, [message], actor=actor, source=source, user_id=actor.user_id,
                                       ours=[sender], now=now)
    email_id = stored.email_ids[message_id]
    if outcome:
        session.execute(update(Activity).where(Activity.email_id == email_id).values(outcome=outcome)
                        .execution_options(synchronize_session=False))
    activity_ids = list(session.scalars(select(Activity.id).where(Activity.email_id == email_id)
                                        .order_by(Activity.id)))
    return email_id, activity_ids


# --- many at once --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One email of a batch (`send_many`): its draft, its From ("Name <address>"; None: the [smtp]
    sender) and whose email it is (the outbox's user_id: the SMTP login it goes out under)."""

    draft: Draft
    from_addr: str | None = None
    user_id: int | None = None


def send_many(session: Session, items: Sequence[Outgoing], *, actor: Actor, now: datetime | None = None,
              source: str = "workflow", rule: str = "", id_from: str | None = None,
              outcome: str | None = None,
              known: Mapping[str, Collection[int]] | None = None) -> list[Queued | InvalidInput | NotFound]:
    """`send` for a batch of new emails (a sequence's due steps), set-based: the same checks for each
    (a bad one is its InvalidInput, or NotFound, in the result, in its place, and the rest go on), one query per
    kind of record they name, the messages stored by mail_store in one batch per sender, and one
    INSERT each of the outbox rows and their audit rows. The drafts start threads (no In-Reply-To).
    `known`: the ids by kind ("contact", "company", "deal") the caller has read in this transaction,
    so not read again to check that they exist."""
    now = resolve_now(now)
    permissions.require(session, actor, "activity.log")
    results: list[Queued | InvalidInput | NotFound | None] = [None] * len(items)
    known = _existing(session, [i.draft for i in items], known)
    ready: list[tuple[int, Outgoing, list[str], list[str], str, str, str]] = []
    for n, item in enumerate(items):
        d = item.draft
        try:
            if d.in_reply_to:
                raise InvalidInput("a reply is sent on its own (mail_send.send)")
            to, cc, subject, body = _check_text(d)
            _check_records(d, known)
        except (InvalidInput, NotFound) as exc:
            results[n] = exc
            continue
        ready.append((n, item, to, cc, subject, body, new_message_id(item.from_addr or id_from or "")))
    if not ready:
        return results  # type: ignore[return-value]
    by_sender: dict[str, list[tuple]] = {}
    for one in ready:
        by_sender.setdefault(parseaddr(one[1].from_addr or id_from or "")[1] or (one[1].from_addr or id_from or ""),
                             []).append(one)
    email_ids: dict[str, int] = {}
    for sender_addr, group in by_sender.items():
        stored = mail_store.store_messages(session, [_message(item.draft, sender_addr, mid, to, cc, subject, body, now)
                                                     for _n, item, to, cc, subject, body, mid in group],
                                           actor=actor, source=source, user_id=actor.user_id, ours=[sender_addr],
                                           now=now)
        email_ids.update(stored.email_ids)
    ids = [email_ids[one[6]] for one in ready]
    activity_ids: dict[int, list[int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        if outcome:
            session.execute(update(Activity).where(Activity.email_id.in_(chunk)).values(outcome=outcome)
                            .execution_options(synchronize_session=False))
        for activity_id, email_id in session.execute(select(Activity.id, Activity.email_id)
                                                     .where(Activity.email_id.in_(chunk)).order_by(Activity.id)):
            activity_ids.setdefault(email_id, []).append(activity_id)
    outbox = EmailOutbox.__table__
    made = session.execute(insert(outbox).returning(outbox.c.id, outbox.c.email_id), [dict(
        firing_id=None, rule=rule[:100], to_addr=to[0], subject=subject, body=body, status="queued", attempts=0,
        created_at=now, from_addr=item.from_addr, to_addrs=to, cc_addrs=cc, message_id=mid, in_reply_to=None,
        references=None, email_id=email_ids[mid], user_id=item.user_id, quote_id=None)
        for _n, item, to, cc, subject, body, mid in ready]).all()
    outbox_of = {email_id: outbox_id for outbox_id, email_id in made}
    session.execute(insert(AuditEvent.__table__), audit_rows(actor=actor, now=now, events=[
        ("email", email_ids[mid], "send", f"to {', '.join(to)}: {subject}"[:2000])
        for _n, _item, to, _cc, subject, _body, mid in ready]))
    for n, item, to, cc, subject, body, mid in ready:
        email_id = email_ids[mid]
        results[n] = Queued(outbox_of[email_id], email_id, mid, item.from_addr or id_from or "", to, cc, subject,
                            body, None, None, activity_ids.get(email_id, []))
    return results  # type: ignore[return-value]


def _message(d: Draft, sender: str, message_id: str, to: list[str], cc: list[str], subject: str, body: str,
             now: datetime, *, in_reply_to: str | None = None, references: str | None = None) -> mail_store.MailMessage:
    """The message as mail_store keeps it, linked to the draft's records (mail_store links the
    contacts To and Cc name); `sender` is the bare From address."""
    return mail_store.MailMessage(
        message_id=message_id, sent_at=now, subject=subject, from_addr=sender, to_addrs=tuple(to),
        cc_addrs=tuple(cc), body=body, in_reply_to=in_reply_to, references=tuple((references or "").split()),
        size=len(body.encode("utf-8")), direction=Direction.OUTBOUND.value,
        contact_ids=(d.contact_id,) if d.contact_id is not None else (), deal_id=d.deal_id,
        company_id=d.company_id)
