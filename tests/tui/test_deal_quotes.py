"""The deal screen's Quotes tab: n makes a quote (asked first), the list shows it, p previews it as
text in a scrollable modal that fits 80x24, o writes the PDF to a path the app names when there is
no display, and A accepts it (asked first), winning the deal."""

from __future__ import annotations

from textual.widgets import Markdown, TabbedContent

from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.screens.pipeline.deal_quotes import QuotePreview
from crm_tui.services import deals, quotes
from crm_tui.widgets.keyset_table import KeysetTable
from tests.tui.fit import assert_fits
from tests.unit.quote_fixtures import deal_with_items

from .conftest import make_app, settle


async def _quotes_tab(app, pilot, deal_id):
    app.push_screen(DealDetailScreen(deal_id))
    await settle(app, pilot)
    tabs = app.screen.query_one(TabbedContent)
    tabs.active = "tab-deal-quotes"
    await settle(app, pilot)
    table = app.screen.query_one("#deal-quotes", KeysetTable)
    table.focus()
    await settle(app, pilot)
    return table


async def test_quotes_tab_create_preview_pdf_and_accept(sqlite_db, actor_sqlite, now, monkeypatch, tmp_path):
    db, actor = sqlite_db, actor_sqlite
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    deal, _ = deal_with_items(db, actor, now, n=30)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = await _quotes_tab(app, pilot, deal.id)
        assert table.current_row is None
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        with db.read() as s:
            [made] = quotes.list_quotes(s, deal_id=deal.id).items
        assert table.current_row is not None and table.current_row.id == made.id

        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, QuotePreview)
        assert f"# Quote {made.number}" in app.screen.text and "Widget 30" in app.screen.text
        assert app.screen.query_one(Markdown)
        assert_fits(app.screen)
        await pilot.press("pagedown", "escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen)

        await pilot.press("o")  # no display: written to a path the app names
        await settle(app, pilot)
        [note] = [n for n in app._notifications if "No display" in n.message]
        path = note.message.rsplit(" at ", 1)[1]
        assert path.endswith(f"{made.number}.pdf") and open(path, "rb").read(4) == b"%PDF"

        await pilot.press("A")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "the deal won at $7,200.00" in app.screen.question
        await pilot.press("y")
        await settle(app, pilot)
    with db.read() as s:
        assert quotes.get_quote(s, quote_id=made.id).status == "accepted"
        assert deals.get_deal(s, deal_id=deal.id).status == "won"


async def test_a_refusal_shows_and_writes_nothing(sqlite_db, actor_sqlite, now):
    db, actor = sqlite_db, actor_sqlite
    with db.write() as s:
        empty = deals.create_deal(s, data={"title": "Empty"}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await _quotes_tab(app, pilot, empty.id)
        await pilot.press("p")  # nothing highlighted
        await settle(app, pilot)
        assert any("Highlight a quote" in n.message for n in app._notifications)
        await pilot.press("n", "y")
        await settle(app, pilot)
        assert any("no items to quote" in n.message for n in app._notifications)
    with db.read() as s:
        assert quotes.list_quotes(s, deal_id=empty.id).items == []


def test_the_pdf_opens_with_the_system_viewer_only_where_there_is_a_display(monkeypatch):
    from crm_tui.screens.pipeline import deal_quotes

    monkeypatch.setattr(deal_quotes.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(deal_quotes.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert deal_quotes.pdf_viewer() is None  # over SSH: the app writes the file and names it
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert deal_quotes.pdf_viewer() == "/usr/bin/xdg-open"
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.setattr(deal_quotes.sys, "platform", "darwin")
    assert deal_quotes.pdf_viewer() == "/usr/bin/open"
