"""The Duplicates screen: opened from the palette, lists the likely pairs, and merges one through
the form that asks which value to keep (one app run for the whole flow)."""

from __future__ import annotations

from sqlalchemy import func, select
from textual.command import CommandList
from textual.widgets import Select

from crm_tui.models import Activity, Contact
from crm_tui.screens.settings.duplicates import DuplicatesScreen, MergeForm
from crm_tui.services import activities, companies, contacts
from tests.tui.conftest import make_app, settle


async def test_find_and_merge_duplicate_contacts(sqlite_db, actor_sqlite, now):
    db, actor = sqlite_db, actor_sqlite
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
        jon = contacts.create_contact(s, data={"first_name": "Jon", "last_name": "Smith", "company_id": acme,
                                               "emails": ["jon@acme.com"]}, actor=actor, now=now).id
        john = contacts.create_contact(s, data={"first_name": "John", "last_name": "Smith", "company_id": acme,
                                                "title": "CEO"}, actor=actor, now=now).id
        contacts.create_contact(s, data={"first_name": "Zed", "last_name": "Other", "company_id": acme},
                                actor=actor, now=now)
        activities.log_activity(s, data={"kind": "call", "subject": "hi", "contact_id": john}, actor=actor, now=now)

    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p", *"duplicate contacts")
        for _ in range(50):  # the palette matches in its own task
            await pilot.pause()
            options = app.screen.query_one(CommandList)
            if options.option_count and "duplicate contacts" in str(options.get_option_at_index(0).prompt):
                break
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DuplicatesScreen)
        assert [(p.a_id, p.b_id, p.reasons) for p in screen.scan.pairs] == [(jon, john, ("name",))]
        assert screen.table.current_row.b_label == "John Smith"

        await pilot.press("m")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, MergeForm)
        assert [c.name for c in form.plan.conflicts] == ["first_name"]
        assert form.plan.filled == {"title": "CEO"}
        await pilot.press("enter", "down", "enter")  # open the first field's choices, pick b
        assert form.query_one(Select).value == "b"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen and screen.scan.pairs == []

    with db.read() as s:
        assert s.get(Contact, john) is None
        survivor = contacts.get_contact(s, contact_id=jon)
        assert (survivor.first_name, survivor.title, survivor.emails) == ("John", "CEO", ["jon@acme.com"])
        assert s.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id == jon)) == 1
