"""The modal forms, driven by keys in a real app at 80x24, checked against the database."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from textual.app import App
from textual.widgets import Button, Input, Label, Select
from textual.worker import WorkerState

from crm_tui.errors import NotFound
from crm_tui.screens.conflict import Clash, FieldConflictScreen
from crm_tui.screens.forms import (
    ConfirmScreen,
    ContactForm,
    DealForm,
    LogActivityForm,
    OwnerForm,
    TagsForm,
    TaskForm,
)
from crm_tui.services import activities, audit, companies, contacts, deals, pipelines, tasks, users
from crm_tui.services.common import Actor

SIZE = (80, 24)


class Host(App[None]):
    """The duck-typed host the forms expect (db, actor, now()); records results and notices."""

    def __init__(self, db, actor: Actor, now: datetime, screen) -> None:
        super().__init__()
        self.db, self.actor, self._now, self.form = db, actor, now, screen
        self.results: list = []
        self.notices: list[tuple[str, str]] = []

    def now(self) -> datetime:
        return self._now

    def on_mount(self) -> None:
        self.push_screen(self.form, callback=self.results.append)

    def notify(self, message, *, title="", severity="information", **kwargs) -> None:
        self.notices.append((severity, str(message)))
        super().notify(message, title=title, severity=severity, **kwargs)


async def settle(app: App, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def fill(screen, **values: str) -> None:
    for id_, value in values.items():
        screen.query_one(f"#{id_}", Input).value = value


def error_text(screen) -> str:
    return str(screen.query_one("#form-error", Label).render())


def make_contact(db, actor, now, **data):
    with db.write() as s:
        return contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", **data},
                                       actor=actor, now=now)


def make_user(db, actor, now, login: str) -> Actor:
    with db.write() as s:
        user = users.create_user(s, data={"login": login, "name": login.title()}, actor=actor, now=now)
    return Actor(user_id=user.id, login=user.login, role=user.role)


def contact_count(db) -> int:
    with db.read() as s:
        return contacts.count_contacts(s)


def events_by(db, contact_id: int, login: str) -> list:
    with db.read() as s:
        page = audit.list_events(s, entity="contact", entity_id=contact_id, limit=100)
    return [e for e in page.items if e.actor == login]


# --- ContactForm -------------------------------------------------------------------------------


async def test_contact_form_creates_contact_and_its_new_company_by_keyboard(db, actor, now):
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm) and app.focused.id == "first_name"
        await pilot.press(*"Grace", "tab", *"Hopper")
        assert app.focused.id == "last_name"
        fill(form, emails="grace@navy.mil, GRACE@navy.mil", company="Navy Labs", tags="pioneer, Cobol")
        form.query_one("#lifecycle", Select).value = "customer"
        form.query_one("#source", Select).value = "referral"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # an unknown company is added only once the person says so (issue 17 #4)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert not isinstance(app.screen, ContactForm)
    [saved] = app.results
    with db.read() as s:
        stored = contacts.get_contact(s, contact_id=saved.id)
        company = companies.resolve_company(s, "Navy Labs")
    assert (stored.full_name, stored.emails, stored.tags) == ("Grace Hopper", ["grace@navy.mil"], ["cobol", "pioneer"])
    assert (stored.lifecycle, stored.source, stored.owner_id) == ("customer", "referral", actor.user_id)
    assert stored.company_id == company.id and company.name == "Navy Labs"


async def test_contact_form_links_an_existing_company_by_unique_prefix(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Corp"}, actor=actor, now=now)
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, first_name="Wile", company="acme")
        app.screen.query_one("#tags", Input).focus()
        await pilot.press("enter")  # enter in the last input saves
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.company_id, saved.company_name) == (acme.id, "Acme Corp")
    with db.read() as s:
        assert companies.list_companies(s, with_total=True).total == 1


async def test_invalid_email_shows_inline_and_writes_nothing(db, actor, now):
    before = contact_count(db)
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, first_name="Ada", emails="ada-at-example", company="Initech")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm)  # still open
        assert "invalid email 'ada-at-example'" in error_text(form)
        assert form.query_one("#emails", Input).value == "ada-at-example"
        assert form.query_one("#first_name", Input).value == "Ada"
        assert not form.query_one("#form-save", Button).disabled
    assert app.results == []
    assert contact_count(db) == before
    with db.read() as s, pytest.raises(NotFound):  # the new company went with the rollback
        companies.resolve_company(s, "Initech")


async def test_escape_cancels_a_form_without_writing(db, actor, now):
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, first_name="Nobody")
        await pilot.press("escape")
        await settle(app, pilot)
    assert app.results == [None]
    assert contact_count(db) == 0


async def test_edit_conflict_then_back_and_take_theirs_writes_nothing_of_mine(db, actor, now):
    made = make_contact(db, actor, now, title="CEO")
    bob = make_user(db, actor, now, "bob")
    app = Host(db, actor, now, ContactForm(made))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#title", Input).value == "CEO"
        fill(form, title="CTO")
        with db.write() as s:  # a teammate saves first
            contacts.update_contact(s, contact_id=made.id, changes={"title": "CFO"}, actor=bob,
                                    version=made.version, now=now + timedelta(minutes=5))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        assert "by bob" in app.screen.message
        await pilot.press("escape")  # back to the form, my edit intact
        await settle(app, pilot)
        assert app.screen is form and form.query_one("#title", Input).value == "CTO"
        assert "not saved" in error_text(form)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        await pilot.press("t")  # take theirs: nothing of mine is left to save
        await settle(app, pilot)
    with db.read() as s:
        stored = contacts.get_contact(s, contact_id=made.id)
    assert app.results == [stored]
    assert (stored.title, stored.version) == ("CFO", made.version + 1)
    assert [e.action for e in events_by(db, made.id, "ann")] == ["create"]


async def test_edit_conflict_keep_mine_saves_my_fields_once_and_keeps_theirs(db, actor, now):
    made = make_contact(db, actor, now, title="CEO")
    bob = make_user(db, actor, now, "bob")
    app = Host(db, actor, now, ContactForm(made))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, title="CTO")
        with db.write() as s:
            contacts.update_contact(s, contact_id=made.id, changes={"title": "CFO", "last_name": "King"},
                                    actor=bob, version=made.version, now=now + timedelta(minutes=5))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        await pilot.press("y")
        await settle(app, pilot)
    [saved] = app.results
    with db.read() as s:
        stored = contacts.get_contact(s, contact_id=made.id)
    assert stored == saved
    assert (stored.title, stored.last_name, stored.version) == ("CTO", "King", made.version + 2)
    mine = [(e.action, e.field, e.old_value, e.new_value) for e in events_by(db, made.id, "ann")]
    assert sorted(mine) == [("create", None, None, "Ada Lovelace"), ("update", "title", "CFO", "CTO")]


# --- LogActivityForm -------------------------------------------------------------------------


async def test_log_call_with_follow_up_in_three_days(db, actor, now):
    made = make_contact(db, actor, now)
    app = Host(db, actor, now, LogActivityForm(contact_id=made.id, subject_hint="Renewal"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#subject", Input).value == "Renewal"
        form.query_one("#direction", Select).value = "outbound"
        fill(form, duration="15", outcome="interested", follow_title="call back", follow_due="+3d")
        form.query_one("#notes").text = "Wants a quote."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [(activity, task)] = app.results
    with db.read() as s:
        [logged] = activities.timeline(s, contact_id=made.id).items
        [stored_task] = tasks.list_tasks(s, contact_id=made.id, status="all", now=now).items
        contact = contacts.get_contact(s, contact_id=made.id)
    assert (logged.id, logged.kind, logged.direction, logged.duration_minutes) == (activity.id, "call", "outbound", 15)
    assert (logged.subject, logged.body, logged.outcome, logged.occurred_at) == (
        "Renewal", "Wants a quote.", "interested", now)
    assert (stored_task.id, stored_task.title) == (task.id, "call back")
    assert stored_task.due_at == now + timedelta(days=3)
    assert contact.last_contacted_at == now


async def test_log_activity_with_unreadable_follow_up_due_writes_nothing(db, actor, now):
    made = make_contact(db, actor, now)
    app = Host(db, actor, now, LogActivityForm(contact_id=made.id, kind="meeting"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, subject="Demo", follow_title="send deck", follow_due="whenever suits")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, LogActivityForm)
        assert "can't read 'whenever suits'" in error_text(app.screen)
    assert app.results == []
    with db.read() as s:
        assert activities.timeline(s, contact_id=made.id).items == []
        assert tasks.list_tasks(s, status="all", now=now).items == []
        assert contacts.get_contact(s, contact_id=made.id).last_contacted_at is None


# --- TaskForm, DealForm ----------------------------------------------------------------------


async def test_task_form_reads_natural_due_and_recurrence(db, actor, now):
    made = make_contact(db, actor, now)
    app = Host(db, actor, now, TaskForm(contact_id=made.id))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, title="Send proposal", due="tomorrow 9am", notes="v2 pricing", recurrence="weekly")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    with db.read() as s:
        stored = tasks.get_task(s, task_id=saved.id)
    assert stored.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    assert (stored.title, stored.notes, stored.recurrence) == ("Send proposal", "v2 pricing", "FREQ=WEEKLY")
    assert (stored.assignee_id, stored.contact_id) == (actor.user_id, made.id)


async def test_deal_form_parses_amount_in_default_pipeline(db, actor, now):
    made = make_contact(db, actor, now)
    app = Host(db, actor, now, DealForm(contact_id=made.id))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#currency", Input).value == "USD"
        fill(form, title="Fleet renewal", amount="12,500.50", expected_close="2026-12-15")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    with db.read() as s:
        stored = deals.get_deal(s, deal_id=saved.id)
        pipeline = pipelines.default_pipeline(s)
    assert (stored.title, stored.amount_minor, stored.currency) == ("Fleet renewal", 1250050, "USD")
    assert (stored.pipeline_id, stored.stage_id) == (pipeline.id, pipeline.stages[0].id)
    assert (stored.contact_id, stored.owner_id, str(stored.expected_close)) == (made.id, actor.user_id, "2026-12-15")


async def test_deal_form_refuses_negative_amount_and_writes_nothing(db, actor, now):
    app = Host(db, actor, now, DealForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#pipeline", Input).value == "Sales"  # the default pipeline shows
        fill(app.screen, title="Refund", amount="-5")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DealForm)
        assert "amount must not be negative" in error_text(app.screen)
        assert app.screen.query_one("#pipeline", Input).value == "Sales"
    assert app.results == []
    with db.read() as s:
        assert deals.list_deals(s, with_total=True).total == 0


# --- TagsForm, OwnerForm ---------------------------------------------------------------------


async def test_tags_form_adds_and_removes(db, actor, now):
    made = make_contact(db, actor, now, tags=["vip", "old"])
    app = Host(db, actor, now, TagsForm(made))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert str(app.screen.query_one("#current-tags", Label).render()) == "old, vip"
        fill(app.screen, add="Hot, q4", remove="old")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    with db.read() as s:
        assert contacts.get_contact(s, contact_id=made.id).tags == ["hot", "q4", "vip"] == saved.tags


async def test_owner_form_gives_the_contact_to_a_teammate(db, actor, now):
    bob = make_user(db, actor, now, "bob")
    made = make_contact(db, actor, now)
    app = Host(db, actor, now, OwnerForm(made))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        owner = app.screen.query_one("#owner", Input)
        assert owner.value == actor.login
        owner.focus()
        await pilot.press("home", "ctrl+k", "b", "o")
        await settle(app, pilot)
        await pilot.press("enter")  # the match under the field
        assert owner.value == "bob"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    with db.read() as s:
        stored = contacts.get_contact(s, contact_id=made.id)
    assert (stored.owner_id, stored.owner_login, stored.version) == (bob.user_id, "bob", made.version + 1)
    assert app.results == [stored]


async def test_owner_form_conflict_merges_with_their_other_edit(db, actor, now):
    bob = make_user(db, actor, now, "bob")
    made = make_contact(db, actor, now)
    app = Host(db, actor, now, OwnerForm(made))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#owner", Input).value = "bob"  # typed, never chosen: read when saving
        with db.write() as s:
            contacts.update_contact(s, contact_id=made.id, changes={"title": "CTO"}, actor=bob,
                                    version=made.version, now=now)
        await pilot.press("ctrl+s")  # a different field: merged without asking
        await settle(app, pilot)
    with db.read() as s:
        stored = contacts.get_contact(s, contact_id=made.id)
    assert app.results == [stored]
    assert (stored.owner_id, stored.title, stored.version) == (bob.user_id, "CTO", made.version + 2)


# --- failures and double submission ------------------------------------------------------------


async def test_unexpected_failure_is_notified_and_form_stays_usable(db, actor, now, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(contacts, "create_contact", broken)
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, first_name="Ada")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactForm)
        assert not app.screen.query_one("#form-save", Button).disabled
    assert ("error", "RuntimeError: disk on fire") in app.notices
    assert app.results == []


async def test_save_is_disabled_while_saving(db, actor, now, monkeypatch):
    release, calls = threading.Event(), []
    real = tasks.create_task

    def slow(session, **kwargs):
        calls.append(kwargs["data"]["title"])
        assert release.wait(10)
        return real(session, **kwargs)

    def late_return(self, callback, *args, **kwargs):  # a loaded machine: the thread resumes late
        result = App.call_from_thread(self, callback, *args, **kwargs)
        time.sleep(0.3)
        return result

    monkeypatch.setattr(tasks, "create_task", slow)
    monkeypatch.setattr(Host, "call_from_thread", late_return)
    app = Host(db, actor, now, TaskForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, title="Once")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.query_one("#form-save", Button).disabled
        [save] = [w for w in app.workers if w.name == "_save"]
        await pilot.press("ctrl+s", "escape")  # neither a second save nor a cancel mid-write
        release.set()
        await settle(app, pilot)
    # the form closes on the result only once the worker has returned it: closing must not
    # cancel the worker that is handing the result over
    assert save.state == WorkerState.SUCCESS
    assert calls == ["Once"]
    assert [t.title for t in app.results] == ["Once"]


# --- dialogs -----------------------------------------------------------------------------------


CONFIRM_KEYS = [("y", True), ("enter", True), ("n", False), ("escape", False)]


async def test_confirm_screen_answers(now):
    """Each key answers a question of its own (one app start for the four: the app shows each
    question once the one before has been answered and closed)."""
    question = lambda: ConfirmScreen("Archive Ada?", "Archive")  # noqa: E731
    app = Host(None, Actor(user_id=None, login="system"), now, question())
    async with app.run_test(size=SIZE) as pilot:
        for i, (key, answer) in enumerate(CONFIRM_KEYS):
            if i:
                await app.push_screen(question(), callback=app.results.append)
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert "Archive (y)" in str(app.screen.query_one("#confirm-yes", Button).label)
            await pilot.press(key)
            await pilot.pause()
            assert app.results[i:] == [answer], key
            assert not isinstance(app.screen, ConfirmScreen)
    assert app.results == [answer for _key, answer in CONFIRM_KEYS]


CONFLICT_KEYS = [("y", {"title": "yours"}), ("t", {"title": "theirs"}), ("enter", {"title": "yours"}),
                 ("escape", None)]


async def test_conflict_screen_choices(now):
    """Each key answers a conflict of its own (one app start for the four, as above)."""
    clash = Clash("title", "Title", "CEO", "CFO", "CTO")
    conflict = lambda: FieldConflictScreen([clash], "changed by bob")  # noqa: E731
    app = Host(None, Actor(user_id=None, login="system"), now, conflict())
    async with app.run_test(size=SIZE) as pilot:
        for i, (key, choice) in enumerate(CONFLICT_KEYS):
            if i:
                await app.push_screen(conflict(), callback=app.results.append)
            await pilot.pause()
            assert isinstance(app.screen, FieldConflictScreen)
            await pilot.press(key)
            await pilot.pause()
            assert app.results[i:] == [choice], key
            assert not isinstance(app.screen, FieldConflictScreen)
    assert app.results == [choice for _key, choice in CONFLICT_KEYS]


# --- loading a form's reference data -------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_form_reads_its_reference_data_once(db, actor, now, monkeypatch):
    """Textual runs every class's on_mount: a form that also called super().on_mount() started its
    load of users (or pipelines) twice, the first one cancelled by the second."""
    from crm_tui.screens.forms import FormScreen
    from crm_tui.screens.inbox.dialogs import AssignForm

    ada = make_contact(db, actor, now)
    with db.write() as s:
        task = tasks.create_task(s, data={"title": "Call Ada", "due_at": "+1d"}, actor=actor, now=now)
    loads = []
    real = FormScreen._load
    monkeypatch.setattr(FormScreen, "_load", lambda self, app: loads.append(type(self).__name__) or real(self, app))
    for form in (ContactForm(ada), AssignForm(task), DealForm()):
        app = Host(db, actor, now, form)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
    assert loads == ["DealForm"]  # users are searched as typed, never loaded up front


# --- a due date in the past asks first (issue 17 #11) -------------------------------------------


async def test_task_form_asks_before_saving_a_due_date_in_the_past(db, actor, now):
    app = Host(db, actor, now, TaskForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, title="Call back", due="yesterday 9am")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#dialog-question", Label).render())
        assert "Due Sun 22 Nov 2026 09:00 is in the past" in question
        await pilot.press("n")  # back to the form, as typed; nothing written
        await settle(app, pilot)
        assert isinstance(app.screen, TaskForm) and app.results == []
        with db.read() as s:
            assert tasks.list_tasks(s, status="all", assignee_id=None).items == []
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.due_at == datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


async def test_task_form_saves_a_future_due_date_without_asking(db, actor, now):
    app = Host(db, actor, now, TaskForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, title="Call back", due="end of month")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.due_at == datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)


async def test_reschedule_asks_before_a_due_date_in_the_past(db, actor, now):
    from crm_tui.screens.inbox.dialogs import WhenForm

    with db.write() as s:
        task = tasks.create_task(s, data={"title": "Call back", "due_at": "tomorrow 9am"}, actor=actor, now=now)
    app = Host(db, actor, now, WhenForm(task, "reschedule", []))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, when="2026-11-20 10:00")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.due_at == datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
