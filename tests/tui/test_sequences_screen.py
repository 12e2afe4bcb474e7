"""Sequences in the app (issue 21): the list with its funnel (a add, e edit, x archive asked first),
a sequence's steps (a add with a template picker or a task title, e edit, r remove) and its
enrolments (s stops one, asked first; enter opens the contact), a contact's Sequences tab (E
enrols with a picker, s stops), and the contact list's bulk "Enrol in a sequence"."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select, Static

from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.sequence_enrol import EnrolForm
from crm_tui.screens.sequences.detail import SequenceDetailScreen, StepForm
from crm_tui.screens.sequences.screen import SequenceForm, SequencesScreen
from crm_tui.services import contacts, email_templates, sequences
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


def seed(db, actor, now) -> dict:
    """Two templates, the sequence "Onboarding" (an email, then a task) with Lee and Kim enrolled,
    and Bo, who is in no sequence; Dee is marked do not email."""
    with db.write() as s:
        ids = {name: contacts.create_contact(s, data={"first_name": name, "last_name": "Park",
                                                      "emails": [f"{name.lower()}@acme.com"], **extra},
                                             actor=actor, now=now).id
               for name, extra in (("Lee", {}), ("Kim", {}), ("Bo", {}), ("Dee", {"do_not_email": True}))}
        email_templates.add_template(s, name="Welcome", subject="Hi {{ contact.first_name }}", body="Hello",
                                     shared=True, actor=actor, now=now)
        email_templates.add_template(s, name="Check-in", subject="How is it going?", body="Hi",
                                     shared=True, actor=actor, now=now)
        seq = sequences.create_sequence(s, actor, name="Onboarding", now=now)
        sequences.add_step(s, actor, seq.id, kind="email", delay_days=0, template="Welcome", now=now)
        sequences.add_step(s, actor, seq.id, kind="task", delay_days=2, task_title="Call them", now=now)
        sequences.enroll(s, actor, seq.id, contact_ids=[ids["Lee"], ids["Kim"]], now=now)
    return {**ids, "sequence": seq.id}


def _open_sequences(app) -> None:
    app.push_screen(SequencesScreen())


def _rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_list_shows_the_funnel_adds_edits_and_archives(db, actor, now):
    seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        _open_sequences(app)
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#sequences-table", DataTable)
        assert _rows(table) == [["Onboarding", "2", "2", "0", "0", "0", "0"]]

        await pilot.press("a")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, SequenceForm)
        form.query_one("#sequence-name", Input).value = "Renewals"
        form.query_one("#sequence-cap", Input).value = "many"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "invalid daily cap 'many'" in str(form.query_one("#form-error").render())
        form.query_one("#sequence-cap", Input).value = "20"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert [r[0] for r in _rows(table)] == ["Onboarding", "Renewals"]

        await pilot.press("down", "e")
        await settle(app, pilot)
        app.screen.query_one("#sequence-window", Input).value = "08:00-12:00"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "08:00-12:00" in str(screen.query_one("#sequences-detail", Static).render())

        await pilot.press("up", "x")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "2 active enrolments stop" in app.screen.question
        await pilot.press("n")  # not archived
        await settle(app, pilot)
        assert [r[0] for r in _rows(table)] == ["Onboarding", "Renewals"]
        await pilot.press("x")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert [r[0] for r in _rows(table)] == ["Renewals"]
    with db.read() as s:
        listed = {q.name: q for q in sequences.list_sequences(s, actor, include_archived=True)}
    assert listed["Onboarding"].archived and listed["Onboarding"].funnel.stopped == 2
    assert (listed["Renewals"].daily_cap, listed["Renewals"].window) == (20, "08:00-12:00")


async def test_the_empty_list_says_how_to_add_one(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        _open_sequences(app)
        await settle(app, pilot)
        empty = app.screen.query_one("#sequences-empty", Static)
        assert empty.display and not app.screen.query_one("#sequences-table").display
        assert "Press a to add one" in str(empty.render()) and "crm sequence add NAME" in str(empty.render())


async def test_a_sequence_steps_and_enrolments(db, actor, now):
    ids = seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        _open_sequences(app)
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, SequenceDetailScreen)
        steps = screen.query_one("#sequence-steps", DataTable)
        assert _rows(steps) == [["1", "email", "+0 days", "Welcome"], ["2", "task", "+2 days", "Call them"]]
        enrolled = screen.query_one("#sequence-enrollments", KeysetTable)
        assert sorted(r.contact for r in enrolled.visible_rows()) == ["Kim Park", "Lee Park"]

        # a third step: an email from the template picked by typing its name
        await pilot.press("a")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, StepForm)
        form.query_one("#step-delay", Input).value = "3"
        form.query_one("#step-template", Input).focus()
        await pilot.press(*"check")
        await settle(app, pilot)
        await pilot.press("enter")  # the picker's first match: Check-in
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert _rows(steps)[2] == ["3", "email", "+3 days", "Check-in"]

        # the task step becomes a longer wait; then the first step goes
        await pilot.press("down", "e")
        await settle(app, pilot)
        assert app.screen.query_one("#step-kind", Select).value == "task"
        app.screen.query_one("#step-delay", Input).value = "5"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert _rows(steps)[1] == ["2", "task", "+5 days", "Call them"]
        await pilot.press("up", "r")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert [r[3] for r in _rows(steps)] == ["Call them", "Check-in"]

        # s stops the highlighted enrolment (asked first); enter opens the contact
        await pilot.press("tab")
        await settle(app, pilot)
        assert app.focused is enrolled
        first = enrolled.current_row
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert enrolled.current_row.status == "stopped" and enrolled.current_row.stop_reason == "manual"
        assert "stopped 1" in str(screen.query_one("#sequence-funnel", Static).render())
        await pilot.press("v")  # the active ones only
        await settle(app, pilot)
        assert [r.status for r in enrolled.visible_rows()] == ["active"]
        assert "showing active" in str(screen.query_one("#sequence-funnel", Static).render())
        await pilot.press("v", "v", "v")  # stopped, finished, every one
        await settle(app, pilot)
        assert len(enrolled.visible_rows()) == 2
        enrolled.action_first()
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ContactDetailScreen" and app.screen.contact_id == first.contact_id
    with db.read() as s:
        rows = sequences.contact_sequences(s, actor, first.contact_id)
        kept = [q.kind for q in sequences.steps(s, ids["sequence"])]
    assert [(r.status, r.stop_reason) for r in rows] == [("stopped", "manual")]
    assert kept == ["task", "email"]


async def test_a_contact_sequences_tab_enrols_and_stops(db, actor, now):
    ids = seed(db, actor, now)
    with db.write() as s:
        other = sequences.create_sequence(s, actor, name="Nurture", now=now)
        sequences.add_step(s, actor, other.id, kind="task", delay_days=1, task_title="Send a card", now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", ids["Lee"])
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#sequences", KeysetTable)
        for _ in range(4):  # Timeline → Deals → Tasks → Sequences
            if app.focused is table:
                break
            await pilot.press("right_square_bracket")
            await settle(app, pilot)
        assert app.focused is table
        assert [(r.sequence, r.status, r.next_position) for r in table.visible_rows()] == [("Onboarding", "active", 1)]

        await pilot.press("E")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, EnrolForm)
        await pilot.press(*"nurt")
        await settle(app, pilot)
        await pilot.press("enter")  # choose the match
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert sorted(r.sequence for r in table.visible_rows()) == ["Nurture", "Onboarding"]
        assert app.focused is table
        top = table.current_row
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert next(r for r in table.visible_rows() if r.id == top.id).status == "stopped"
        assert "stopped: manual" in table.columns[1].text(next(r for r in table.visible_rows() if r.id == top.id))


async def test_a_do_not_email_contact_is_skipped_and_said(db, actor, now):
    ids = seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", ids["Dee"])
        await settle(app, pilot)
        seen: list[str] = []
        app.notify = lambda message, **kw: seen.append(str(message))  # noqa: E731
        await pilot.press("E")
        await settle(app, pilot)
        await pilot.press(*"Onboarding")
        await settle(app, pilot)
        await pilot.press("ctrl+s")  # typed in full, never chosen: the one it names
        await settle(app, pilot)
        assert seen == ["Enrolled 0 in Onboarding; skipped 1 marked do not email."]
    with db.read() as s:
        assert sequences.contact_sequences(s, actor, ids["Dee"]) == []


async def test_bulk_enrol_the_marked_contacts(db, actor, now):
    ids = seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#contact-list", KeysetTable)
        names = [r.full_name for r in table.visible_rows()]
        assert names == ["Bo Park", "Dee Park", "Kim Park", "Lee Park"]
        table.focus()
        await pilot.press("space", "space", "space")  # Bo, Dee and Kim
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        options = app.screen.query_one("#bulk-actions")
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        await pilot.press(*["down"] * labels.index("Enrol in a sequence"), "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, EnrolForm) and "3 marked contacts" in app.screen.form_title()
        await pilot.press(*"onb")
        await settle(app, pilot)
        await pilot.press("enter", "ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, EnrolForm)
        assert table.marked_count in (0, None)
    with db.read() as s:
        page = sequences.enrollments_page(s, actor, ids["sequence"])
    assert sorted(r.contact for r in page.items) == ["Bo Park", "Kim Park", "Lee Park"]  # Dee skipped


async def test_e_on_the_contact_list_enrols_the_highlighted_contact(db, actor, now):
    ids = seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#contact-list", KeysetTable)
        table.focus()
        assert table.current_row.full_name == "Bo Park"
        await pilot.press("E")
        await settle(app, pilot)
        assert isinstance(app.screen, EnrolForm) and "Enrol Bo Park" in app.screen.form_title()
        await pilot.press(*"onboarding", "ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, EnrolForm)
    with db.read() as s:
        assert [r.sequence for r in sequences.contact_sequences(s, actor, ids["Bo"])] == ["Onboarding"]
