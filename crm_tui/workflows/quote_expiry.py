"""The engine's quote pass: drafts and sent quotes whose validity has ended become expired
(services/quotes.expire_quotes). Read first, so a run with nothing to expire takes no write lock."""

from __future__ import annotations

from datetime import datetime, tzinfo

from crm_tui.db import Database
from crm_tui.services import quotes


def expire_quotes(db: Database, now: datetime, zone: tzinfo) -> int:
    """How many quotes this pass marked expired (valid until a day before today in `zone`)."""
    today = now.astimezone(zone).date()
    with db.read() as session:
        if not quotes.due_for_expiry(session, today=today, limit=1):
            return 0
    with db.write() as session:
        return quotes.expire_quotes(session, today=today, now=now)
