"""Live refresh: what another process saves shows on the open screen without a keypress, keeping
the cursor and the scroll. Two apps on one database, each with its own Database object (as two
teammates' processes have): a deal moved on one board shows on the other's; a contact added
elsewhere shows when the hidden Contacts area comes back. SQLite polls PRAGMA data_version,
PostgreSQL LISTENs; an app's own writes are not taken for a teammate's, and the listener
reconnects when its connection is killed."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text

from crm_tui.app import LISTENER_GROUP, CrmApp
from crm_tui.config import load_settings
from crm_tui.db import CHANGES_CHANNEL, open_database
from crm_tui.errors import InvalidInput
from crm_tui.live import IDLE_WAIT_S, PostgresChanges, SqliteChanges
from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.screens.pipeline.board import PipelineScreen
from crm_tui.services import contacts, deals, pipelines, users

from .conftest import settle

POLL_S = 0.1
WAIT_S = 5.0  # the most a change may take to show here (it takes about POLL_S)
STOP_S = 3 * IDLE_WAIT_S  # the most the listener may take to stop (it takes at most IDLE_WAIT_S)


async def _until(pilot, condition, what: str) -> None:
    """Let the app run (no keys pressed) until `condition` holds; fail after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"not shown within {WAIT_S} s: {what}"
        await pilot.pause(0.05)


def _app(db, actor, now, *, live: float | None) -> CrmApp:
    return CrmApp(db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None, live_refresh_s=live)


def _seed(db, now) -> dict:
    with db.write() as s:
        ann = users.actor_for(s, login="ann", now=now)  # the first user: an admin
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "name": "Bob", "role": "manager"}, actor=ann, now=now)
    with db.write() as s:
        stages = {st.name: st.id for st in pipelines.default_pipeline(s).stages}
        for title in ("Anvils", "Bolts"):
            deals.create_deal(s, data={"title": title, "amount": "100"}, actor=ann, now=now)
        for i in range(12):  # enough to scroll the column
            deals.create_deal(s, data={"title": f"N{i:02}", "amount": "10", "stage_id": stages["Negotiation"]},
                              actor=ann, now=now - timedelta(minutes=i))
    with db.write() as s:
        bob_actor = users.actor_for(s, login=bob.login, now=now)
    return {"ann": ann, "bob": bob_actor}


def _contact(session, name: str, actor, now) -> None:
    contacts.create_contact(session, data={"first_name": name}, actor=actor, now=now)


def _first_user(db, now):
    with db.write() as s:
        return users.actor_for(s, login="ann", now=now)


def _titles(column) -> list[str]:
    return [card.title for card in column.rows]


async def test_a_move_on_one_board_shows_on_the_other(db_url, now):
    mine, theirs = open_database(db_url), open_database(db_url)  # two processes' worth of Database
    try:
        people = _seed(mine, now)
        me, them = _app(mine, people["ann"], now, live=POLL_S), _app(theirs, people["bob"], now, live=POLL_S)
        async with me.run_test(size=(120, 36)) as pilot, them.run_test(size=(120, 36)) as their_pilot:
            await pilot.press("3")
            await settle(me, pilot)
            board = me.screen.board
            new, qualified, _, negotiation = board.columns
            await pilot.press("right", "right", "right", "pagedown", "pagedown")  # scrolled down the last column
            await settle(me, pilot)
            where = (board.column, negotiation.cursor, negotiation._top, board.current_card.title)
            assert where[0] is negotiation and where[1] > negotiation.visible_cards and where[2] > 0
            generation = me.live_generation

            # the teammate moves Anvils on their board
            await their_pilot.press("3")
            await settle(them, their_pilot)
            assert them.screen.board.current_card.title == "Anvils"
            await their_pilot.press("right_square_bracket")
            await settle(them, their_pilot)
            with theirs.read() as s:
                assert deals.get_deal(s, deal_id=them.screen.board.current_card.id).stage_name == "Qualified"

            # it shows here with no key pressed; cursor and scroll stay where they were
            await _until(pilot, lambda: _titles(new) == ["Bolts"] and "Anvils" in _titles(qualified),
                         "Anvils moved to Qualified")
            assert me.live_generation > generation
            assert (board.column, negotiation.cursor, negotiation._top, board.current_card.title) == where

            # a contact they add shows in the Contacts area (out of sight now) when it comes back
            with theirs.write() as s:
                contacts.create_contact(s, data={"first_name": "Zed", "last_name": "Newcomer"},
                                        actor=people["bob"], now=now)
            seen = me.live_generation
            await _until(pilot, lambda: me.live_generation > seen, "the new contact noticed")
            await pilot.press("1")
            assert isinstance(me.screen, ContactsScreen)
            await _until(pilot, lambda: any(r.full_name == "Zed Newcomer" for r in me.screen.table.visible_rows()),
                         "the new contact in the list")
            # their own writes (the move, the contact) were not taken for a teammate's: no second reload
            assert isinstance(them.screen, PipelineScreen) and them.live_generation == 0
    finally:
        mine.dispose()
        theirs.dispose()


