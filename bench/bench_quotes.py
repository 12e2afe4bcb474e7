"""Quote rendering benchmark (issue 22): a 200-line quote to PDF (fpdf2, the Unicode system font
when there is one, the letterhead) beside two baselines from the same run: the same quote with one
line (the fixed cost: the font, the page, the output), and fpdf2 alone writing 200 rows of plain
cells in the same font. Also the Markdown rendering.

    .venv/bin/python bench/bench_quotes.py [--samples 5] [--lines 200]

Target: the 200-line PDF in under 1 s (the median of the samples).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm_tui.config import QuotesConfig  # noqa: E402
from crm_tui.services import quote_render  # noqa: E402
from crm_tui.services.quotes import QuoteItemRead, QuoteRead  # noqa: E402

TARGET_S = 1.0
HEAD = QuotesConfig(company="Northwind Sales Ltd", address="1 Main Street\nSpringfield", footer="Northwind · VAT 123")


def quote(lines: int) -> QuoteRead:
    items = tuple(QuoteItemRead(position=n, sku=f"SKU-{n:05d}", name=f"Consulting package {n}",
                                description="On-site workshop, two days", unit="day", quantity_milli=2500,
                                unit_price_minor=120_000 + n * 137, discount_kind="percent", discount_value=1000,
                                tax_rate_bp=2000, net_minor=270_000 + n * 308, discount_minor=30_000 + n * 34,
                                tax_minor=54_000 + n * 62)
                  for n in range(1, lines + 1))
    now = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    return QuoteRead(id=1, deal_id=1, number="Q-2026-0042", revision=1, status="draft", currency="EUR",
                     locale="de_DE", valid_until=date(2026, 12, 23), terms="Payment within 30 days.", notes="",
                     subtotal_minor=300_000 * lines, discount_minor=30_000 * lines, tax_minor=54_000 * lines,
                     total_minor=324_000 * lines, created_by=1, created_at=now, sent_at=None, accepted_at=None,
                     declined_at=None, expired_at=None, version=1, deal_title="Acme rollout",
                     company_name="Acme GmbH", contact_name="Lee Park", items=items)


def plain_cells(rows: int) -> bytes:
    """fpdf2 alone: `rows` rows of seven cells, no formatting, no letterhead."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    font = next((p for p in quote_render.FONT_PATHS if Path(p).exists()), None)
    if font:
        pdf.add_font("body", fname=font)
    pdf.add_page()
    pdf.set_font("body" if font else "helvetica", size=8)
    for n in range(rows):
        for width in (8, 72, 18, 28, 20, 14, 30):
            pdf.cell(width, 6, f"{n} {width}")
        pdf.ln(6)
    return bytes(pdf.output())


def timed(fn, samples: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(samples):
        for cached in (quote_render._money_text, quote_render._quantity_text, quote_render._percent):
            cached.cache_clear()  # each sample formats its amounts anew, as a new quote would
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--lines", type=int, default=200)
    args = parser.parse_args()
    big, one = quote(args.lines), quote(1)
    quote_render.render_pdf(one, HEAD)  # fpdf2 and the font loaded once, as in a running app
    t_big, pdf = timed(lambda: quote_render.render_pdf(big, HEAD), args.samples)
    t_one, _ = timed(lambda: quote_render.render_pdf(one, HEAD), args.samples)
    t_cells, _ = timed(lambda: plain_cells(args.lines), args.samples)
    t_md, _ = timed(lambda: quote_render.render_markdown(big, HEAD), args.samples)
    from pypdf import PdfReader  # the page count, when pypdf is there (the test extra)
    import io

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(f"{args.lines}-line quote to PDF: {t_big * 1000:.0f} ms ({pages} pages, {len(pdf):,} bytes)")
    print(f"  baseline 1-line quote to PDF: {t_one * 1000:.0f} ms   ratio {t_big / t_one:.1f}x")
    print(f"  baseline fpdf2 {args.lines} rows of plain cells: {t_cells * 1000:.0f} ms   ratio {t_big / t_cells:.1f}x")
    print(f"{args.lines}-line quote to Markdown: {t_md * 1000:.0f} ms")
    ok = t_big < TARGET_S
    print(f"target: under {TARGET_S:.0f} s: {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
