"""A case as a row of a list: its columns (80 columns: number, subject, customer, priority, status,
assignee, SLA time left), the SLA wording of a list, and the queues' names. Shared by the Cases area
(screens/cases/) and the accounts' Cases tabs (contact and company details), which import no area."""

from __future__ import annotations

from datetime import datetime

from crm_tui.services.words import span
from crm_tui.shapes import Page
from crm_tui.widgets.keyset_table import Column

# the queues the area shows, in order (the teams' come after, "team:<name>"), and their labels
QUEUES = ("mine", "unassigned", "soon", "waiting", "open", "all")
QUEUE_LABELS = {"mine": "Mine", "unassigned": "Unassigned", "soon": "Breaching soon", "waiting": "Waiting",
                "open": "All open", "all": "All"}


def queue_label(key: str) -> str:
    """ "mine" -> "Mine", "team:Support" -> "Support"."""
    return key.split(":", 1)[1] if key.startswith("team:") else QUEUE_LABELS.get(key, key)


SLA_WIDTH = 8  # the SLA column's cells: "-23h 59m" fits; a longer span shows its largest unit ("-231d")


def time_left(due: datetime | None, now: datetime) -> str:
    """A list's SLA cell: the time to the case's next target ("2h 10m"), or how long it is past it
    ("-35m", shown as breached), or "—" when no target runs (paused, met, closed); never wider
    than the column."""
    if due is None:
        return "—"
    minutes = int((due - now).total_seconds() // 60)
    return span(minutes, fit=SLA_WIDTH) if minutes >= 0 else f"-{span(minutes, fit=SLA_WIDTH - 1)}"


def customer(row) -> str:
    """The contact, else the company."""
    return getattr(row, "contact_name", None) or getattr(row, "company_name", None) or ""


def case_columns(app, *, with_customer: bool = True) -> list[Column]:
    """A case list's columns. At 80 columns: number, subject, customer, priority, status, assignee
    and SLA; the team shows from 110."""
    columns = [
        Column("#", lambda r: f"#{r.id}", width=6, align="right"),
        Column("Subject", lambda r: r.subject, ratio=5, min_width=12),
        Column("Customer", customer, ratio=2, min_width=8),
        Column("Pri", lambda r: r.priority, width=6),
        Column("Status", lambda r: r.status, width=8),
        Column("Assignee", lambda r: getattr(r, "assignee_login", None) or "—", width=8),
        Column("Team", lambda r: getattr(r, "team", None) or "", width=10, hide_below=110),
        Column("SLA", lambda r: time_left(getattr(r, "sla_next_at", None), app.now()), width=SLA_WIDTH, align="right"),
    ]
    if not with_customer:
        columns.pop(2)
    return columns


def cases_tab_fetch(app, **whose):
    """The fetch of an account's Cases tab (`contact_id=` or `company_id=`): services/cases.cases_for,
    paged forward by keyset."""
    db, actor = app.db, app.actor

    def fetch(*, after, before, limit, with_total):
        if before is not None:
            return Page([])
        from crm_tui.services import cases  # (the Cases area's first frame is drawn before the ORM loads)

        with db.read() as session:
            return cases.cases_for(session, actor=actor, after=after, limit=limit, **whose)
    return fetch