async def test_a_contact_renamed_elsewhere_shows_in_the_list_keeping_cursor_and_scroll(db_url, now):
    """The list, scrolled down with the cursor on a row, takes a teammate's rename of a row on
    screen with no key pressed, and the cursor stays on the same contact at the same place."""
    mine, theirs = open_database(db_url), open_database(db_url)
    try:
        ann = _first_user(mine, now)
        with mine.write() as s:
            for i in range(80):
                _contact(s, f"P{i:03}", ann, now)
        me = _app(mine, ann, now, live=POLL_S)
        async with me.run_test(size=(120, 36)) as pilot:
            await settle(me, pilot)
            table = me.screen.table
            table.focus()
            await pilot.press("pagedown", "pagedown", "down", "down")
            await settle(me, pilot)
            where = (table.cursor, table._top, table.current_row.id)
            assert where[1] > 0
            shown = table.visible_rows()[3]
            with theirs.write() as s:
                contacts.update_contact(s, contact_id=shown.id, changes={"last_name": "Renamed"}, actor=ann, now=now)
            await _until(pilot, lambda: any(r.full_name.endswith("Renamed") for r in table.visible_rows()),
                         "the renamed contact in the list")
            assert (table.cursor, table._top, table.current_row.id) == where
    finally:
        mine.dispose()
        theirs.dispose()


