"""Storing mail: every message the CRM sends, syncs or ingests goes through `store_messages`.

A message is stored once, by its Message-ID (`email_messages`), however many mailboxes hold it or
however often it is synced. It reaches the timeline as one email activity per linked contact
(`activities.email_id`, unique per contact), with the contact's company and, when given, a deal. A
message that matches no contact is stored without activities: it waits in Triage.

Set-based for a sync's batches: one query for the Message-IDs already stored, one for the contacts
the addresses match, then inserts; never a query per message or per address. Re-storing a batch
changes nothing (both inserts skip what exists), so a sync that dies half-way can run again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.models import Activity, AuditEvent, Contact, ContactEmail, EmailMessage
from crm_tui.models.enums import ActivityKind, Direction
from crm_tui.services import bulk, permissions, sequences
from crm_tui.services.common import audit_rows
from crm_tui.shapes import Actor

SOURCES = ("sent", "workflow", "sync", "ingest")
_ID = re.compile(r"<([^<>\s]+)>")


def clean_message_id(raw: str | None) -> str | None:
    """A Message-ID without its angle brackets and surrounding space ("<a@b>" -> "a@b"); None when empty."""
    if not raw:
        return None
    raw = str(raw).strip()
    found = _ID.search(raw)
    value = found.group(1) if found else raw.strip("<> \t\r\n")
    return value[:998] or None


def message_ids(raw: str | None) -> list[str]:
    """Every Message-ID in a References or In-Reply-To header, in order."""
    if not raw:
        return []
    found = _ID.findall(str(raw))
    return [i[:998] for i in found] if found else [i[:998] for i in str(raw).split() if i.strip("<>")]


def thread_key(message_id: str, in_reply_to: str | None, references: Sequence[str] = ()) -> str:
    """The Message-ID of the thread's first message: the first of References, else In-Reply-To,
    else the message's own."""
    return (references[0] if references else None) or in_reply_to or message_id


def synthetic_message_id(*parts: object) -> str:
    """A stable Message-ID for a message that has none: the same headers give the same id, so a
    re-sync stores it once."""
    digest = hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode("utf-8", "replace"))
    return f"{digest.hexdigest()[:32]}@no-message-id.crm-tui"


@dataclass(frozen=True)
class MailMessage:
    """A message ready to store: parsed, decoded, its body plain text."""

    message_id: str
    sent_at: datetime
    subject: str = ""
    from_addr: str = ""
    to_addrs: tuple[str, ...] = ()
    cc_addrs: tuple[str, ...] = ()
    body: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[dict, ...] = ()
    size: int = 0
    # "inbound" or "outbound"; None: decided by `ours` (the team's addresses) when storing
    direction: str | None = None
    # contacts to link besides those its addresses match (the record an email is sent from)
    contact_ids: tuple[int, ...] = ()
    deal_id: int | None = None
    company_id: int | None = None
    # read from headers the table does not keep (services/case_mail decides on them before storing
    # is done): the envelope's Delivered-To / X-Original-To, and why a machine sent it (an
    # auto-reply, a bounce, a list's mail: "Auto-Submitted: auto-replied"), None for a person's mail
    delivered_to: tuple[str, ...] = ()
    automated: str | None = None
    from_name: str = ""  # the sender's display name (a lead made from the mail takes it)

    def addresses(self) -> set[str]:
        return {a.strip().lower() for a in (self.from_addr, *self.to_addrs, *self.cc_addrs) if a and a.strip()}


@dataclass
class Stored:
    """What `store_messages` did: the email row of each message given (by Message-ID), which were
    new, the activities made, and the messages that matched no contact (Triage)."""

    email_ids: dict[str, int] = field(default_factory=dict)
    new: list[str] = field(default_factory=list)
    activities: int = 0
    unmatched: list[str] = field(default_factory=list)


