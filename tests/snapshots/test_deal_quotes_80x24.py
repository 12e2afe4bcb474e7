"""The deal screen's Quotes tab and a quote's text preview at 80x24 (a frozen clock, fixed data).
Review a changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from crm_tui.app import CrmApp
from crm_tui.services import quotes
from tests.snapshots.test_snapshots import settle
from tests.snapshots.fits import opened_and_fits
from tests.unit.quote_fixtures import deal_with_items

SIZE = (80, 24)


@pytest.fixture
def quote_app(sqlite_db, actor_sqlite, now):
    deal, _ = deal_with_items(sqlite_db, actor_sqlite, now, n=12, discount_bp=500)
    with sqlite_db.write() as s:
        quotes.create_quote(s, actor=actor_sqlite, deal_id=deal.id, now=now, terms="Payment within 30 days.")
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    app.quote_deal_id = deal.id
    return app


def _open(*keys: str):
    async def run_before(pilot) -> None:
        from textual.widgets import TabbedContent

        from crm_tui.screens.pipeline.deal import DealDetailScreen

        app = pilot.app
        await settle(app, pilot)
        app.push_screen(DealDetailScreen(app.quote_deal_id))
        await settle(app, pilot)
        app.screen.query_one(TabbedContent).active = "tab-deal-quotes"
        await settle(app, pilot)
        app.screen.query_one("#deal-quotes").focus()
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)

    return run_before


@pytest.mark.parametrize("keys", [(), ("p",)], ids=["tab", "preview"])
def test_quotes_80x24(snap_compare, quote_app, keys):
    """The snapshot, after the check that everything on the screen fits."""
    assert snap_compare(quote_app, terminal_size=SIZE, run_before=opened_and_fits(_open(*keys)))
