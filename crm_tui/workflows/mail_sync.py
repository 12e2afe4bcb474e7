"""Mail sync on the app's timer ([mail] sync_minutes): the same sync as `crm mail sync`, of the
signed-in user's own mailbox ([mail.imap]), run in a worker thread; cron runs the CLI instead."""

from __future__ import annotations

from datetime import datetime

from crm_tui.config import Settings
from crm_tui.db import Database
from crm_tui.errors import CrmError
from crm_tui.services.mail_capture import imap, run
from crm_tui.shapes import Actor


def app_sync(db: Database, *, actor: Actor, settings: Settings, now: datetime) -> run.SyncReport:
    """One sync of the user's mailbox; a failure is the report's error, never an exception."""
    mail = settings.mail
    try:
        account = imap.account_from(mail.imap if mail else None, what="mail.imap")
        return run.sync(db, account, actor=actor, extra_addresses=mail.addresses,
                        max_bytes=int(mail.max_message_mb * 1_000_000), now=now, settings=settings)
    except CrmError as exc:
        return run.SyncReport(account="", error=exc.message)