def store_messages(session: Session, messages: Iterable[MailMessage], *, actor: Actor, source: str,
                   user_id: int | None = None, ours: Iterable[str] = (), now: datetime | None = None) -> Stored:
    """Store a batch of messages and link each to its contacts as email activities (audited).

    `ours`: the addresses that are the team's (the user's own, the team BCC box); a message from
    one of them is outbound, and they are never matched as contacts. Checked against `activity.log`.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown mail source {source!r}")
    permissions.require(session, actor, "activity.log")
    now = resolve_now(now)
    ours = {a.strip().lower() for a in ours if a}
    batch: dict[str, MailMessage] = {}
    for message in messages:
        batch.setdefault(message.message_id, message)  # a Message-ID twice in one batch: the first
    result = Stored()
    if not batch:
        return result

    existing = dict(session.execute(
        select(EmailMessage.message_id, EmailMessage.id).where(EmailMessage.message_id.in_(list(batch)))).all())
    fresh = [m for mid, m in batch.items() if mid not in existing]
    if fresh:
        rows = [_email_row(m, source=source, user_id=user_id, ours=ours, now=now) for m in fresh]
        bulk.insert_rows(session, EmailMessage.__table__, rows)  # Core (straight to the driver on SQLite)
        existing.update(session.execute(
            select(EmailMessage.message_id, EmailMessage.id)
            .where(EmailMessage.message_id.in_([m.message_id for m in fresh]))).all())
        result.new = [m.message_id for m in fresh]
    result.email_ids = {mid: existing[mid] for mid in batch}

    wanted = set().union(*(m.addresses() - ours for m in batch.values()))
    by_address = _contacts_by_address(session, wanted)
    links: dict[int, set[int]] = {}  # email id -> contact ids
    for mid, message in batch.items():
        contacts = set(message.contact_ids).union(*(by_address.get(a, ()) for a in message.addresses() - ours))
        if not contacts and message.deal_id is None and message.company_id is None:
            result.unmatched.append(mid)
        links[result.email_ids[mid]] = contacts
    result.activities = _link(session, batch, result.email_ids, links, actor=actor, ours=ours, user_id=user_id,
                              now=now)
    # a reply stops the contact's sequences
    sequences.stop_for_replies(session, email_ids=[result.email_ids[mid] for mid in result.new], now=now)
    return result


def _direction(message: MailMessage, ours: set[str]) -> str:
    if message.direction:
        return message.direction
    return Direction.OUTBOUND.value if (message.from_addr or "").strip().lower() in ours else Direction.INBOUND.value


def _email_row(m: MailMessage, *, source: str, user_id: int | None, ours: set[str], now: datetime) -> dict:
    return dict(
        message_id=m.message_id, in_reply_to=m.in_reply_to, references=" ".join(m.references) or None,
        thread_key=thread_key(m.message_id, m.in_reply_to, m.references)[:998],
        direction="out" if _direction(m, ours) == Direction.OUTBOUND.value else "in",
        subject=(m.subject or "")[:300], from_addr=(m.from_addr or "")[:320],
        to_addrs=list(m.to_addrs), cc_addrs=list(m.cc_addrs), sent_at=m.sent_at, body=m.body,
        attachments=list(m.attachments), size=m.size, source=source, user_id=user_id, created_at=now)


def _contacts_by_address(session: Session, addresses: set[str]) -> dict[str, set[int]]:
    """Each address -> the contacts (not archived) that hold it, in one query (chunked for the
    drivers' parameter limits)."""
    found: dict[str, set[int]] = {}
    addresses = sorted(addresses)
    for start in range(0, len(addresses), 500):
        chunk = addresses[start:start + 500]
        rows = session.execute(
            select(ContactEmail.email, ContactEmail.contact_id)
            .join(Contact, Contact.id == ContactEmail.contact_id)
            .where(ContactEmail.email.in_(chunk), Contact.archived.is_(False)))
        for address, contact_id in rows:
            found.setdefault(address, set()).add(contact_id)
    return found


def _link(session: Session, batch: dict[str, MailMessage], email_ids: dict[str, int], links: dict[int, set[int]],
          *, actor: Actor, ours: set[str], user_id: int | None, now: datetime) -> int:
    """Insert the email activities not yet there (one per message and contact), their audit rows,
    and move each contact's last-contacted time."""
    wanted = {(email_id, contact_id) for email_id, contacts in links.items() for contact_id in contacts}
    message_of = {email_ids[mid]: m for mid, m in batch.items()}
    bare = [eid for eid, contacts in links.items() if not contacts
            and (message_of[eid].deal_id is not None or message_of[eid].company_id is not None)]
    if not wanted and not bare:
        return 0
    have = set(session.execute(
        select(Activity.email_id, Activity.contact_id).where(Activity.email_id.in_(list(links)))).all())
    company_of = dict(session.execute(
        select(Contact.id, Contact.company_id).where(Contact.id.in_({c for _, c in wanted}))).all()) if wanted else {}
    rows = []
    for email_id, contact_id in sorted(wanted - have) + [(e, None) for e in sorted(bare) if (e, None) not in have]:
        m = message_of[email_id]
        rows.append(dict(
            kind=ActivityKind.EMAIL.value, direction=_direction(m, ours), occurred_at=m.sent_at,
            subject=(m.subject or "")[:300] or None, body=m.body, contact_id=contact_id,
            company_id=m.company_id or (company_of.get(contact_id) if contact_id else None),
            deal_id=m.deal_id, user_id=user_id if user_id is not None else actor.user_id, email_id=email_id,
            version=1, created_at=now, updated_at=now))
    if not rows:
        return 0
    # as for the emails; every column is given (version 1 included): no Python-side default is missed
    made = bulk.insert_returning(session, Activity.__table__, rows, ("id", "subject"))
    events = [("activity", id_, "create", f"email: {subject or ''}".strip()) for id_, subject in made]
    audit = audit_rows(actor=actor, now=now, events=events)
    if audit:
        bulk.insert_rows(session, AuditEvent.__table__, audit)
    latest: dict[int, datetime] = {}
    for row in rows:
        if row["contact_id"] is not None and row["occurred_at"] <= now:
            latest[row["contact_id"]] = max(row["occurred_at"], latest.get(row["contact_id"], row["occurred_at"]))
    if latest:  # one statement for the batch, run for each contact (a sync links hundreds at once)
        contacts = Contact.__table__
        session.execute(
            update(contacts)
            .where(contacts.c.id == bindparam("contact"),
                   or_(contacts.c.last_contacted_at.is_(None), contacts.c.last_contacted_at < bindparam("at")))
            .values(last_contacted_at=bindparam("at")),
            [{"contact": contact_id, "at": at} for contact_id, at in latest.items()])
    return len(rows)


def thread(session: Session, *, email_id: int, limit: int = 200) -> list[EmailMessage]:
    """The messages of an email's thread, oldest first (one index scan on thread_key)."""
    key = session.execute(select(EmailMessage.thread_key).where(EmailMessage.id == email_id)).scalar_one_or_none()
    if key is None:
        return []
    return list(session.scalars(
        select(EmailMessage).where(or_(EmailMessage.thread_key == key, EmailMessage.message_id == key))
        .order_by(EmailMessage.sent_at, EmailMessage.id).limit(limit)))

