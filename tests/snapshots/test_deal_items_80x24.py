"""The deal screen's Items tab and its item form at 80x24, on the demo data (seed 7, frozen clock):
snapshots, and the Pilot check that everything shows and fits (tests/tui/fit.py). Review every
changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from crm_tui.services import deal_items, products
from tests.snapshots.test_snapshots import settle
from tests.snapshots.fits import opened_and_fits

SIZE = (80, 24)


async def _items_tab(pilot, *after: str) -> None:
    """Open the board's first deal, give it three items, and step to its Items tab."""
    app = pilot.app
    await settle(app, pilot)
    for key in ("3", "enter"):
        await pilot.press(key)
        await settle(app, pilot)
    deal_id = app.screen.record_id
    with app.db.write() as s:
        products.create_product(s, sku="WID-1", name="Widget, anodised aluminium", tax_rate="20",
                                prices={"USD": "19.99", "EUR": "18.50"}, actor=app.actor, now=app.now())
        products.create_product(s, sku="SUP-12M", name="Support plan, 12 months", prices={"USD": "1200",
                                                                                          "EUR": "1100"},
                                actor=app.actor, now=app.now())
        currency_items = [("WID-1", "2.5", "10%", None), ("SUP-12M", "1", "150", "renewal"), ("WID-1", "40", None,
                                                                                                 None)]
        for sku, qty, discount, note in currency_items:
            deal_items.add_item(s, app.actor, deal_id, sku_or_product_id=sku, quantity=qty, discount=discount,
                                description=note, now=app.now())
    app.data_changed()
    await settle(app, pilot)
    for _ in range(3):
        await pilot.press("right_square_bracket")
    await settle(app, pilot)
    for key in after:
        await pilot.press(key)
        await settle(app, pilot)


def _opened(*after: str):
    async def run_before(pilot) -> None:
        await _items_tab(pilot, *after)

    return run_before


SCREENS = {
    "deal_items_tab": (_opened(), "DealDetailScreen"),
    "deal_item_add": (_opened("i"), "ItemForm"),
    "deal_item_edit": (_opened("enter"), "ItemForm"),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_deal_items_80x24(snap_compare, demo_app, name):
    """The screen's snapshot, after the checks that it is the screen named and that it fits."""
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=opened_and_fits(*SCREENS[name]))
