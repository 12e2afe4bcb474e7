"""The deal screen's Quotes tab: the deal's quotes, newest first. n makes one from the deal's items,
p previews the highlighted one as text, o opens its PDF (with the system's viewer when there is a
display; otherwise it is written to a file the app names), S sends it with the PDF attached, A
accepts it (the deal is won at its total). Each write is asked first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown, TabPane

from crm_tui.screens.base import Outcome, ReportsWorkerErrors
from crm_tui.screens.detail import paged
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.services import quotes
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable

TABLE = "deal-quotes"


def quote_columns() -> list[Column]:
    return [
        Column("Quote", lambda q: q.label, ratio=2),
        Column("Status", lambda q: q.status, width=8),
        Column("Total", lambda q: fmt.money(q.total_minor, q.currency), width=14, align="right"),
        Column("Valid until", lambda q: f"{q.valid_until:%Y-%m-%d}" if q.valid_until else "—", width=11),
    ]


def compose_tab() -> ComposeResult:
    """The tab, for DealDetailScreen.compose_tabs."""
    with TabPane("Quotes", id="tab-deal-quotes"):
        yield DealQuotes(id="deal-quotes-pane")


def fetchers(db, deal_id: int) -> dict:
    """The tab's list, for DealDetailScreen.fetchers."""
    return {TABLE: paged(db, lambda s, **k: quotes.list_quotes(s, deal_id=deal_id, **k))}


