"""Snapshots of the Triage screen on fixed mail and a frozen clock, at 80x24 and 120x36, and its
empty state at 80x24. Review every changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from crm_tui.app import CrmApp
from crm_tui.services.mail_capture import run
from crm_tui.services.mail_capture.capture import RawMail
from tests.snapshots.test_snapshots import settle
from tests.unit import mail_samples as s

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


def _app(db, actor, now) -> CrmApp:
    return CrmApp(db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None)


async def _open_triage(pilot) -> None:
    from crm_tui.screens.mail.triage import TriageScreen

    await settle(pilot.app, pilot)
    pilot.app.push_screen(TriageScreen())
    await settle(pilot.app, pilot)


@pytest.mark.parametrize("size", SIZES)
def test_triage(snap_compare, sqlite_db, actor_sqlite, now, size):
    run.ingest(sqlite_db, [
        RawMail(s.plain(sender="Zoe Park <zoe@newco.com>", message_id="<a@x.com>", subject="Pricing for 40 seats?"), "a"),
        RawMail(s.encoded_words(), "b"), RawMail(s.eight_bit_header(), "c"), RawMail(s.html_only(), "d"),
        RawMail(s.multipart_with_attachment(), "e"),
    ], actor=actor_sqlite, extra_addresses=["ann@ourco.com"], now=now)
    assert snap_compare(_app(sqlite_db, actor_sqlite, now), terminal_size=size, run_before=_open_triage)


def test_triage_empty(snap_compare, sqlite_db, actor_sqlite, now):
    assert snap_compare(_app(sqlite_db, actor_sqlite, now), terminal_size=(80, 24), run_before=_open_triage)
