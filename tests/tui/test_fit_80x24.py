"""The dialogs issue 20 found cut at 80x24 (over SSH), opened as a person would: every field,
label and button shows, none under another, and no one-line text is cut without "…" (tests/tui/fit.py)."""

from __future__ import annotations

import pytest

from crm_tui.screens.contacts.filters import ContactFilterForm
from crm_tui.screens.pipeline.board import BoardFilterForm
from crm_tui.screens.pipeline.deals import DealFilterForm
from crm_tui.services import demo

from .conftest import make_app, settle
from .fit import assert_fits

SIZE = (80, 24)


@pytest.fixture
def demo_db(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as session:
        demo.load_demo(session, contacts=60, seed=7, actor=actor_sqlite, now=now)
    return sqlite_db


async def _open(app, pilot, *keys: str):
    await settle(app, pilot)
    for key in keys:
        await pilot.press(key)
        await settle(app, pilot)
    return app.screen


@pytest.mark.parametrize("keys, dialog", [
    pytest.param(("f",), ContactFilterForm, id="contacts"),
    pytest.param(("3", "v", "f"), DealFilterForm, id="deals"),
    pytest.param(("3", "slash"), BoardFilterForm, id="board"),
])
async def test_a_filter_dialog_shows_every_field_and_its_buttons(demo_db, actor_sqlite, now, keys, dialog):
    app = make_app(demo_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, *keys)
        assert isinstance(screen, dialog)
        assert_fits(screen)
        assert len(screen.query("Button")) == 2
