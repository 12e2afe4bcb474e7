"""services/mail_thread (issue 21): a thread's messages the actor may see, oldest first, a bounded
page at a time by keyset, found by the thread key's index; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.services import contacts, mail_store, mail_thread, users
from crm_tui.services.mail_store import MailMessage
from crm_tui.shapes import system_actor


def _store(db, actor, now, *messages: MailMessage, user_id=None) -> dict[str, int]:
    with db.write() as s:
        return mail_store.store_messages(s, messages, actor=actor, source="ingest", user_id=user_id,
                                         ours=["ann@ourco.com"], now=now).email_ids


def _bodies(page) -> list[str]:
    return [m.body for m in page.items]


def test_visible_messages_oldest_first_and_a_root_whose_own_key_differs(db, actor, now):
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Ada", "emails": ["ada@example.com"]}, actor=actor, now=now)
        bob = users.actor_for(s, login=users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor,
                                                          now=now).login, now=now)
    t = now - timedelta(days=1)
    # K answered mail we never stored (its key is Z); X's client kept only K in References
    ids = _store(db, actor, now,
                 MailMessage("k@example.com", t, "Plan", "ada@example.com", ("ann@ourco.com",), body="k",
                             in_reply_to="z@elsewhere.com"),
                 MailMessage("x@ourco.com", t + timedelta(hours=1), "Re: Plan", "ann@ourco.com",
                             ("ada@example.com",), body="x", in_reply_to="k@example.com", references=("k@example.com",)),
                 MailMessage("y@ourco.com", t + timedelta(hours=2), "Re: Plan", "ann@ourco.com", ("zoe@newco.com",),
                             body="y (to no contact)", in_reply_to="x@ourco.com",
                             references=("k@example.com", "x@ourco.com")),
                 user_id=actor.user_id)
    with db.read() as s:
        assert _bodies(mail_thread.thread_page(s, email_id=ids["x@ourco.com"], actor=actor)) == \
            ["k", "x", "y (to no contact)"]
        # bob sees what is on a timeline; Ann's mail to Zoe (no contact) is hers alone
        assert _bodies(mail_thread.thread_page(s, email_id=ids["x@ourco.com"], actor=bob)) == ["k", "x"]
        with pytest.raises(NotFound, match=f"no email with id {ids['y@ourco.com']}"):
            mail_thread.thread_page(s, email_id=ids["y@ourco.com"], actor=bob)
        assert len(mail_thread.thread_page(s, email_id=ids["y@ourco.com"], actor=system_actor()).items) == 3
        with pytest.raises(NotFound):
            mail_thread.thread_page(s, email_id=2**40, actor=actor)


def test_a_long_thread_is_read_a_page_at_a_time_latest_first(db, actor, now):
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Ada", "emails": ["ada@example.com"]}, actor=actor, now=now)
    t = now - timedelta(days=3)
    messages = [MailMessage(f"m{i}@example.com", t + timedelta(minutes=i), "Long", "ada@example.com",
                            ("ann@ourco.com",), body=f"{i}", in_reply_to="m0@example.com" if i else None,
                            references=("m0@example.com",) if i else ()) for i in range(7)]
    ids = _store(db, actor, now, *messages)
    with db.read() as s:
        latest = mail_thread.thread_page(s, email_id=ids["m0@example.com"], actor=actor, limit=3)
        assert _bodies(latest) == ["4", "5", "6"] and latest.next_cursor is None
        middle = mail_thread.thread_page(s, email_id=ids["m0@example.com"], actor=actor, limit=3,
                                         before=latest.prev_cursor)
        assert _bodies(middle) == ["1", "2", "3"]
        first = mail_thread.thread_page(s, email_id=ids["m0@example.com"], actor=actor, limit=3,
                                        before=middle.prev_cursor)
        assert _bodies(first) == ["0"] and first.prev_cursor is None
        newer = mail_thread.thread_page(s, email_id=ids["m0@example.com"], actor=actor, limit=3,
                                        after=middle.next_cursor)
        assert _bodies(newer) == ["4", "5", "6"]
        with pytest.raises(InvalidInput):
            mail_thread.thread_page(s, email_id=ids["m0@example.com"], actor=actor, limit=0)


def test_the_thread_is_found_by_its_index_not_a_scan(db, actor, now):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL's planner picks by table size")
    _store(db, actor, now, MailMessage("a@example.com", now, "A", "ada@example.com", ("ann@ourco.com",)))
    with db.read() as s:
        plan = " ".join(str(r[-1]) for r in s.execute(text(
            "EXPLAIN QUERY PLAN SELECT sent_at, id FROM email_messages WHERE thread_key = 'a@example.com' "
            "ORDER BY sent_at, id LIMIT 51")))
    assert "ix_email_messages_thread" in plan and "SCAN email_messages" not in plan.replace("USING INDEX", "")


def test_resolve_names_an_email_by_activity_email_id_or_message_id(db, actor, now):
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Ada", "emails": ["ada@example.com"]}, actor=actor, now=now)
    ids = _store(db, actor, now, MailMessage("r@example.com", now, "R", "ada@example.com", ("ann@ourco.com",)))
    with db.read() as s:
        from sqlalchemy import select

        from crm_tui.models import Activity

        activity = s.scalar(select(Activity.id).where(Activity.email_id == ids["r@example.com"]))
        for ref in (str(activity), f"email:{ids['r@example.com']}", f"e{ids['r@example.com']}", "<r@example.com>",
                    "r@example.com"):
            assert mail_thread.resolve(s, ref=ref) == ids["r@example.com"], ref
        for ref, error in (("", InvalidInput), ("hello", InvalidInput), ("<nope@x.com>", NotFound),
                           ("email:999999", NotFound), ("999999", NotFound)):
            with pytest.raises(error):
                mail_thread.resolve(s, ref=ref)
