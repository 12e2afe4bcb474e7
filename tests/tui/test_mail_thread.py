"""Enter on an email on a contact's timeline opens its thread (issue 21): every message, oldest
first, with its date, from, to, subject and text, scrollable at 80x24 with the keyboard; M answers
the thread's latest message; `a` opens the timeline entry itself; an email logged by hand (no
stored message) still opens the activity dialog."""

from __future__ import annotations

from datetime import timedelta

from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from crm_tui.app import CrmApp
from crm_tui.screens.activity import ActivityScreen
from crm_tui.screens.compose import ComposeScreen
from crm_tui.screens.mail.thread import ThreadScreen
from crm_tui.services import activities, contacts, mail_store, users
from crm_tui.services.mail_store import MailMessage
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import settle
from .test_compose import smtp  # noqa: F401 - the SMTP server on loopback (a fixture)

BODIES = ["What does it cost?\nWe are twelve people.", "Ten a seat, billed yearly.",
          "Deal. Send the contract.\n\nLee"]


def seed_thread(db, actor, now) -> int:
    """Lee writes, Ann answers, Lee answers again (the latest), and a mail on another subject."""
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"name": "Ann Admin", "email": "ann@team.example"},
                          actor=actor, now=now)
        lee = contacts.create_contact(s, data={"first_name": "Lee", "last_name": "Park", "emails": ["lee@acme.com"]},
                                      actor=actor, now=now)
        start = now - timedelta(days=2)
        mail_store.store_messages(s, [
            MailMessage("t1@acme.com", start, "Pricing", "lee@acme.com", ("ann@team.example",), body=BODIES[0]),
            MailMessage("t2@team.example", start + timedelta(hours=1), "Re: Pricing", "ann@team.example",
                        ("lee@acme.com",), ("bo@acme.com",), body=BODIES[1], in_reply_to="t1@acme.com",
                        references=("t1@acme.com",)),
            MailMessage("t3@acme.com", start + timedelta(hours=2), "Re: Pricing", "lee@acme.com",
                        ("ann@team.example",), body=BODIES[2], in_reply_to="t2@team.example",
                        references=("t1@acme.com", "t2@team.example"),
                        attachments=({"name": "signed.pdf", "size": 48_000},)),
            MailMessage("o1@acme.com", start + timedelta(hours=3), "Lunch?", "lee@acme.com", ("ann@team.example",),
                        body="Friday?"),
        ], actor=actor, source="ingest", user_id=actor.user_id, ours=["ann@team.example"], now=now)
        activities.log_activity(s, data={"kind": "email", "subject": "Typed by hand", "contact_id": lee.id,
                                         "occurred_at": start - timedelta(days=1)}, actor=actor, now=now)
    return lee.id


async def _open_row(app, pilot, subject: str, body_start: str | None = None) -> None:
    timeline = app.screen.query_one("#timeline", KeysetTable)
    timeline.focus()
    await settle(app, pilot)
    rows = timeline.visible_rows()
    index = next(i for i, r in enumerate(rows) if r.subject == subject
                 and (body_start is None or (r.body or "").startswith(body_start)))
    await pilot.press("home", *["down"] * index)
    assert timeline.current_row.id == rows[index].id
    await pilot.press("enter")
    await settle(app, pilot)


async def test_enter_on_an_email_opens_its_thread_and_m_answers_the_latest(sqlite_db, actor_sqlite, now):
    lee = seed_thread(sqlite_db, actor_sqlite, now)
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", lee)
        await settle(app, pilot)
        detail = app.screen
        await _open_row(app, pilot, "Pricing")  # the thread's first message
        thread = app.screen
        assert isinstance(thread, ThreadScreen)

        texts = [str(w.render()) for w in thread.query(".thread-text").results(Static)]
        assert texts == BODIES  # oldest first, the whole text, and not the mail on another subject
        heads = [str(w.render()) for w in thread.query(".thread-head").results(Static)]
        assert "lee@acme.com" in heads[0] and "Pricing" in heads[0] and "ann@team.example" in heads[0]
        assert "Cc: bo@acme.com" in heads[1] and "From: ann@team.example" in heads[1]
        assert "Subject: Re: Pricing" in heads[1]
        assert "signed.pdf (48 kB)" in heads[2]
        assert "3 messages" in str(thread.query_one("#thread-title", Static).render())

        # keyboard-only scrolling through a thread longer than the screen
        box = thread.query_one("#thread-messages", VerticalScroll)
        assert app.focused is box and box.max_scroll_y > 0
        await pilot.press("end")
        await settle(app, pilot)
        assert box.scroll_y == box.max_scroll_y
        await pilot.press("home")
        await settle(app, pilot)
        assert box.scroll_y == 0

        # M answers the latest message (Lee's), whichever one was opened
        await pilot.press("M")
        await settle(app, pilot)
        compose = app.screen
        assert isinstance(compose, ComposeScreen)
        assert compose.in_reply_to == "t3@acme.com"
        assert compose.query_one("#compose-subject", Input).value == "Re: Pricing"
        assert compose.query_one("#compose-to", Input).value == "lee@acme.com"
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is thread

        # a: the timeline entry itself, to correct or delete
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, ActivityScreen) and app.screen.activity.subject == "Pricing"
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is detail

        # an email typed in by hand has no message to thread: the activity dialog, as before
        await _open_row(app, pilot, "Typed by hand")
        assert isinstance(app.screen, ActivityScreen) and app.screen.activity.subject == "Typed by hand"


async def test_a_long_thread_shows_its_latest_page_and_o_reads_the_older_ones(sqlite_db, actor_sqlite, now,
                                                                            monkeypatch):
    from crm_tui.services import mail_thread

    monkeypatch.setattr(mail_thread, "PAGE", 2)  # the app's page of a thread
    lee = seed_thread(sqlite_db, actor_sqlite, now)
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", lee)
        await settle(app, pilot)
        await _open_row(app, pilot, "Re: Pricing", "Deal.")
        thread = app.screen
        assert isinstance(thread, ThreadScreen)
        assert [m.body for m in thread.messages] == BODIES[1:]
        assert "o: older ones" in str(thread.query_one("#thread-title", Static).render())
        await pilot.press("o")
        await settle(app, pilot)
        assert [m.body for m in thread.messages] == BODIES
        assert "older" not in str(thread.query_one("#thread-title", Static).render())


async def test_a_reply_sent_from_the_thread_joins_it(sqlite_db, actor_sqlite, now, smtp):
    from textual.widgets import TextArea

    inbox, settings = smtp
    lee = seed_thread(sqlite_db, actor_sqlite, now)
    app = CrmApp(sqlite_db, actor_sqlite, settings=settings, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", lee)
        await settle(app, pilot)
        await _open_row(app, pilot, "Pricing")
        thread = app.screen
        await pilot.press("M")
        await settle(app, pilot)
        app.screen.query_one("#compose-body", TextArea).text = "Sent it just now."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is thread
        assert [m.body.strip() for m in thread.messages][-1] == "Sent it just now."
        assert len(thread.messages) == 4
    [sent] = inbox.messages
    assert (sent["In-Reply-To"], sent["References"]) == ("<t3@acme.com>", "<t1@acme.com> <t2@team.example> <t3@acme.com>")
