"""Marks and bulk changes in the lists (issue 20): space, *, esc; b opens the changes; u undoes."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from textual.widgets import Input, OptionList

from crm_tui.models import Company, Contact
from crm_tui.screens.bulk import BulkActionScreen
from crm_tui.services import companies, contacts, users
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


@pytest.fixture
def people(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor_sqlite, now=now)
        for i in range(8):
            contacts.create_contact(s, data={"first_name": f"Person{i}", "lifecycle": "lead"}, actor=actor_sqlite,
                                    now=now)
        for name in ("Acme", "Globex", "Initech"):
            companies.create_company(s, data={"name": name}, actor=actor_sqlite, now=now)


def _table(app) -> KeysetTable:
    return app.screen.query_one("#contact-list", KeysetTable)


async def _choose(pilot, app, label: str, value: str | None = None) -> None:
    dialog = app.screen
    assert isinstance(dialog, BulkActionScreen)
    options = dialog.query_one(OptionList)
    options.highlighted = next(i for i in range(options.option_count)
                               if str(options.get_option_at_index(i).prompt) == label)
    await pilot.press("enter")
    if value is not None:
        await pilot.pause()
        box = dialog.focused  # the value line, or the owner or stage picker in its place
        assert isinstance(box, Input)
        box.value = value
        if box.id in ("bulk-owner", "bulk-stage"):  # a picker: enter takes the match, then applies
            await settle(app, pilot)
            await pilot.press("enter")
            assert box.value == value
        await pilot.press("enter")


async def _set_field(pilot, app, name: str, value: str | None = None, choice: str | None = None) -> None:
    """In the "Set a field" step: pick the field `name`, then type `value` or pick `choice`."""
    from crm_tui.screens.bulk_field import BulkFieldScreen

    step = app.screen
    assert isinstance(step, BulkFieldScreen)
    options = step.query_one("#bulk-fields", OptionList)
    options.highlighted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == name)
    await pilot.press("enter")
    await pilot.pause()
    if choice is not None:
        picks = step.query_one("#bulk-field-choices", OptionList)
        assert picks.has_focus
        picks.highlighted = next(i for i in range(picks.option_count) if picks.get_option_at_index(i).id == choice)
        await pilot.press("enter")
    else:
        box = step.query_one("#bulk-field-value", Input)
        assert box.has_focus
        await pilot.press(*value)
        await pilot.press("enter")


async def test_space_marks_rows_b_changes_the_owner_and_u_undoes(sqlite_db, actor_sqlite, now, people):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = _table(app)
        await pilot.press("space", "space")
        assert table.marked_count == 2 and table.cursor == 2
        assert "2 marked" in table.border_title
        await pilot.press("b")
        await pilot.pause()
        await _choose(pilot, app, "Change owner", "bob")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            owners = dict(s.execute(select(Contact.first_name, Contact.owner_id)).all())
        changed = [n for n, o in owners.items() if o != actor_sqlite.user_id]
        assert changed == ["Person0", "Person1"]
        assert not table.marks and table.undo_hint
        await pilot.press("u")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            assert set(s.scalars(select(Contact.owner_id))) == {actor_sqlite.user_id}
        assert table.undo_hint is None


async def test_star_marks_every_match_minus_unmarked_and_esc_clears(sqlite_db, actor_sqlite, now, people):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = _table(app)
        await pilot.press("asterisk")
        assert table.marks.every and table.marked_count == 8
        await pilot.press("space")  # unmarks Person0
        assert table.marked_count == 7
        await pilot.press("escape")
        assert not table.marks
        await pilot.press("home", "asterisk", "space", "b")
        await pilot.pause()
        await _choose(pilot, app, "Archive")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            archived = set(s.scalars(select(Contact.first_name).where(Contact.archived.is_(True))))
        assert archived == {f"Person{i}" for i in range(1, 8)}
        assert table.total == 1


async def test_companies_list_marks_too(sqlite_db, actor_sqlite, now, people):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        table = app.screen.query_one("#company-list", KeysetTable)
        table.focus()
        await pilot.press("space", "b")
        await pilot.pause()
        await _choose(pilot, app, "Set a field")
        await settle(app, pilot)
        await _set_field(pilot, app, "industry", "Retail")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            assert dict(s.execute(select(Company.name, Company.industry)).all())["Acme"] == "Retail"


async def test_a_task_for_each_marked_contact_due_in_two_days(sqlite_db, actor_sqlite, now, people):
    from datetime import timedelta

    from crm_tui.models import Task

    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("space", "space", "space", "b")
        await pilot.pause()
        await _choose(pilot, app, "Add a task to each", "Call back; +2d")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            tasks = s.execute(select(Task.title, Task.due_at, Task.contact_id)).all()
        assert len(tasks) == 3 and {t.title for t in tasks} == {"Call back"}
        assert {t.due_at for t in tasks} == {now + timedelta(days=2)}


async def test_records_a_seller_may_not_change_are_named_and_left_alone(sqlite_db, actor_sqlite, now, people):
    from crm_tui.services import permissions

    with sqlite_db.write() as s:
        sam = users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor_sqlite, now=now)
        permissions.set_scope(s, role="sales", action="contact.assign", scope="own", actor=actor_sqlite, now=now)
        contacts.create_contact(s, data={"first_name": "Aaron", "owner_id": sam.id}, actor=actor_sqlite, now=now)
    with sqlite_db.write() as s:
        seller = users.actor_for(s, login="sam", now=now)
    app = make_app(sqlite_db, seller, now)
    notes: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.notify = lambda message, **kw: notes.append(message)  # what the person reads
        app.screen.notify = app.notify
        await pilot.press("space", "space", "b")  # Aaron (sam's) and Person0 (ann's)
        await pilot.pause()
        await _choose(pilot, app, "Change owner", "bob")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            owners = dict(s.execute(select(Contact.first_name, Contact.owner_id)).all())
        assert owners["Person0"] == actor_sqlite.user_id  # left alone
        assert owners["Aaron"] != seller.user_id
        assert any("1 left alone" in n and "Person0" in n for n in notes), notes


async def test_set_a_typed_custom_field_on_the_marks(sqlite_db, actor_sqlite, now, people):
    """"Set a field" offers the custom fields: a choice is picked from its (offered) choices, a
    number typed in a number input, read as the field reads it before anything is sent."""
    from crm_tui.screens.bulk_field import BulkFieldScreen
    from crm_tui.services import fields

    with sqlite_db.write() as s:
        fields.add_field(s, kind="contact", key="segment", type="choice", options=["smb,mid,legacy"],
                         actor=actor_sqlite, now=now)
        fields.add_field(s, kind="contact", key="seats", type="money", actor=actor_sqlite, now=now)
        fields.edit_field(s, kind="contact", key="segment", retire_options=["legacy"], actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("space", "space", "b")
        await pilot.pause()
        await _choose(pilot, app, "Set a field")
        await settle(app, pilot)
        step = app.screen
        labels = [str(step.query_one("#bulk-fields", OptionList).get_option_at_index(i).prompt)
                  for i in range(step.query_one("#bulk-fields", OptionList).option_count)]
        assert labels[-2:] == ["segment  (choice)", "seats  (money)"]
        await _set_field(pilot, app, "custom.segment", choice="mid")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            got = dict(s.execute(select(Contact.first_name, Contact.custom)).all())
        assert [n for n, c in got.items() if (c or {}).get("segment") == "mid"] == ["Person0", "Person1"]
        # a bad amount is said on the hint line, and the step stays open
        await pilot.press("space", "b")
        await pilot.pause()
        await _choose(pilot, app, "Set a field")
        await settle(app, pilot)
        picks = app.screen.query_one("#bulk-field-choices", OptionList)
        await _set_field(pilot, app, "custom.seats", "12.345")
        await pilot.pause()
        assert isinstance(app.screen, BulkFieldScreen) and not picks.display
        assert "more than two decimals" in str(app.screen.query_one("#bulk-field-hint").render())
        box = app.screen.query_one("#bulk-field-value")
        assert box.type == "number"
        box.value = ""
        await pilot.press(*"1250.5", "enter")
        await settle(app, pilot)
        with sqlite_db.read() as s:
            seats = {n: (c or {}).get("seats") for n, c in s.execute(select(Contact.first_name, Contact.custom))}
        assert [n for n, v in seats.items() if v == 125050] == ["Person2"]
