"""A quote as Markdown and as PDF: the letterhead from [quotes], money in the quote's currency and
locale (babel), and a long item list over several pages, each with the table's header (the PDF is
read back with pypdf)."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import replace

import pytest

from crm_tui.config import QuotesConfig, parse_settings
from crm_tui.errors import InvalidInput
from crm_tui.services import quote_render, quotes
from tests.unit.quote_fixtures import deal_with_items

pypdf = pytest.importorskip("pypdf")
HEAD = QuotesConfig(company="Northwind Sales", address="1 Main Street\nSpringfield", footer="Northwind · VAT 123")


def _quote(db, actor, now, *, n=2, **kw):
    deal, _ = deal_with_items(db, actor, now, n=n, discount_bp=1000, currency=kw.pop("currency", "USD"))
    with db.write() as s:
        return quotes.create_quote(s, actor=kw.pop("as_", actor), deal_id=deal.id, now=now, terms="Net 30", **kw)


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def _png(path) -> None:
    """A 2x2 red PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_markdown_has_the_letterhead_items_totals_and_terms(db, actor, now):
    q = _quote(db, actor, now)
    text = quote_render.render_markdown(q, HEAD)
    assert text.startswith("**Northwind Sales**  \n1 Main Street  \nSpringfield  \n")
    assert f"# Quote {q.number}" in text
    assert "| 1 | Widget 1 (SKU-" in text and "| 2 | $100.00 | 10% | 20% | $180.00 |" in text
    assert "Subtotal: $400.00" in text and "Discount: -$40.00" in text and "**Total:** $432.00" in text
    assert "## Terms\n\nNet 30" in text and text.rstrip().endswith("Northwind · VAT 123")


def test_money_is_in_the_quotes_currency_and_locale(db, actor, now):
    q = _quote(db, actor, now, currency="EUR", as_=replace(actor, locale="de_DE"))
    assert (q.currency, q.locale) == ("EUR", "de_DE")
    text = quote_render.render_markdown(q)
    assert "100,00\xa0€" in text and "432,00\xa0€" in text
    assert "432,00 €" in _pages(quote_render.render_pdf(q, HEAD))[0].replace("\xa0", " ")


def test_a_200_line_quote_runs_over_pages_each_with_the_header(db, actor, now, tmp_path):
    logo = tmp_path / "logo.png"
    _png(logo)
    q = _quote(db, actor, now, n=200)
    pdf = quote_render.render_pdf(q, replace(HEAD, logo=str(logo)))
    pages = _pages(pdf)
    assert len(pages) > 2
    with_lines = [page for page in pages if "Widget" in page]
    assert len(with_lines) > 1
    for page in with_lines:
        assert "# Item Qty Unit price Disc. Tax Amount" in page
    assert all("Northwind · VAT 123" in page and "Page " in page for page in pages)
    assert "Northwind Sales" in pages[0] and "(continued)" in pages[1]
    text = "\n".join(pages)
    assert all(f"Widget {n} (SKU-" in text for n in range(1, 201))
    assert "Total $43,200.00" in text and text.index("Widget 200") < text.index("Total $43,200.00")


def test_without_a_unicode_font_the_pdf_spells_what_latin1_lacks(db, actor, now, monkeypatch):
    monkeypatch.setattr(quote_render, "FONT_PATHS", ())
    q = _quote(db, actor, now, currency="EUR", as_=replace(actor, locale="de_DE"))
    text = _pages(quote_render.render_pdf(q, HEAD))[0]
    assert "432,00 EUR" in text.replace("\xa0", " ")


def test_a_bad_logo_or_font_is_a_clear_error(db, actor, now, tmp_path):
    q = _quote(db, actor, now)
    bad = tmp_path / "logo.png"
    bad.write_text("not an image")
    with pytest.raises(InvalidInput, match="logo"):
        quote_render.render_pdf(q, replace(HEAD, logo=str(bad)))
    with pytest.raises(InvalidInput, match="font"):
        quote_render.render_pdf(q, replace(HEAD, font=str(tmp_path / "missing.ttf")))


def test_the_quotes_table_of_the_config_file():
    q = parse_settings({"quotes": {"company": "N", "logo": "~/x.png", "valid_days": 14, "terms": "T"}}).quotes
    assert (q.company, q.valid_days, q.terms) == ("N", 14, "T") and q.logo.endswith("/x.png")
    assert parse_settings({}).quotes == QuotesConfig()
    with pytest.raises(InvalidInput, match="valid_days"):
        parse_settings({"quotes": {"valid_days": "soon"}})
