"""A quote as a document: Markdown (the app's preview, `crm quote render -o x.md`) and PDF (fpdf2),
with the team's letterhead from the [quotes] table and money in the quote's currency and locale
(babel). A long item list runs over several pages, each starting with the table's header."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from crm_tui.config import QuotesConfig
from crm_tui.errors import InvalidInput
from crm_tui.models.product import BASIS_POINTS, QUANTITY_SCALE
from crm_tui.services.quotes import QuoteItemRead, QuoteRead
from crm_tui.services.validation import format_money

# a Unicode font for the PDF unless [quotes] font names one: the first of these that exists; without
# one, the PDF uses Helvetica and writes what Latin-1 lacks as ASCII (the euro sign as EUR)
FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
COLUMNS = (("#", 8, "R"), ("Item", 72, "L"), ("Qty", 18, "R"), ("Unit price", 28, "R"), ("Disc.", 20, "R"),
           ("Tax", 14, "R"), ("Amount", 30, "R"))  # mm: 190 across an A4 page's margins


@dataclass(frozen=True)
class Money:
    currency: str
    locale: str

    def __call__(self, minor: int) -> str:
        return _money_text(minor, self.currency, self.locale)


# a quote's lines repeat their prices, rates and quantities: each is formatted by babel once
@lru_cache(maxsize=4096)
def _money_text(minor: int, currency: str, locale: str) -> str:
    return format_money(minor, currency, locale=locale)


def _qty(item: QuoteItemRead, locale: str) -> str:
    return _quantity_text(item.quantity_milli, locale)


@lru_cache(maxsize=1024)
def _quantity_text(milli: int, locale: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(Decimal(milli) / QUANTITY_SCALE, locale=locale)


@lru_cache(maxsize=1024)
def _percent(bp: int, locale: str) -> str:
    from babel.numbers import format_percent

    return format_percent(Decimal(bp) / BASIS_POINTS, format="#,##0.##%", locale=locale)


def _discount(item: QuoteItemRead, money: Money) -> str:
    if not item.discount_kind or not item.discount_minor:
        return ""
    if item.discount_kind == "percent":
        return _percent(item.discount_value, money.locale)
    return money(item.discount_minor)


def _cells(item: QuoteItemRead, money: Money) -> list[str]:
    name = item.name + (f" — {item.description}" if item.description else "")
    return [str(item.position), f"{name} ({item.sku})", _qty(item, money.locale), money(item.unit_price_minor),
            _discount(item, money), _percent(item.tax_rate_bp, money.locale), money(item.net_minor)]


def _money(quote: QuoteRead) -> Money:
    return Money(quote.currency, quote.locale or "en_US")


def _totals(quote: QuoteRead, money: Money) -> list[tuple[str, str]]:
    rows = [("Subtotal", money(quote.subtotal_minor))]
    if quote.discount_minor:
        rows.append(("Discount", "-" + money(quote.discount_minor)))
    rows += [("Tax", money(quote.tax_minor)), ("Total", money(quote.total_minor))]
    return rows


def _for(quote: QuoteRead) -> str:
    return " · ".join(x for x in (quote.company_name, quote.contact_name) if x)


# --- Markdown -----------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Text safe in a Markdown table cell."""
    # ASCII whitespace only: babel's no-break spaces stay ("432,00\xa0€" does not wrap)
    return re.sub(r"[ \t\r\n\f\v]+", " ", str(text)).strip().replace("|", "\\|")


def render_markdown(quote: QuoteRead, letterhead: QuotesConfig | None = None) -> str:
    head = letterhead or QuotesConfig()
    money = _money(quote)
    lines = []
    if head.company:
        lines += [f"**{_md(head.company)}**  "]
    lines += [f"{_md(line)}  " for line in head.address.splitlines() if line.strip()]
    lines += ["" if lines else None, f"# Quote {quote.label}", ""]
    lines = [x for x in lines if x is not None]
    facts = [("Deal", quote.deal_title), ("For", _for(quote)), ("Status", quote.status),
             ("Valid until", f"{quote.valid_until:%Y-%m-%d}" if quote.valid_until else ""),
             ("Date", f"{quote.created_at:%Y-%m-%d}")]
    lines += [f"- **{k}:** {_md(val)}" for k, val in facts if val]
    lines += ["", "| " + " | ".join(c[0] for c in COLUMNS) + " |",
              "|" + "|".join("---:" if c[2] == "R" else "---" for c in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_md(x) for x in _cells(item, money)) + " |" for item in quote.items]
    lines += [""] + [f"**{k}:** {val}  " if k == "Total" else f"{k}: {val}  " for k, val in _totals(quote, money)]
    for title, text in (("Terms", quote.terms), ("Notes", quote.notes)):
        if text.strip():
            lines += ["", f"## {title}", "", text.strip()]
    if head.footer:
        lines += ["", "---", "", _md(head.footer)]
    return "\n".join(lines) + "\n"


# --- PDF ----------------------------------------------------------------------------------------


def _font_path(letterhead: QuotesConfig) -> str | None:
    configured = letterhead.font
    if configured:
        if not os.path.exists(configured):
            raise InvalidInput(f"[quotes] font {configured!r} does not exist")
        return configured
    return next((p for p in FONT_PATHS if os.path.exists(p)), None)


