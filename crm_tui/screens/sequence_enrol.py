"""Enrol contacts in a sequence: the dialog with a sequence picker that a contact's screen (E) and
the contact list's bulk change ("Enrol in a sequence") open. The enrolment is services/sequences'
one set-based enroll(): contacts marked do not email, without an email or already active are
skipped and counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from textual.app import ComposeResult

from crm_tui.screens.forms import FormScreen, _field
from crm_tui.services import sequence_views, sequences
from crm_tui.services.common import Actor
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import Picker


@dataclass(frozen=True)
class ContactList:
    """A list's contacts by its search and filters (what enroll's `view` reads)."""

    filters: dict
    query: str | None = None


@dataclass(frozen=True)
class Enrolled:
    sequence: str
    result: sequences.EnrollResult

    @property
    def message(self) -> str:
        r = self.result
        skipped = [f"{n} {what}" for n, what in ((r.already_active, "already active"),
                                                 (r.do_not_email, "marked do not email"),
                                                 (r.no_email, "without an email"),
                                                 (getattr(r, "archived", 0), "archived")) if n]
        return f"Enrolled {r.enrolled} in {self.sequence}" + (f"; skipped {', '.join(skipped)}" if skipped else "") + "."


def sequence_search(screen) -> Any:
    """A picker's search over the sequences in use (run in the picker's worker thread)."""
    def search(text: str) -> list[Choice]:
        with screen.app.db.read() as session:
            return sequence_views.sequence_choices(session, screen.app.actor, text)
    return search


class EnrolForm(FormScreen[Enrolled | None]):
    """Pick a sequence; save enrols `contact_ids`, or every contact of `contacts` (a list's)."""

    HINT = "type a sequence · enter enrol · esc cancel"

    def __init__(self, what: str, *, contact_ids: list[int] | None = None, contacts: ContactList | None = None) -> None:
        super().__init__()
        self.what, self.contact_ids, self.contacts = what, contact_ids, contacts

    def form_title(self) -> str:
        return f"Enrol {self.what} in a sequence"

    def compose_fields(self) -> ComposeResult:
        yield _field("Sequence", Picker("sequence", id="enrol-sequence", search=sequence_search(self),
                                        placeholder="type a sequence's name"))

    def values(self) -> dict[str, Any]:
        picker = self.query_one("#enrol-sequence-picker", Picker)
        return {"id": picker.chosen_id, "text": picker.text}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> Enrolled:
        if values["id"] is not None:
            sequence = sequences.get_sequence(session, actor, values["id"])
        else:
            if not values["text"]:
                from crm_tui.errors import InvalidInput

                raise InvalidInput("type the sequence to enrol in, and choose it from the list")
            found = sequence_views.sequence_choices(session, actor, values["text"], limit=6)
            sequence = sequences.get_sequence(session, actor,
                                              sequence_views.resolve_choice(found, values["text"], "sequence").id)
        result = sequences.enroll(session, actor, sequence.id, contact_ids=self.contact_ids,
                                  view=self.contacts, now=now)
        return Enrolled(sequence.name, result)