class DealQuotes(ReportsWorkerErrors, Vertical):
    """The list and its keys (they apply while the list has the focus, over the deal screen's own)."""

    DEFAULT_CSS = """
    DealQuotes { height: 1fr; }
    """
    BINDINGS = [
        Binding("n", "create", "New quote", id="quotes.create"),
        Binding("p", "preview", "Preview", id="quotes.preview"),
        Binding("o", "open_pdf", "PDF", id="quotes.open_pdf"),
        Binding("S", "send", "Send", id="quotes.send"),
        Binding("A", "accept", "Accept", id="quotes.accept"),
    ]

    def compose(self) -> ComposeResult:
        yield KeysetTable(quote_columns(), noun="quotes", id=TABLE, counted=False,
                          empty_text="No quotes yet. Press n to make one from the deal's items.")

    @property
    def deal_id(self) -> int:
        return self.screen.record_id

    def _current(self):
        row = self.query_one(KeysetTable).current_row
        if row is None:
            self.notify("Highlight a quote first (n makes one).", severity="warning")
        return row

    @on(KeysetTable.Selected, f"#{TABLE}")
    def _selected(self, event: KeysetTable.Selected) -> None:
        event.stop()  # enter previews, as p does
        self.action_preview()

    def _changed(self, message: str) -> None:
        self.notify(message)
        self.app.data_changed()

    # -- n: a new quote

    def action_create(self) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self._create()

        self.app.push_screen(ConfirmScreen("Make a quote from this deal's items?", "Create"), answer)

    def _run(self, work, name: str) -> None:
        self.run_worker(work, thread=True, exclusive=True, group=f"quotes-{name}", exit_on_error=False)

    def _create(self) -> None:
        app, deal_id, config = self.app, self.deal_id, self.app.settings.quotes

        def work() -> Outcome:
            with app.db.write() as session:
                quote = quotes.create_quote(session, actor=app.actor, deal_id=deal_id, now=app.now(),
                                            valid_days=config.valid_days, default_terms=config.terms)
            return Outcome(self._changed, f"Created quote {quote.label}.")

        self._run(work, "write")

    # -- p: preview as text

    def action_preview(self) -> None:
        row = self._current()
        if row is None:
            return
        app = self.app

        def work() -> Outcome:
            from crm_tui.services import quote_render

            with app.db.read() as session:
                quote = quotes.get_quote(session, quote_id=row.id)
            return Outcome(self._preview, quote.label, quote_render.render_markdown(quote, app.settings.quotes))

        self._run(work, "read")

    def _preview(self, label: str, text: str) -> None:
        self.app.push_screen(QuotePreview(label, text))

    # -- o: the PDF

    def action_open_pdf(self) -> None:
        row = self._current()
        if row is None:
            return
        app = self.app

        def work() -> Outcome:
            from crm_tui.config import data_dir
            from crm_tui.services import quote_render

            with app.db.read() as session:
                quote = quotes.get_quote(session, quote_id=row.id)
                pdf = quotes.load_pdf(session, quote_id=row.id)
            pdf = pdf or quote_render.render_pdf(quote, app.settings.quotes)
            folder = data_dir() / "quotes"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / quote_render.file_name(quote)
            path.write_bytes(pdf)
            return Outcome(self._opened, path)

        self._run(work, "read")

    def _opened(self, path: Path) -> None:
        viewer = pdf_viewer()
        if viewer is None:
            self.notify(f"No display to open it on: the PDF is at {path}", timeout=30)
            return
        try:
            subprocess.Popen([viewer, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.notify(f"Could not open the viewer ({exc.strerror}): the PDF is at {path}", severity="warning",
                        timeout=30)
            return
        self.notify(f"Opened {path.name}.")

    # -- S: send, A: accept

    def action_send(self) -> None:
        row = self._current()
        if row is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._send(row.id)

        question = f"Email {row.label} with its PDF to the deal's contact? A draft is frozen once sent."
        self.app.push_screen(ConfirmScreen(question, "Send"), answer)

    def _send(self, quote_id: int) -> None:
        app = self.app

        def work() -> Outcome:
            from crm_tui.services import quote_send
            from crm_tui.workflows.email import send_queued, smtp_settings

            smtp = smtp_settings(app.settings)
            now = app.now()
            with app.db.write() as session:
                sent = quote_send.send_quote(session, actor=app.actor, quote_id=quote_id,
                                             email_enabled=smtp is not None, letterhead=app.settings.quotes,
                                             now=now)
            report = send_queued(app.db, smtp, now=now)
            how = "Sent" if sent.queued.outbox_id in report.sent else "Queued (it goes out on a later run)"
            return Outcome(self._changed, f"{how}: {sent.quote.label} to {', '.join(sent.queued.to)}.")

        self._run(work, "write")

    def action_accept(self) -> None:
        row = self._current()
        if row is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._accept(row.id, row.version)

        total = fmt.money(row.total_minor, row.currency)
        question = f"Mark {row.label} accepted, and the deal won at {total}?"
        self.app.push_screen(ConfirmScreen(question, "Accept"), answer)

    def _accept(self, quote_id: int, version: int) -> None:
        app = self.app

        def work() -> Outcome:
            with app.db.write() as session:
                quote = quotes.accept_quote(session, actor=app.actor, quote_id=quote_id, version=version,
                                            now=app.now())
            return Outcome(self._changed, f"Accepted {quote.label}; the deal is won.")

        self._run(work, "write")


def pdf_viewer() -> str | None:
    """The command that opens a file with the system's viewer, or None when there is no display to
    show it on (over SSH, in a container)."""
    if sys.platform == "darwin":
        return shutil.which("open")
    if sys.platform.startswith("win"):
        return None
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    return shutil.which("xdg-open")


class QuotePreview(ModalScreen[None]):
    """A quote as text (its Markdown), scrolled with the arrows and page keys; esc closes it."""

    DEFAULT_CSS = """
    QuotePreview { align: center middle; }
    QuotePreview > Vertical { width: 100%; max-width: 100; height: 100%; max-height: 40; border: round $accent;
                              background: $surface; }
    QuotePreview VerticalScroll { height: 1fr; }
    QuotePreview #quote-preview-hint { height: 1; padding: 0 1; color: $text-muted; }
    """
    AUTO_FOCUS = "#quote-preview-scroll"
    BINDINGS = [Binding("escape,q,p", "close", "Close", id="quote_preview.close")]

    def __init__(self, label: str, text: str) -> None:
        super().__init__()
        self.label, self.text = label, text

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll(id="quote-preview-scroll"):
                yield Markdown(self.text, id="quote-preview")
            yield Label("↑↓ pgup pgdn scroll · esc closes", id="quote-preview-hint")

    def on_mount(self) -> None:
        self.query_one(Vertical).border_title = f"Quote {self.label}"

    def action_close(self) -> None:
        self.dismiss(None)