_ASCII = {"€": "EUR ", "₹": "INR ", "₩": "KRW ", "₽": "RUB ", "—": "-", "–": "-", "“": '"', "”": '"', "’": "'",
          "\u202f": " ", "\u2009": " ", "−": "-", "…": "..."}


def _latin1(text: str) -> str:
    """Text Helvetica can write: Latin-1, the rest spelled in ASCII."""
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
        elif ch in _ASCII:
            out.append(_ASCII[ch])
        else:
            out.append(unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?")
    return "".join(out)


def render_pdf(quote: QuoteRead, letterhead: QuotesConfig | None = None) -> bytes:
    from fpdf import FPDF

    head = letterhead or QuotesConfig()
    money = _money(quote)
    font = _font_path(head)
    clean = (lambda s: s) if font else _latin1

    class Doc(FPDF):
        in_table = False

        def header(self) -> None:
            # a page the item table runs onto starts with the table's header
            if self.in_table:
                self.set_font(family, size=8)
                self.cell(0, 5, clean(f"Quote {quote.label} (continued)"), new_x="LMARGIN", new_y="NEXT")
                table_header()

        def footer(self) -> None:
            self.set_y(-14)
            self.set_font(family, size=7)
            text = f"{head.footer}   " if head.footer else ""
            self.cell(0, 5, clean(f"{text}Page {self.page_no()}/{{nb}}"), align="C")

    pdf = Doc(format="A4")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(f"Quote {quote.label}")
    pdf.set_creator("crm-tui")
    if font:
        pdf.add_font("body", fname=font)
        family = "body"
    else:
        family = "helvetica"

    def table_header() -> None:
        pdf.set_font(family, size=8)
        pdf.set_fill_color(230, 230, 230)
        for (title, width, align) in COLUMNS:
            pdf.cell(width, 6, title, border="B", align=align, fill=True)
        pdf.ln(6)

    pdf.add_page()
    if head.logo:
        try:
            pdf.image(head.logo, x=150, y=10, h=18)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InvalidInput(f"[quotes] logo {head.logo!r} cannot be read as an image: {exc}") from None
    pdf.set_font(family, size=13)
    pdf.cell(0, 7, clean(head.company or ""), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    for line in head.address.splitlines():
        pdf.cell(0, 4.5, clean(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(family, size=16)
    pdf.cell(0, 9, clean(f"Quote {quote.label}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    for label, value in (("Deal", quote.deal_title), ("For", _for(quote)),
                         ("Date", f"{quote.created_at:%Y-%m-%d}"),
                         ("Valid until", f"{quote.valid_until:%Y-%m-%d}" if quote.valid_until else "")):
        if value:
            pdf.cell(0, 5, clean(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    table_header()
    pdf.in_table = True
    pdf.set_font(family, size=8)
    widths = _Widths(pdf)
    for item in quote.items:
        if pdf.will_page_break(6):
            pdf.add_page()  # the header() above writes the table's header first
            pdf.set_font(family, size=8)
        # text() at computed places: a cell() each costs a few times as much, and a 200-line
        # quote is 1,400 of them
        x, y = pdf.l_margin, pdf.y
        for text, (_title, width, align) in zip(_cells(item, money), COLUMNS):
            text = widths.fit(clean(text), width - 2 * pdf.c_margin)
            left = x + width - pdf.c_margin - widths(text) if align == "R" else x + pdf.c_margin
            pdf.text(left, y + 4.1, text)
            x += width
        pdf.ln(6)
    pdf.in_table = False
    pdf.ln(2)
    for label, value in _totals(quote, money):
        if pdf.will_page_break(6):
            pdf.add_page()
        pdf.set_font(family, size=10 if label == "Total" else 9)
        pdf.cell(160, 6, label, align="R")
        pdf.cell(30, 6, clean(value), align="R", new_x="LMARGIN", new_y="NEXT")
    for title, text in (("Terms", quote.terms), ("Notes", quote.notes)):
        if text.strip():
            pdf.ln(4)
            pdf.set_font(family, size=10)
            pdf.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, size=9)
            pdf.multi_cell(0, 4.5, clean(text.strip()), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


class _Widths:
    """Text widths at the current font and size, from each character's width, measured once."""

    def __init__(self, pdf) -> None:
        self.pdf = pdf
        self.chars: dict[str, float] = {}

    def __call__(self, text: str) -> float:
        chars = self.chars
        total = 0.0
        for ch in text:
            w = chars.get(ch)
            if w is None:
                w = chars[ch] = self.pdf.get_string_width(ch)
            total += w
        return total

    def fit(self, text: str, room: float) -> str:
        """`text`, cut with an ellipsis to fit `room` mm."""
        if self(text) <= room:
            return text
        while text and self(text + "...") > room:
            text = text[:-1]
        return text + "..."


def file_name(quote: QuoteRead, ext: str = "pdf") -> str:
    return f"{quote.number}" + (f"-rev{quote.revision}" if quote.revision > 1 else "") + f".{ext}"
