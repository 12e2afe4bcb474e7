"""The Triage screen at 80x24: opened from the palette, its empty state, and the keys that make a
lead, link an address to a contact and ignore a domain, each through the triage service."""

from __future__ import annotations

from sqlalchemy import func, select
from textual.command import CommandList
from textual.widgets import DataTable, Static

from crm_tui.models import Activity, Contact
from crm_tui.screens.mail.triage import LinkForm, TriageScreen
from crm_tui.services import contacts
from crm_tui.services.mail_capture import run
from crm_tui.services.mail_capture.capture import RawMail
from crm_tui.widgets.picker import Picker
from tests.tui.conftest import make_app, settle
from tests.unit import mail_samples as s


async def _open(app, pilot) -> TriageScreen:
    await settle(app, pilot)
    await pilot.press("ctrl+p", *"mail triage")
    for _ in range(50):  # the palette matches in its own task
        await pilot.pause()
        options = app.screen.query_one(CommandList)
        if options.option_count and "Mail triage" in str(options.get_option_at_index(0).prompt):
            break
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, TriageScreen)
    return app.screen


async def test_an_empty_triage_says_so(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        empty = screen.query_one("#triage-empty", Static)
        assert empty.display and "Triage is empty" in str(empty.render())
        assert not screen.query_one(DataTable).display


async def test_lead_link_and_ignore_a_domain_from_the_keyboard(sqlite_db, actor_sqlite, now):
    db, actor = sqlite_db, actor_sqlite
    with db.write() as session:
        ada = contacts.create_contact(session, data={"first_name": "Ada", "last_name": "Lovelace",
                                                     "emails": ["ada@example.com"]}, actor=actor, now=now).id
    run.ingest(db, [RawMail(s.plain(sender="Zoe Park <zoe@newco.com>", message_id="<a@x.com>"), "a"),
                    RawMail(s.plain(sender="ada.home@gmail.com", message_id="<b@x.com>"), "b"),
                    RawMail(s.plain(sender="promo@spam.org", message_id="<c@x.com>"), "c"),
                    RawMail(s.plain(sender="deals@spam.org", message_id="<d@x.com>"), "d")],
               actor=actor, extra_addresses=["ann@ourco.com"], now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        table = screen.query_one(DataTable)
        assert [r.address for r in screen.rows] == ["ada.home@gmail.com", "deals@spam.org", "promo@spam.org",
                                                    "zoe@newco.com"]
        assert "4 address(es)" in str(screen.query_one("#triage-line", Static).render())

        table.move_cursor(row=3)
        await pilot.press("l")
        await settle(app, pilot)
        assert [r.address for r in screen.rows] == ["ada.home@gmail.com", "deals@spam.org", "promo@spam.org"]

        table.move_cursor(row=1)
        await pilot.press("D")
        await pilot.press("y")
        await settle(app, pilot)
        assert [r.address for r in screen.rows] == ["ada.home@gmail.com"]

        table.move_cursor(row=0)
        await pilot.press("k")
        await settle(app, pilot)
        assert isinstance(app.screen, LinkForm)
        await pilot.press(*"Lovelace")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        assert app.screen.query_one("#contact-picker", Picker).chosen_id == ada
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen and screen.rows == []
        assert screen.query_one("#triage-empty", Static).display

    with db.read() as session:
        zoe = session.execute(select(Contact.first_name, Contact.lifecycle).where(Contact.email == "zoe@newco.com")).one()
        assert tuple(zoe) == ("Zoe", "lead")
        assert session.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id == ada)) == 1
        assert "ada.home@gmail.com" in contacts.get_contact(session, contact_id=ada).emails
