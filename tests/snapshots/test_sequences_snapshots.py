"""Sequences at 80x24 (issue 21), on the demo data (60 contacts, seed 7) and a frozen clock: the
list with data and empty, a sequence's steps and enrolments, and a contact's Sequences tab; each
also checked to fit (tests/tui/fit.py). Review every changed SVG before accepting it."""

from __future__ import annotations

import pytest

from crm_tui.services import contacts, email_templates, sequences
from tests.snapshots.test_snapshots import settle
from tests.snapshots.fits import opened_and_fits

SIZE = (80, 24)


def _seed(app) -> int:
    """Two sequences; the first ten contacts by name enrolled in "Onboarding", one of them stopped."""
    actor, now = app.actor, app.now()
    with app.db.write() as s:
        email_templates.add_template(s, name="Welcome aboard", subject="Welcome, {{ contact.first_name }}",
                                     body="Hello", shared=True, actor=actor, now=now)
        email_templates.add_template(s, name="First check-in", subject="How is it going?", body="Hi",
                                     shared=True, actor=actor, now=now)
        onboarding = sequences.create_sequence(s, actor, name="Onboarding", description="New customers' first month",
                                               now=now)
        sequences.add_step(s, actor, onboarding.id, kind="email", delay_days=0, template="Welcome aboard", now=now)
        sequences.add_step(s, actor, onboarding.id, kind="task", delay_days=2, task_title="Call to book a demo",
                           now=now)
        sequences.add_step(s, actor, onboarding.id, kind="email", delay_days=5, template="First check-in", now=now)
        renewals = sequences.create_sequence(s, actor, name="Renewals", window="08:00-12:00", daily_cap=20,
                                             owner_id=actor.user_id, now=now)
        sequences.add_step(s, actor, renewals.id, kind="task", delay_days=1, task_title="Check the contract", now=now)
        first = [c.id for c in contacts.list_contacts(s, sort="name", limit=10, now=now).items]
        sequences.enroll(s, actor, onboarding.id, contact_ids=first, now=now)
        stopped = sequences.enrollments_page(s, actor, onboarding.id, limit=1).items[0]
        sequences.stop(s, actor, stopped.id, now=now)
    return first[0]


def _sequences(seeded: bool, *keys: str):
    async def run_before(pilot) -> None:
        from crm_tui.screens.sequences.screen import SequencesScreen

        app = pilot.app
        await settle(app, pilot)
        if seeded:
            _seed(app)
        app.push_screen(SequencesScreen())
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)

    return run_before


async def _contact_sequences_tab(pilot) -> None:
    app = pilot.app
    await settle(app, pilot)
    first = _seed(app)
    app.open_record("contact", first)
    await settle(app, pilot)
    for _ in range(3):  # Timeline → Deals → Tasks → Sequences
        await pilot.press("right_square_bracket")
        await settle(app, pilot)


SCREENS = {
    "sequences_list": (_sequences(True), "SequencesScreen"),
    "sequences_empty": (_sequences(False), "SequencesScreen"),
    "sequence_detail": (_sequences(True, "enter"), "SequenceDetailScreen"),
    "sequence_step_form": (_sequences(True, "enter", "a"), "StepForm"),
    "sequence_form": (_sequences(True, "e"), "SequenceForm"),
    "contact_sequences_tab": (_contact_sequences_tab, "ContactDetailScreen"),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_sequences_80x24(snap_compare, demo_app, name):
    """The screen's snapshot, after the checks that it is the screen named and that it fits."""
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=opened_and_fits(*SCREENS[name]))
