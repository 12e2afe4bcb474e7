"""What the app's sequence screens read besides services/sequences: a sequence's enrolments paged
both ways (the app's lists page back as well as on), and the choices of the sequence and template
pickers. Reads only; every write is services/sequences'."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
from crm_tui.models import Contact
from crm_tui.models.sequence import ACTIVE, FINISHED, STOPPED, Sequence, SequenceEnrollment
from crm_tui.services import email_templates
from crm_tui.services.common import Actor, get_or_404
from crm_tui.services.lookup import Choice
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.sequences import EnrollmentRow, list_sequences
from crm_tui.services.validation import fold

_BY_ID = SortKey(SequenceEnrollment.id, SequenceEnrollment.id)


def enrollments_window(session: Session, actor: Actor, sequence_id: int, *, status: str | None = None,
                       after: str | None = None, before: str | None = None, limit: int = 50) -> Page[EnrollmentRow]:
    """One page of a sequence's enrolments in the order they were enrolled, after `after` or
    before `before` (services.sequences.enrollments_page pages forward only)."""
    get_or_404(session, Sequence, sequence_id, "sequence")
    e = SequenceEnrollment
    stmt = (select(e.id, e.sequence_id, Sequence.name.label("sequence"), e.contact_id,
                   Contact.full_name.label("contact"), e.status, e.stop_reason, e.next_position, e.next_due_at,
                   e.enrolled_at, e.last_step_at, e.version)
            .join(Sequence, Sequence.id == e.sequence_id).join(Contact, Contact.id == e.contact_id)
            .where(e.sequence_id == sequence_id))
    if status is not None:
        if status not in (ACTIVE, STOPPED, FINISHED):
            raise InvalidInput(f"invalid status {status!r}: choose active, stopped or finished")
        stmt = stmt.where(e.status == status)
    rows, next_, prev_ = keyset_page(session, stmt, _BY_ID, row_key=lambda r: (r.id, r.id), after=after,
                                     before=before, limit=limit)
    items = [EnrollmentRow(r.id, r.sequence_id, r.sequence, r.contact_id, r.contact, r.status, r.stop_reason,
                           r.next_position if r.status == ACTIVE else None, r.next_due_at, r.enrolled_at,
                           r.last_step_at, r.version) for r in rows]
    return Page(items, next_, prev_)


def _matching(choices: list[tuple[Choice, str]], text: str, limit: int) -> list[Choice]:
    words = fold(text or "").split()
    found = [c for c, searched in choices if all(any(p.startswith(w) for p in searched.split()) for w in words)]
    return sorted(found, key=lambda c: not fold(c.label).startswith(fold(text or "")))[:limit]


def sequence_choices(session: Session, actor: Actor, text: str, *, limit: int = 5) -> list[Choice]:
    """The sequences in use whose name has words starting with what was typed (a picker's matches)."""
    rows = list_sequences(session, actor)
    return _matching([(Choice("sequence", s.id, s.name, f"{s.steps} steps · {s.funnel.active} active"),
                       fold(s.name)) for s in rows], text, limit)


def template_choices(session: Session, actor: Actor, text: str, *, limit: int = 5) -> list[Choice]:
    """The email templates the actor may use whose name matches what was typed."""
    rows = email_templates.list_templates(session, actor=actor)
    return _matching([(Choice("template", t.id, t.name, t.subject), fold(t.name)) for t in rows], text, limit)


def resolve_choice(choices: list[Choice], text: str, what: str) -> Choice:
    """The one choice typed text names (an exact name, else the only match), or a one-line error."""
    exact = [c for c in choices if fold(c.label) == fold(text)]
    if len(exact) == 1:
        return exact[0]
    if len(choices) == 1:
        return choices[0]
    if not choices:
        raise InvalidInput(f"no {what} matches {text!r}")
    raise InvalidInput(f"{text!r} matches several: {', '.join(c.label for c in choices)}; choose one from the list")
