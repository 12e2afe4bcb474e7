"""Snapshots of marked rows and the bulk change dialog at 80x24 (issue 20), on demo data and a frozen clock."""

from __future__ import annotations

import pytest

from tests.snapshots.test_snapshots import settle


async def _mark_three(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.press("space", "down", "space", "space")
    await settle(pilot.app, pilot)


def test_contacts_marked_80x24(snap_compare, demo_app):
    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=_mark_three)


def test_bulk_dialog_80x24(snap_compare, demo_app):
    async def open_dialog(pilot) -> None:
        await _mark_three(pilot)
        await pilot.press("b")
        await settle(pilot.app, pilot)
        await pilot.press("down", "down", "enter")  # Add tag: the value line asks for the tag
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=open_dialog)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_bulk_owner_picker(snap_compare, demo_app, size):
    """Change owner: a picker in the value line's place, "nobody" and the users under it."""
    async def open_dialog(pilot) -> None:
        await _mark_three(pilot)
        await pilot.press("b")
        await settle(pilot.app, pilot)
        await pilot.press("enter", "down")  # Change owner; down lists the choices
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=open_dialog)


def test_bulk_set_a_field_80x24(snap_compare, sqlite_demo_db, sqlite_demo_actor, now, demo_app):
    """"Set a field": the contacts' columns and typed custom fields, then a choice field's choices."""
    from crm_tui.services import fields

    with sqlite_demo_db.write() as session:
        fields.add_field(session, kind="contact", key="segment", type="choice", options=["smb,mid,enterprise"],
                         actor=sqlite_demo_actor, now=now)
        fields.add_field(session, kind="contact", key="renewal", type="date", required=True, default="2027-01-01",
                         actor=sqlite_demo_actor, now=now)

    async def open_step(pilot) -> None:
        await _mark_three(pilot)
        await pilot.press("b")
        await settle(pilot.app, pilot)
        await pilot.press("down", "down", "down", "enter")  # Set a field
        await settle(pilot.app, pilot)
        await pilot.press("down", "down", "enter")  # segment: its choices
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=open_step)


def test_bulk_set_a_field_list_80x24(snap_compare, sqlite_demo_db, sqlite_demo_actor, now, demo_app):
    from crm_tui.services import fields

    with sqlite_demo_db.write() as session:
        fields.add_field(session, kind="contact", key="seats", type="number", actor=sqlite_demo_actor, now=now)

    async def open_step(pilot) -> None:
        await _mark_three(pilot)
        await pilot.press("b")
        await settle(pilot.app, pilot)
        await pilot.press("down", "down", "down", "enter")  # Set a field
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=open_step)
