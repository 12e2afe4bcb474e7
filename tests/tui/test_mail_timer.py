"""The app's timer sync of the user's mailbox runs in a worker and reports back by a message: a
mailbox that cannot be read is one warning, once."""

from __future__ import annotations

from crm_tui.app import CrmApp
from crm_tui.config import MailConfig, Settings
from tests.tui.conftest import settle


async def test_a_timer_sync_that_cannot_read_the_mailbox_warns_once(db, actor, now):
    settings = Settings(mail=MailConfig(sync_minutes=5))  # no [mail.imap] host: nothing to read
    app = CrmApp(db, actor, settings=settings, clock=lambda: now, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for _ in range(2):
            app.sync_mail()
            await settle(app, pilot)
        warnings = [n for n in app._notifications if n.title == "Mail sync"]
        assert len(warnings) == 1 and "set host and username" in warnings[0].message
        assert not app._mail_busy
