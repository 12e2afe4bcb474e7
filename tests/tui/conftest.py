"""Helpers for driving the real app: a fixed clock, no timers, and waiting on workers, not time."""

from __future__ import annotations

import shutil

import pytest
from textual.worker import WorkerCancelled

from crm_tui.app import CrmApp
from crm_tui.db import open_database


def make_app(db, actor, now, *, welcome: bool = False) -> CrmApp:
    return CrmApp(db, actor, clock=lambda: now, welcome=welcome, inbox_refresh_s=None)


async def settle(app, pilot, rounds: int = 20) -> None:
    """Wait until no worker is running and the messages they posted are handled."""
    for _ in range(rounds):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # a newer load replaced it (exclusive workers): wait on the rest
            continue
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return


@pytest.fixture
def sqlite_db(tmp_path, sqlite_template):
    """A SQLite-only database, for tests of the screen and not of the backend (snapshots)."""
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    database = open_database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def actor_sqlite(sqlite_db, now):
    from crm_tui.services import users

    with sqlite_db.write() as session:
        return users.actor_for(session, login="ann", now=now)
