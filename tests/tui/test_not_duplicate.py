"""The Duplicates screen's "not a duplicate" key (issue 17 #5): n dismisses the highlighted pair for
everyone (stored, audited), the list rescans without it, and u takes it back."""

from __future__ import annotations

from sqlalchemy import select

from crm_tui.models import AuditEvent
from crm_tui.screens.settings.duplicates import DuplicatesScreen
from crm_tui.services import contacts, dedupe
from tests.tui.conftest import make_app, settle


async def test_n_marks_a_pair_not_a_duplicate_and_u_takes_it_back(sqlite_db, actor_sqlite, now):
    db, actor = sqlite_db, actor_sqlite
    with db.write() as s:
        ids = [contacts.create_contact(s, data={"first_name": first, "last_name": "Lee", "phones": ["+14045550199"]},
                                       actor=actor, now=now).id for first in ("Ann", "Anne")]
        # a switchboard: another name at the same number is never listed
        contacts.create_contact(s, data={"first_name": "Bob", "last_name": "Stone", "phones": ["+14045550199"]},
                                actor=actor, now=now)

    app = make_app(db, actor, now)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.push_screen(DuplicatesScreen("contact"))
        await settle(app, pilot)
        screen = app.screen
        assert [(p.a_id, p.b_id, p.reasons, p.score) for p in screen.scan.pairs] == [
            (ids[0], ids[1], ("phone", "name"), 93)]  # as alike as "Ann Lee" and "Anne Lee"

        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is screen and screen.scan.pairs == []
        with db.read() as s:
            assert dedupe.dismissed_pairs(s, kind="contact") == {tuple(ids)}
            assert s.scalar(select(AuditEvent.actor).where(AuditEvent.action == "not-duplicate").limit(1)) == "ann"

        await pilot.press("u")
        await settle(app, pilot)
        assert [(p.a_id, p.b_id) for p in screen.scan.pairs] == [tuple(ids)]
        with db.read() as s:
            assert dedupe.dismissed_pairs(s, kind="contact") == set()
