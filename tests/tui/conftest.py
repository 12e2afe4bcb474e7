"""Helpers for driving the real app: a fixed clock, no timers, and waiting on workers, not time."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
from textual.worker import WorkerCancelled

from crm_tui.app import LISTENER_GROUP, CrmApp
from crm_tui.compat import table_measured
from crm_tui.db import open_database
from crm_tui.widgets.paged_window import COUNT, PagedWindow


def make_app(db, actor, now, *, welcome: bool = False) -> CrmApp:
    return CrmApp(db, actor, clock=lambda: now, welcome=welcome, inbox_refresh_s=None)


def _workers(app) -> list:
    """The app's workers but the one that runs for the app's whole life (live refresh's LISTEN on
    PostgreSQL): it ends only with the app."""
    return [w for w in app.workers if w.group != LISTENER_GROUP]


async def settle(app, pilot, rounds: int = 20) -> None:
    """Wait until no worker is running and the messages they posted are handled."""
    for _ in range(rounds):
        try:
            if workers := _workers(app):
                await app.workers.wait_for_complete(workers)
        except WorkerCancelled:  # a newer load replaced it (exclusive workers): wait on the rest
            continue
        await pilot.pause()
        if not any(w.is_running for w in _workers(app)):
            await pilot.pause()
            if not any(w.is_running for w in _workers(app)) and await _tables_measured(app, pilot):
                return


async def _tables_measured(app, pilot, rounds: int = 20) -> bool:
    """Every DataTable on screen has sized its columns to the rows it was given (it does that on
    its next idle: a frame taken before shows a loaded table cut to its labels' widths)."""
    from textual.widgets import DataTable

    for _ in range(rounds):
        if all(table_measured(t) for t in app.screen.query(DataTable)):
            return True
        await pilot.pause()
    return False


class PageSpy:
    """The pages each paged window took in (its own fetches, and those its owner fetched for it):
    how many, and their rows. A list or a kanban column is looked up by its window."""

    def __init__(self) -> None:
        self.pages: Counter = Counter()
        self.rows: Counter = Counter()

    def fetches(self, shown) -> int:
        return self.pages[shown.window]

    def rows_fetched(self, shown) -> int:
        return self.rows[shown.window]


@pytest.fixture
def page_spy(monkeypatch) -> PageSpy:
    spy, accept = PageSpy(), PagedWindow.accept

    def counting(window, ask, page, **kw):
        took = accept(window, ask, page, **kw)
        if took and ask.kind != COUNT:
            spy.pages[window] += 1
            spy.rows[window] += len(page.items)
        return took

    monkeypatch.setattr(PagedWindow, "accept", counting)
    return spy


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
