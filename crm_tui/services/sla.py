"""SLAs (issue 23): a case's first-response and resolution targets, counted in business hours.

The case service calls these as a case's life moves on; every one changes only the case row it is
given (the caller flushes and audits):
- `stamp` when a case is opened and when its priority changes: its policy, both due times;
- `pause` when it starts waiting on the customer, `resume` when it stops (the business minutes
  waited are added to both targets);
- `refresh` after anything else (a first response, resolved, closed, reopened): `sla_next_at`, the
  earliest target still to meet, which the "breaching soon" queue and the SLA scan read.

STUB written by the lead so the case service can call it: the SLA helper replaces stamp, pause and
resume with the business-hours arithmetic.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from crm_tui.models.case import CLOSED, RESOLVED, WAITING, Case


def stamp(session: Session, case: Case, *, now: datetime) -> None:
    """Set the case's policy (the default one, unless it has one) and both due times."""
    refresh(case)


def pause(session: Session, case: Case, *, now: datetime) -> None:
    """The case starts waiting on the customer: its clock stops."""
    case.paused_at = now
    refresh(case)


def resume(session: Session, case: Case, *, now: datetime) -> None:
    """The case stops waiting: its clock runs again, and the wait is added to its targets."""
    case.paused_at = None
    refresh(case)


def refresh(case: Case) -> None:
    """`sla_next_at`: the first-response target until there is one, then the resolution target;
    None while paused, resolved or closed."""
    if case.status in (RESOLVED, CLOSED) or case.status == WAITING or case.paused_at is not None:
        case.sla_next_at = None
    elif case.first_response_at is None:
        case.sla_next_at = case.first_response_due_at
    else:
        case.sla_next_at = case.resolution_due_at
