"""An email's conversation, opened from a timeline (Enter on an email): each message's date, from,
to, subject and text, oldest first, in one scrolling column that reads at 80x24. `M` answers the
thread's latest message, `o` reads older messages (a thread is read a page at a time, latest first:
services/mail_thread), `a` opens the timeline entry itself (to correct or delete it).

Opened through the app (`app.open_view("email_thread", ...)`), so the shared timeline code never
imports this package; dismisses as the activity dialog does, with ("deleted" | "edited", activity)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from crm_tui.clock import get_zone
from crm_tui.models.schemas import ActivityRead
from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.services import mail_thread
from crm_tui.services.mail_thread import ThreadMessage
from crm_tui.shapes import Page
from crm_tui.widgets import fmt


def _size(size: object) -> str:
    n = size if isinstance(size, int) else 0
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{max(1, round(n / 1000))} kB"


def message_head(m: ThreadMessage, zone) -> Content:
    """A message's header lines; the markup is ours, each $value goes in as plain text."""
    markup = "[b]$when[/b]  [dim]From:[/dim] [b]$sender[/b]\n[dim]To:[/dim] $to"
    values = {"when": fmt.stamp(m.sent_at, zone), "sender": m.from_addr or "(unknown sender)",
              "to": ", ".join(m.to_addrs) or "—"}
    if m.cc_addrs:
        markup += "\n[dim]Cc:[/dim] $cc"
        values["cc"] = ", ".join(m.cc_addrs)
    markup += "\n[dim]Subject:[/dim] [b]$subject[/b]"
    values["subject"] = m.subject or "(no subject)"
    if m.attachments:
        markup += "\n[dim]Files:[/dim] $files"
        values["files"] = ", ".join(f"{a.get('name') or '(unnamed)'} ({_size(a.get('size'))})" for a in m.attachments)
    return Content.from_markup(markup, **values)


class ThreadScreen(AreaScreen):
    CSS_PATH = "thread.tcss"
    AUTO_FOCUS = "#thread-messages"
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="thread.close"),
        Binding("M", "reply", "Reply", id="thread.reply"),
        Binding("o", "older", "Older", id="thread.older"),
        Binding("a", "entry", "Entry", id="thread.entry"),
    ]
    NEEDS = {"reply": "activity.log"}
    LIVE_REFRESH = True

    def __init__(self, activity: ActivityRead, email_id: int, page: Page[ThreadMessage], *,
                 record: tuple[str, int] | None = None) -> None:
        super().__init__()
        self.activity, self.email_id = activity, email_id
        self.messages: list[ThreadMessage] = list(page.items)
        self.older: str | None = page.prev_cursor  # the cursor to the messages before the first shown
        self.record = record or _record_of(activity)
        self.result: tuple[str, ActivityRead] | None = None  # what the entry's dialog changed

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("", id="thread-title", markup=False)
        yield VerticalScroll(id="thread-messages")
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self._show(scroll_to=self.email_id)

    # -- drawing

    def _show(self, *, scroll_to: int | None = None) -> None:
        first = self.messages[0].subject if self.messages else ""
        count = f"{len(self.messages)} message" + ("" if len(self.messages) == 1 else "s")
        more = " · o: older ones" if self.older else ""
        self.query_one("#thread-title", Static).update(f"Thread · {first or '(no subject)'} · {count}{more}")
        box = self.query_one("#thread-messages", VerticalScroll)
        box.remove_children()
        zone = get_zone(self.app.actor.timezone)
        target = None
        for m in self.messages:
            one = Vertical(Static(message_head(m, zone), classes="thread-head"),
                           Static(Content((m.body or "(no text)").rstrip()), classes="thread-text"),
                           classes="thread-message")
            box.mount(one)
            if m.email_id == scroll_to:
                target = one
        if target is not None:
            self.call_after_refresh(box.scroll_to_widget, target, top=True, animate=False)

    # -- reading

    def refresh_data(self) -> None:
        """After a save (a reply sent): read the thread's latest page again, keeping older ones read."""
        self._load(mail_thread.END, newest=True)

    def action_older(self) -> None:
        if self.older is None:
            self.notify("This is the start of the thread.")
            return
        self._load(self.older, newest=False)

    @work(thread=True, exclusive=True, group="thread-load", exit_on_error=False)
    def _load(self, before: str, newest: bool) -> Outcome:
        app = self.app
        with app.db.read() as session:
            page = mail_thread.thread_page(session, email_id=self.email_id, actor=app.actor, before=before,
                                           limit=mail_thread.PAGE)
        return Outcome(self._loaded, page, newest)

    def _loaded(self, page: Page[ThreadMessage], newest: bool) -> None:
        by_id = {m.email_id: m for m in (*self.messages, *page.items)}
        self.messages = sorted(by_id.values(), key=lambda m: (m.sent_at, m.email_id))
        if not newest or not self.messages:
            self.older = page.prev_cursor
        first_new = page.items[0].email_id if page.items and not newest else None
        self._show(scroll_to=first_new)

    # -- keys

    def action_reply(self) -> None:
        if not self.messages:
            return
        from crm_tui.screens.compose import ComposeScreen  # Jinja2 and the mail services load on first use

        kind, record_id = self.record
        self.app.push_screen(ComposeScreen(kind, record_id, reply_to_email=self.messages[-1].email_id))

    def action_entry(self) -> None:
        from crm_tui.screens.activity import ActivityScreen

        def closed(result: tuple[str, ActivityRead] | None) -> None:
            if result is None:
                return
            self.result = result
            if result[0] == "deleted":
                self.dismiss(result)
            else:
                self.activity = result[1]

        self.app.push_screen(ActivityScreen(self.activity), closed)

    def action_close(self) -> None:
        self.dismiss(self.result)


def _record_of(activity: ActivityRead) -> tuple[str, int]:
    """The record a reply is logged on when the screen was not opened from one: the contact, else
    the deal, else the company."""
    for kind in ("contact", "deal", "company"):
        record_id = getattr(activity, f"{kind}_id")
        if record_id is not None:
            return kind, record_id
    raise ValueError("an activity is on a contact, company or deal")
