"""Customer satisfaction (issue 23): CSAT after a resolved case, NPS to a list of customers.

STUB written by the lead so the case service and email-to-case can call it: the surveys helper
replaces it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from crm_tui.config import Settings
from crm_tui.models.case import Case, Survey
from crm_tui.models.email import EmailMessage
from crm_tui.shapes import Actor


def on_resolved(session: Session, case: Case, *, actor: Actor, settings: Settings | None,
                now: datetime) -> Survey | None:
    """Queue the CSAT survey of a case just resolved (at most one per case); None when none goes out."""
    return None


def score_from_reply(session: Session, message: EmailMessage, *, now: datetime) -> Survey | None:
    """A reply to a survey email that gives a score ("4", "5 - great"): record it; None otherwise."""
    return None
