"""A deal at a glance (from the palette or a contact's deals): its stage, amount, people and
dates. The pipeline board is where deals are worked; this is the quick look."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from crm_tui.screens.base import SHELL_CSS, ReportsWorkerErrors
from crm_tui.clock import get_zone
from crm_tui.models.schemas import DealRead
from crm_tui.services import deals
from crm_tui.widgets import fmt


class DealInfoScreen(ReportsWorkerErrors, ModalScreen[None]):
    CSS_PATH = SHELL_CSS
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="deal_info.close"),
        Binding("c", "open_contact", "Open contact", id="deal_info.contact"),
    ]

    def __init__(self, deal_id: int) -> None:
        super().__init__()
        self.deal_id = deal_id
        self.deal: DealRead | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="deal-info"):
            yield Static("Loading…", id="deal-info-text")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="deal-info", exit_on_error=False)
    def load(self) -> None:
        with self.app.db.read() as session:
            deal = deals.get_deal(session, deal_id=self.deal_id)
        self.app.call_from_thread(self._show, deal)

    def _show(self, d: DealRead) -> None:
        self.deal = d
        zone = get_zone(self.app.actor.timezone)
        # the markup is ours; each $value goes in as plain text, never read as markup
        lines = [
            "[b]$title[/b]   $status" + (" ($reason)" if d.lost_reason else ""),
            "",
            "[dim]Amount[/dim]    $amount",
            "[dim]Stage[/dim]     $pipeline › $stage" + (" ($probability%)" if d.probability is not None else ""),
            "[dim]In stage[/dim]  since $entered",
            "[dim]Close[/dim]     $close" + ("   closed $closed" if d.closed_at else ""),
            "[dim]Company[/dim]   $company",
            "[dim]Contact[/dim]   $contact",
            "[dim]Owner[/dim]     $owner",
            "",
            "[dim]c opens the contact · esc closes[/dim]",
        ]
        text = Content.from_markup(
            "\n".join(lines), title=d.title, status=d.status, reason=d.lost_reason or "",
            amount=fmt.money(d.amount_minor, d.currency), pipeline=d.pipeline_name or "", stage=d.stage_name or "",
            probability=d.probability, entered=fmt.when(d.stage_entered_at, self.app.now(), zone),
            close=d.expected_close or "—", closed=fmt.stamp(d.closed_at, zone) if d.closed_at else "",
            company=d.company_name or "—", contact=d.contact_name or "—", owner=d.owner_login or "—")
        self.query_one("#deal-info-text", Static).update(text)

    def action_open_contact(self) -> None:
        from crm_tui.screens.contacts.detail import ContactDetailScreen

        if self.deal is None or self.deal.contact_id is None:
            self.notify("This deal has no contact.", severity="warning")
            return
        contact_id = self.deal.contact_id
        self.dismiss(None)
        self.app.push_screen(ContactDetailScreen(contact_id))
