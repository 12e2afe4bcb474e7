"""An email's conversation: the messages of its thread that the actor may see, oldest first, a
bounded page at a time (the latest page first), for the app's thread view and `crm mail thread`.

Who may see a message: timelines are open to every user (activities are not read-checked), so a
message on any timeline (it has an email activity) is visible to all; a message on no timeline (it
matched no contact: it waits in Triage) is visible only to the user whose mailbox brought it in, and
to the system actor. The thread is found by its key (`email_messages.thread_key`, see mail_store):
two index walks, merged and limited in SQL, never the whole table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select, true
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Activity, EmailMessage
from crm_tui.services import mail_store
from crm_tui.services.common import is_id
from crm_tui.services.paging import END, SortKey, keyset_page
from crm_tui.shapes import Actor, Page

THREAD = SortKey(EmailMessage.sent_at, EmailMessage.id)  # oldest first
PAGE = 50
_EMAIL_REF = re.compile(r"^(?:email:|e)#?(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ThreadMessage:
    """One message of a thread, as the thread view and `crm mail thread` show it."""

    email_id: int
    message_id: str
    sent_at: datetime
    direction: str  # "in" or "out", as seen by the team
    from_addr: str
    to_addrs: list[str]
    cc_addrs: list[str]
    subject: str
    body: str | None
    attachments: list[dict]


def _visible(actor: Actor):
    """The messages `actor` may see, as an SQL condition (see the module's docstring)."""
    if actor.is_system:
        return true()
    on_a_timeline = exists(select(Activity.id).where(Activity.email_id == EmailMessage.id))
    return or_(on_a_timeline, EmailMessage.user_id == actor.user_id)


def email_of_activity(session: Session, *, activity_id: int) -> int | None:
    """The stored email an activity holds; None for one logged by hand (or not an email).
    NotFound when there is no such activity."""
    if not is_id(activity_id, session, Activity):
        raise NotFound(f"no activity with id {activity_id}")
    row = session.execute(select(Activity.id, Activity.email_id).where(Activity.id == activity_id)).first()
    if row is None:
        raise NotFound(f"no activity with id {activity_id}")
    return row.email_id


def resolve(session: Session, *, ref: str) -> int:
    """The email a reference names: an activity id (`123`, as the timelines show), an email's own id
    (`email:45` or `e45`), or a Message-ID (`<abc@example.com>`)."""
    text = (ref or "").strip()
    if text.isdigit():
        email_id = email_of_activity(session, activity_id=int(text))
        if email_id is None:
            raise InvalidInput(f"activity #{text} is not a stored email (logged by hand, or not an email): "
                               "it has no thread")
        return email_id
    found = _EMAIL_REF.match(text)
    if found:
        email_id = int(found.group(1))
        if not is_id(email_id, session, EmailMessage) or session.get(EmailMessage, email_id) is None:
            raise NotFound(f"no email with id {email_id}")
        return email_id
    message_id = mail_store.clean_message_id(text) if "@" in text else None
    if message_id is None:
        raise InvalidInput(f"{ref!r} names no email: give an activity id (123), an email id (email:45) "
                           "or a Message-ID (<abc@example.com>)")
    email_id = session.scalar(select(EmailMessage.id).where(EmailMessage.message_id == message_id))
    if email_id is None:
        raise NotFound(f"no stored email with Message-ID <{message_id}>")
    return email_id


def thread_page(session: Session, *, email_id: int, actor: Actor, before: str | None = END, after: str | None = None,
                limit: int = PAGE) -> Page[ThreadMessage]:
    """A page of the thread of `email_id`, oldest first: by default its latest `limit` messages;
    `prev_cursor` (pass as `before`) reaches the older ones, `next_cursor` (as `after`) newer ones.
    NotFound when the email does not exist or the actor may not see it (the same words: whether a
    message exists that one may not see is not told)."""
    visible = _visible(actor)
    key = session.scalar(select(EmailMessage.thread_key).where(EmailMessage.id == email_id, visible)) \
        if is_id(email_id, session, EmailMessage) else None
    if key is None:
        raise NotFound(f"no email with id {email_id}")
    stmt = select(EmailMessage.sent_at, EmailMessage.id).where(visible)
    # the thread's messages, and its first message (whose own key may differ: it answered mail we
    # never stored); each is one index walk, merged in SQL
    rows, next_, prev_ = keyset_page(
        session, stmt, THREAD, row_key=lambda r: (r.sent_at, r.id), after=after,
        before=None if after is not None else before, limit=limit,
        any_of=[EmailMessage.thread_key == key, EmailMessage.message_id == key])
    ids = [r.id for r in rows]
    found = {m.id: m for m in session.scalars(select(EmailMessage).where(EmailMessage.id.in_(ids)))} if ids else {}
    items = [_read(found[i]) for i in ids if i in found]
    return Page(items, next_, prev_)


def _read(m: EmailMessage) -> ThreadMessage:
    return ThreadMessage(email_id=m.id, message_id=m.message_id, sent_at=m.sent_at, direction=m.direction,
                         from_addr=m.from_addr or "", to_addrs=list(m.to_addrs or []), cc_addrs=list(m.cc_addrs or []),
                         subject=m.subject or "", body=m.body, attachments=list(m.attachments or []))