def test_sqlite_own_writes_are_not_a_teammates(tmp_path, sqlite_template, now):
    import shutil

    url = f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'crm.db')}"
    mine, theirs = open_database(url), open_database(url)
    actor = _first_user(theirs, now)
    watcher = SqliteChanges(mine, str(tmp_path / "crm.db"))
    try:
        assert not watcher.check()
        with mine.write() as s:  # this app's own save: it refreshes by itself, no second reload
            _contact(s, "Own", actor, now)
        assert not watcher.check()
        with theirs.write() as s:
            _contact(s, "bob", actor, now)
        assert watcher.check() and not watcher.check()
        with theirs.write() as s:  # theirs, then mine before the next look: theirs is not lost
            _contact(s, "cy", actor, now)
        with mine.write() as s:
            _contact(s, "dee", actor, now)
        assert watcher.check() and not watcher.check()
        with pytest.raises(InvalidInput), theirs.write() as s:  # rolled back: nothing to see
            _contact(s, "eve", actor, now)
            raise InvalidInput("no")
        assert not watcher.check()
    finally:
        watcher.close()
        mine.dispose()
        theirs.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_postgres_notify_on_commit_listener_skips_its_own_and_reconnects(db_url, now):
    mine, theirs = open_database(db_url), open_database(db_url)
    actor = _first_user(theirs, now)
    calls: list[float] = []
    listener = PostgresChanges(mine, lambda: calls.append(time.monotonic()), interval_s=POLL_S)
    cargs, cparams = mine.engine.dialect.create_connect_args(mine.engine.url)
    raw = psycopg.connect(*cargs, **cparams, autocommit=True)
    try:
        raw.execute(f"LISTEN {CHANGES_CHANNEL}")
        with theirs.write() as s:  # a committed write carries its Database's token...
            _contact(s, "ann", actor, now)
        with pytest.raises(InvalidInput), theirs.write() as s:  # ...and a rolled-back one sends nothing
            _contact(s, "bob", actor, now)
            raise InvalidInput("no")
        assert [n.payload for n in raw.notifies(timeout=0.5)] == [theirs.change_token]

        threading.Thread(target=listener.run, daemon=True).start()  # the app runs it in a worker
        assert listener.listening.wait(WAIT_S)
        with mine.write() as s:  # its own write is skipped
            _contact(s, "cy", actor, now)
        _wait(lambda: listener.skipped == 1, "own notice skipped")
        assert calls == []
        with theirs.write() as s:
            _contact(s, "dee", actor, now)
        _wait(lambda: len(calls) == 1, "a teammate's write noticed")

        # the server drops the connection: it comes back, and calls once (notices may be lost)
        with mine.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener.backend_pid})
            conn.commit()
        _wait(lambda: listener.reconnects == 1 and len(calls) == 2, "reconnected")
        assert listener.listening.wait(WAIT_S)
        with theirs.write() as s:
            _contact(s, "eve", actor, now)
        _wait(lambda: len(calls) == 3, "noticed after the reconnect")
        listener.close()
        assert listener.finished.wait(STOP_S), "the listener did not stop"
    finally:
        listener.close()
        raw.close()
        mine.dispose()
        theirs.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_an_app_listening_on_postgres_quits_at_once(db_url, now):
    """The LISTEN runs in one of the app's thread workers for the app's whole life. Quitting
    cancels it, and it stops within a bound: a worker blocked on the socket would hold up the
    app's exit (the event loop's close waits for every thread of its pool)."""
    db = open_database(db_url)
    listener = None
    try:
        app = _app(db, _first_user(db, now), now, live=POLL_S)

        async def session():
            nonlocal listener
            async with app.run_test(size=(80, 24)) as pilot:
                await _until(pilot, lambda: isinstance(app._live, PostgresChanges) and app._live.listening.is_set(),
                             "the listener listening")
                listener = app._live
                [worker] = [w for w in app.workers if w.group == LISTENER_GROUP]
                assert worker.is_running and not listener.finished.is_set()
                await settle(app, pilot)  # the other workers end; the listener's goes on
                assert worker.is_running
                started = time.monotonic()
            return time.monotonic() - started

        took = await asyncio.wait_for(session(), WAIT_S)  # the app's exit, listener and all
        assert took < STOP_S
        # its thread is done too (the pool's thread free for the loop to close), not just cancelled
        assert await asyncio.to_thread(listener.finished.wait, STOP_S), "the listener went on after the app quit"
    finally:
        if listener is not None:
            listener.close()  # a listener that failed the test must not hang the loop's close
        db.dispose()


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(0.02)


def test_the_interval_comes_from_the_config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[live]\nrefresh_seconds = 2.5\n")
    assert load_settings(path).live_refresh_seconds == 2.5
    path.write_text("")
    assert load_settings(path).live_refresh_seconds == 1.0
    path.write_text("[live]\nrefresh_seconds = 'soon'\n")
    with pytest.raises(InvalidInput, match=r"\[live\] refresh_seconds"):
        load_settings(path)


async def test_quitting_before_the_first_frame_starts_no_background_work(tmp_path, sqlite_template, now):
    """The Inbox count, the rules and live refresh start after the first frame; a ctrl+q that comes
    first (a loaded machine) must not have them start on an app that is closing."""
    import shutil

    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    db = open_database(f"sqlite:///{path}")
    try:
        app = _app(db, _first_user(db, now), now, live=POLL_S)
        app._start_background_work = lambda: None  # held back: the frame comes, then the quit
        async with app.run_test(size=(80, 24)):
            pass
        CrmApp._start_background_work(app)  # the deferred start, arriving after the quit
        assert app._live is None and not app.workers
    finally:
        db.dispose()
