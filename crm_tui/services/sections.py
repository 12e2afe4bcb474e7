"""The Inbox's sections and how a task reads in them, without the ORM: services/tasks.py and
services/inbox.py hand these out, and the Inbox draws its first frame with them before SQLAlchemy
and the models have loaded (services/start.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

SECTIONS = ("overdue", "today", "upcoming", "snoozed", "done")  # the task sections
SECTION_TITLES = {"overdue": "Overdue", "today": "Today", "upcoming": "Upcoming", "snoozed": "Snoozed",
                  "done": "Done recently"}
UPCOMING_DAYS = 7
DONE_RECENTLY = timedelta(days=7)
PLANNED = "planned"
# the Inbox's sections: Planned comes last (the task sections keep their places, and their → and ← presses)
INBOX_SECTIONS = (*SECTIONS, PLANNED)
INBOX_SECTION_TITLES = {**SECTION_TITLES, PLANNED: "Planned"}


def due_phrase(due: datetime | None, now: datetime) -> str:
    """How far off a due time is, as a person says it: "2 days overdue", "in 3 h", "due now"."""
    if due is None:
        return "no due date"
    seconds = (due - now).total_seconds()
    if abs(seconds) < 60:
        return "due now"
    span = abs(seconds)
    if span < 3600:
        amount = f"{int(span // 60)} min"
    elif span < 86400:
        amount = f"{int(span // 3600)} h"
    else:
        days = int(span // 86400)
        amount = f"{days} day{'s' if days != 1 else ''}"
    return f"{amount} overdue" if seconds < 0 else f"in {amount}"


def origin_label(task) -> str:
    """Where a task (a TaskRead, or the Inbox's first TaskRow) came from: "manual", or the name of
    the rule that created it."""
    return (task.rule_name or task.origin) if task.origin != "manual" else "manual"


def related_label(row: dict) -> str | None:
    """What a task is about (its row's deal_id, deal_title, contact_id, contact_name, company_id and
    company_name): the deal, else the contact, else the company (as companies.py says)."""
    if row["deal_id"] and row["deal_title"] is not None:
        return f"deal: {row['deal_title']}"
    if row["contact_id"] and row["contact_name"] is not None:
        return f"contact: {row['contact_name'] or '(no name)'}"
    if row["company_id"] and row["company_name"] is not None:
        return f"company: {row['company_name']}"
    return None
