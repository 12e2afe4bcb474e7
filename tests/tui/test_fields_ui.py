"""Settings · Custom fields (issue 20): reached from the palette's tools, an admin adds a field
and retires a choice with the keyboard; a role without field.admin gets no keys."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select

from crm_tui.areas import TOOLS
from crm_tui.screens.settings.fields import FieldForm, FieldSettingsScreen
from crm_tui.services import fields, users

from .conftest import make_app, settle


def test_the_palette_offers_the_settings_screen():
    tool = next(t for t in TOOLS if t.name == "Settings: custom fields")
    assert tool.screen() is FieldSettingsScreen


async def test_admin_adds_a_field_and_retires_a_choice(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(FieldSettingsScreen())
        await settle(app, pilot)
        assert "No fields yet" in str(app.screen.query_one("#fields-line").render())
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, FieldForm)
        form.query_one("#field-type", Select).value = "choice"
        form.query_one("#field-key", Input).focus()
        await pilot.press(*"segment", "tab", "tab", "tab")
        await pilot.press(*"smb, mid, enterprise")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldSettingsScreen)
        assert app.screen.query_one(DataTable).row_count == 1
        # a bad default: one line under the fields, nothing written
        await pilot.press("e")
        await settle(app, pilot)
        app.screen.query_one("#field-default", Input).value = "huge"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "'huge' is not one of smb, mid, enterprise" in str(app.screen.query_one("#form-error").render())
        app.screen.query_one("#field-default", Input).value = ""
        app.screen.query_one("#field-options", Input).value = "smb, enterprise, strategic"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldSettingsScreen)
    with sqlite_db.read() as s:
        f = fields.get_field(s, kind="contact", key="segment")
    assert f.options == ("smb", "mid", "enterprise", "strategic") and f.retired == ("mid",)


async def test_sales_sees_the_fields_but_cannot_change_them(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        users.create_user(s, data={"login": "sal", "role": "sales"}, actor=actor_sqlite, now=now)
        fields.add_field(s, kind="deal", key="tier", type="number", actor=actor_sqlite, now=now)
    with sqlite_db.write() as s:
        sal = users.actor_for(s, login="sal", now=now)
    app = make_app(sqlite_db, sal, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(FieldSettingsScreen())
        await settle(app, pilot)
        assert "Read only" in str(app.screen.query_one("#fields-line").render())
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldSettingsScreen)


async def test_the_contact_list_filters_on_a_typed_field(sqlite_db, actor_sqlite, now):
    from crm_tui.screens.contacts.filters import ContactFilterForm
    from crm_tui.services import contacts
    from crm_tui.widgets.keyset_table import KeysetTable

    with sqlite_db.write() as s:
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor_sqlite, now=now)
        for name, seats in (("Ann", 9), ("Bo", 10), ("Cy", 100)):
            contacts.create_contact(s, data={"first_name": name, "custom": {"seats": seats}}, actor=actor_sqlite,
                                    now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactFilterForm)
        app.screen.query_one("#custom", Input).value = "seats>=many"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactFilterForm)  # refused, said why, nothing applied
        assert "seats: 'many' is not a number" in str(app.screen.query_one("#form-error").render())
        app.screen.query_one("#custom", Input).value = "seats>=10"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen.filters == {"custom": ["seats>=10"]}
        table = app.screen.query_one(KeysetTable)
        assert [row.full_name for row in table.visible_rows()] == ["Bo", "Cy"]
        assert "seats>=10" in str(app.screen.query_one("#filter-line").render())
