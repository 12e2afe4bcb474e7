"""Snapshots of an email's thread, opened with Enter from a contact's timeline on fixed mail and a
frozen clock, at 80x24 and 120x36, and a Pilot check that it fits 80x24 (tests/tui/fit.py). Review
every changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from crm_tui.app import CrmApp
from tests.snapshots.test_snapshots import settle
from tests.tui.fit import assert_fits
from tests.tui.test_mail_thread import _open_row, seed_thread

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


def _app(db, actor, now) -> CrmApp:
    return CrmApp(db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None)


def _open_thread(lee: int):
    async def run_before(pilot) -> None:
        await settle(pilot.app, pilot)
        pilot.app.open_record("contact", lee)
        await settle(pilot.app, pilot)
        await _open_row(pilot.app, pilot, "Pricing")
        await settle(pilot.app, pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_thread(snap_compare, sqlite_db, actor_sqlite, now, size):
    lee = seed_thread(sqlite_db, actor_sqlite, now)
    assert snap_compare(_app(sqlite_db, actor_sqlite, now), terminal_size=size, run_before=_open_thread(lee))


async def test_thread_fits_80x24(sqlite_db, actor_sqlite, now):
    lee = seed_thread(sqlite_db, actor_sqlite, now)
    app = _app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_thread(lee)(pilot)
        assert type(app.screen).__name__ == "ThreadScreen"
        assert_fits(app.screen)
        await pilot.press("end")
        await settle(app, pilot)
        assert_fits(app.screen)
