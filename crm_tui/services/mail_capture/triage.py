"""Triage: the addresses of captured mail that matched no contact, one line per address, and
what a person does with each: make it a contact (or a lead), link it to an existing contact (the
address becomes one of theirs), or ignore the address or its whole domain. Making or linking a
contact puts that address's waiting mail on the contact's timeline at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import ContactEmail, EmailMessage, MailIgnore, MailTriage
from crm_tui.services import contacts, mail_contacts, mail_store, permissions
from crm_tui.services.common import audit
from crm_tui.services.mail_capture.capture import domain_of
from crm_tui.services.validation import email as valid_email
from crm_tui.shapes import Actor, Page


@dataclass(frozen=True)
class TriageRow:
    address: str
    name: str
    messages: int
    last_at: datetime
    last_subject: str


def _waiting():
    """Triage rows whose address no contact holds yet (one made elsewhere takes it off the list)."""
    held = select(ContactEmail.id).where(ContactEmail.email == MailTriage.address).exists()
    return ~held


def triage_page(session: Session, *, after: str | None = None, limit: int = 50) -> Page[TriageRow]:
    """One page of addresses, in address order (keyset: `after` is the last address shown)."""
    stmt = (select(MailTriage.address, func.max(MailTriage.name), func.count(), func.max(MailTriage.seen_at))
            .where(_waiting()).group_by(MailTriage.address).order_by(MailTriage.address).limit(limit + 1))
    if after:
        stmt = stmt.where(MailTriage.address > after)
    rows = session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    subjects = _last_subjects(session, [r[0] for r in rows])
    items = [TriageRow(address=a, name=n or "", messages=c, last_at=at, last_subject=subjects.get(a, ""))
             for a, n, c, at in rows]
    return Page(items=items, next_cursor=items[-1].address if more and items else None)


def _last_subjects(session: Session, addresses: list[str]) -> dict[str, str]:
    if not addresses:
        return {}
    rows = session.execute(
        select(MailTriage.address, EmailMessage.subject, EmailMessage.sent_at)
        .join(EmailMessage, EmailMessage.id == MailTriage.email_id)
        .where(MailTriage.address.in_(addresses))
        .order_by(MailTriage.address, EmailMessage.sent_at, EmailMessage.id))
    return {address: subject for address, subject, _ in rows}  # the last of each address wins


def triage_count(session: Session) -> int:
    return session.execute(select(func.count(func.distinct(MailTriage.address))).where(_waiting())).scalar_one()


def _address(value: str) -> str:
    address = (value or "").strip().strip("<>").lower()
    if "@" not in address:
        raise InvalidInput(f"{value!r} is not an email address")
    return address


def _waiting_name(session: Session, address: str) -> str:
    name = session.execute(select(func.max(MailTriage.name)).where(MailTriage.address == address)).scalar()
    if name is None:
        raise NotFound(f"{address} is not in Triage (crm mail triage lists it)")
    return name or ""


def create_contact(session: Session, *, address: str, actor: Actor, lifecycle: str = "lead",
                   now: datetime | None = None) -> tuple[int, int]:
    """A contact (a lead, by default) from the address and the name its mail gave, at the company
    whose domain it is if there is one; the address's waiting mail goes on its timeline. Returns
    the contact's id and the number of messages linked."""
    now = resolve_now(now)
    address = _address(address)
    made = mail_contacts.create_contact(session, address=address, name=_waiting_name(session, address), actor=actor,
                                        lifecycle=lifecycle, now=now)
    return made, _link_waiting(session, address, made, actor=actor, now=now)


def link_contact(session: Session, *, address: str, contact_id: int, actor: Actor,
                 now: datetime | None = None) -> int:
    """The address becomes one of the contact's emails, and its waiting mail goes on their
    timeline. Returns the number of messages linked."""
    now = resolve_now(now)
    address = _address(address)
    _waiting_name(session, address)
    current = contacts.get_contact(session, contact_id=contact_id)
    if address not in current.emails:
        contacts.update_contact(session, contact_id=contact_id, changes={"emails": [*current.emails, address]},
                                actor=actor, now=now)
    return _link_waiting(session, address, contact_id, actor=actor, now=now)


def _link_waiting(session: Session, address: str, contact_id: int, *, actor: Actor, now: datetime) -> int:
    rows = session.execute(
        select(EmailMessage).join(MailTriage, MailTriage.email_id == EmailMessage.id)
        .where(MailTriage.address == address)).scalars().all()
    messages = [mail_store.MailMessage(
        message_id=m.message_id, sent_at=m.sent_at, subject=m.subject, from_addr=m.from_addr,
        to_addrs=tuple(m.to_addrs or ()), cc_addrs=tuple(m.cc_addrs or ()), body=m.body,
        direction="outbound" if m.direction == "out" else "inbound", contact_ids=(contact_id,)) for m in rows]
    for start in range(0, len(messages), 200):
        mail_store.store_messages(session, messages[start:start + 200], actor=actor, source="ingest", now=now)
    session.execute(delete(MailTriage).where(MailTriage.address == address))
    return len(messages)


def ignore(session: Session, *, value: str, domain: bool = False, actor: Actor, now: datetime | None = None) -> int:
    """Never triage mail of this address (or, `domain`, of any address at it; "@example.com"
    means the domain too). Returns how many addresses left the list."""
    now = resolve_now(now)
    permissions.require(session, actor, "contact.edit")
    text = (value or "").strip().lower()
    if text.startswith("@"):
        domain, text = True, text[1:]
    if domain:
        text = domain_of(text) if "@" in text else text
        if not text or "." not in text or " " in text:
            raise InvalidInput(f"{value!r} is not a domain")
        where = MailTriage.domain == text
    else:
        text = valid_email(text)
        where = MailTriage.address == text
    kind = "domain" if domain else "address"
    exists = session.execute(select(MailIgnore.id).where(MailIgnore.kind == kind, MailIgnore.value == text)).scalar()
    if exists is None:
        session.execute(insert(MailIgnore).values(kind=kind, value=text, by=actor.login[:100], at=now))
        audit(session, actor=actor, entity="mail_ignore", entity_id=None, action="create", now=now,
              summary=f"ignore mail of {kind} {text}")
    gone = session.execute(select(func.count(func.distinct(MailTriage.address))).where(where)).scalar_one()
    session.execute(delete(MailTriage).where(where))
    return gone


def unignore(session: Session, *, value: str, actor: Actor, now: datetime | None = None) -> bool:
    """Take an address or a domain ("@example.com") off the ignore list; later mail is triaged again."""
    now = resolve_now(now)
    permissions.require(session, actor, "contact.edit")
    text = (value or "").strip().lower()
    kind, text = ("domain", text[1:]) if text.startswith("@") else ("address" if "@" in text else "domain", text)
    gone = session.execute(delete(MailIgnore).where(MailIgnore.kind == kind, MailIgnore.value == text)).rowcount
    if gone:
        audit(session, actor=actor, entity="mail_ignore", entity_id=None, action="delete", now=now,
              summary=f"stop ignoring mail of {kind} {text}")
    return bool(gone)


def ignore_list(session: Session, *, limit: int = 500) -> list:
    """The ignore list (rows: kind, value, by, at)."""
    t = MailIgnore
    return list(session.execute(select(t.kind, t.value, t.by, t.at).order_by(t.kind, t.value).limit(limit)).all())
