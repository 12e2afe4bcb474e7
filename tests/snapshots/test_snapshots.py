"""Snapshots of the main screens on fixed demo data and a frozen clock, at 80x24 (over SSH) and
120x36. Review every changed SVG (snapshot_report.html) before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from crm_tui.services import companies, contacts
from tests.tui.conftest import settle as settle_workers

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


def _first_contact_id(app) -> int:
    with app.db.read() as session:
        return contacts.list_contacts(session, sort="last_contacted", limit=1, now=app.now()).items[0].id


def _first_company_id(app) -> int:
    with app.db.read() as session:
        return companies.list_companies(session, limit=1).items[0].id


async def settle(app, pilot) -> None:
    """Workers done, then animations (a tab's underline slides when its label grows) finished."""
    await settle_workers(app, pilot)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _settled(pilot) -> None:
    await settle(pilot.app, pilot)


@pytest.mark.parametrize("size", SIZES)
def test_contacts_list(snap_compare, demo_app, size):
    assert snap_compare(demo_app, terminal_size=size, run_before=_settled)


@pytest.mark.parametrize("size", SIZES)
def test_contact_detail(snap_compare, demo_app, size):
    from crm_tui.screens.contacts.detail import ContactDetailScreen

    async def open_detail(pilot):
        await settle(pilot.app, pilot)
        pilot.app.push_screen(ContactDetailScreen(_first_contact_id(pilot.app)))
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=open_detail)


@pytest.mark.parametrize("size", SIZES)
def test_company_detail(snap_compare, demo_app, size):
    from crm_tui.screens.companies.detail import CompanyDetailScreen

    async def open_detail(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("2")
        await settle(pilot.app, pilot)
        pilot.app.push_screen(CompanyDetailScreen(_first_company_id(pilot.app)))
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=open_detail)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, demo_app, size):
    async def open_help(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("question_mark")
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=open_help)
