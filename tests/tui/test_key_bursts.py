"""Keys typed in a burst (over SSH they arrive many at once) land where they were meant to go:
the form has its focus before it takes keys, and no key is lost or sent to the wrong field."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from crm_tui.screens.forms import ContactForm
from crm_tui.services import contacts
from tests.tui.conftest import make_app, settle

SIZE = (80, 24)


def burst(app, *keys: str) -> None:
    """Post every key at once, with no pause between them (as a terminal hands over a burst)."""
    for key in keys:
        char = key if len(key) == 1 else None
        app.post_message(events.Key(key, char))


def typed(text: str) -> list[str]:
    return list(text)


async def landed(app, pilot) -> None:
    """Every key of the burst handled (a loaded machine takes its time), then the workers. The
    keys are read from the app's queue first: a callback queued behind them runs once they are
    (checking the keys waiting before that could find none yet, and read the fields mid-burst)."""
    read = []
    app.call_later(read.append, True)
    for _ in range(500):
        if read:
            break
        await pilot.pause(0.01)
    assert read, "keys still unread"
    for _ in range(500):
        if not app.keys_pending:
            break
        await pilot.pause(0.01)
    assert not app.keys_pending, "keys still waiting"
    await settle(app, pilot)


async def test_new_contact_burst_lands_in_each_field(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        burst(app, "n", *typed("Ann"), "tab", *typed("Lee"), "tab", "tab", *typed("ann@example.com"), "tab",
              *typed("+15551234567"))
        await landed(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm)
        values = {i: form.query_one(f"#{i}", Input).value for i in ("first_name", "last_name", "title", "emails", "phones")}
        assert values == {"first_name": "Ann", "last_name": "Lee", "title": "", "emails": "ann@example.com",
                          "phones": "+15551234567"}


async def test_edit_contact_burst_keeps_the_values_and_their_ends(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_record("contact", ada.id)
        await settle(app, pilot)
        burst(app, "e", "end", *typed("x"), "tab", "end", *typed("-King"))
        await landed(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm)
        assert form.query_one("#first_name", Input).value == "Adax"
        assert form.query_one("#last_name", Input).value == "Lovelace-King"


async def test_a_burst_through_an_owner_picker_lands_in_each_field(db, actor, now):
    """The owner picker's search answers come after the keys typed on: they change no field, and
    what was typed in the picker is read when saving (the one user it names)."""
    from crm_tui.services import users

    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "name": "Bob Stone", "role": "sales"}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        # first, last, then title, emails, phones, company, stage, source: the owner (tab selects "ann")
        burst(app, "n", *typed("Ann"), "tab", *typed("Lee"), *["tab"] * 7, *typed("stone"), "tab",
              *typed("1 Elm St"))
        await landed(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm)
        values = {i: form.query_one(f"#{i}", Input).value for i in ("first_name", "last_name", "company", "owner",
                                                                   "address")}
        assert values == {"first_name": "Ann", "last_name": "Lee", "company": "", "owner": "stone",
                          "address": "1 Elm St"}
        burst(app, "ctrl+s")
        await landed(app, pilot)
        assert app.screen is not form
    with db.read() as s:
        [ann] = contacts.list_contacts(s, query="lee").items
        assert contacts.get_contact(s, contact_id=ann.id).owner_id == bob.id


async def test_a_burst_on_a_slow_machine_waits_for_each_key(db, actor, now, monkeypatch):
    """On a loaded machine a key can take longer than WAIT_S to land (here each Tab the form takes
    blocks for longer): the keys after it still wait for it, so they go to the field it moves to.
    Only a wait that makes no progress for WAIT_S ends early (a stuck node)."""
    import asyncio
    import time

    from crm_tui.widgets import keys

    monkeypatch.setattr(keys, "WAIT_S", 0.1)
    handle = Input._on_key

    async def slow(self, event):
        if event.key == "tab":  # the app busy with the key (a loaded machine), not stuck
            for _ in range(3):
                time.sleep(0.15)
                await asyncio.sleep(0.01)
        await handle(self, event)

    monkeypatch.setattr(Input, "_on_key", slow)
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        burst(app, "n")
        await landed(app, pilot)
        burst(app, *typed("Ann"), "tab", *typed("Lee"), "tab", "tab", *typed("ann@example.com"))
        await landed(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm)
        values = {i: form.query_one(f"#{i}", Input).value for i in ("first_name", "last_name", "title", "emails")}
        assert values == {"first_name": "Ann", "last_name": "Lee", "title": "", "emails": "ann@example.com"}
