"""One record on a screen of its own: the base that the contact, company and deal screens build on
(and the case, quote and product screens to come). A card on top, tabs of lists below, the same
tab keys everywhere ([ and ]), the timeline's activities opened in place, and the rows of the other
tabs opened through the app (`app.open_record`), so no detail screen imports another.

A screen gives KIND, compose_tabs(), fetchers() (a fetch for each list, by its id), read_card()
(in a thread) and show_card(); OPENS names the kind each list's rows are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static, TabbedContent, TabPane

from crm_tui.clock import get_zone
from crm_tui.screens.activity import ActivityOpener
from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.services import fields, tasks
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable

KIND_MARK = {"call": "☎", "email": "✉", "meeting": "◷", "note": "✎", "stage_change": "→", "system": "·"}


# --- the lists' columns, shared by the detail screens ------------------------------------------


def timeline_columns(app, *, with_contact: bool = False) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    columns = [
        Column("When", lambda a: fmt.stamp(a.occurred_at, zone), width=16),
        Column("", lambda a: KIND_MARK.get(a.kind, "·"), width=1, min_width=1),
        Column("What", lambda a: " · ".join(x for x in (a.subject, a.outcome) if x) or a.kind, ratio=3),
        Column("Notes", lambda a: a.body or "", ratio=2, hide_below=90),
        Column("By", lambda a: a.user_login or "", width=8, hide_below=70),
    ]
    if with_contact:
        columns.insert(2, Column("Contact", lambda a: a.contact_name or "", ratio=1))
    return columns


def deal_columns(app) -> list[Column]:
    return [
        Column("Deal", lambda d: d.title, ratio=3),
        Column("Stage", lambda d: d.stage_name, width=12),
        Column("Amount", lambda d: fmt.money(d.amount_minor, d.currency), width=14, align="right"),
        Column("Status", lambda d: d.status, width=6),
        Column("Close", lambda d: f"{d.expected_close:%Y-%m-%d}" if d.expected_close else "—", width=10,
               hide_below=70),
    ]


def task_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Due", lambda t: fmt.when(t.due_at, app.now(), zone), width=16),
        Column("Task", lambda t: t.title, ratio=2),
        # a task's notes, on one line (Enter is for what the row names; the notes are here)
        Column("Notes", lambda t: " ".join((t.notes or "").split()), ratio=2),
        Column("For", lambda t: t.assignee_login or "", width=8),
    ]


def history_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("When", lambda e: fmt.stamp(e.at, zone), width=16),
        Column("Who", lambda e: e.who, width=14),  # "root (as bob)" when an admin acted as bob
        Column("Change", lambda e: _change(e), ratio=1),
    ]


def _change(event) -> str:
    """ "owner: ann → bob": an id field shows the names the service resolved, not the raw ids."""
    if event.field:
        return f"{event.field_label}: {event.old_shown or '—'} → {event.new_shown or '—'}"
    return " ".join(x for x in (event.action, event.new_value) if x)


def paged(db, call):
    """A KeysetTable fetch from a service list call that takes after/before/limit (no total)."""
    def fetch(*, after, before, limit, with_total):
        with db.read() as session:
            return call(session, after=after, before=before, limit=limit)
    return fetch


def counted(db, call):
    """A KeysetTable fetch over a service list call that takes after/before/limit/with_total."""
    def fetch(*, after, before, limit, with_total):
        with db.read() as session:
            return call(session, after=after, before=before, limit=limit, with_total=with_total)
    return fetch


# --- the screen --------------------------------------------------------------------------------


def tab_keys(prefix: str, *, shown: bool = True) -> list[Binding]:
    """[ and ]: the previous and the next tab (`prefix` names the bindings for help)."""
    return [
        Binding("right_square_bracket", "step_tab(1)", "Next tab", show=shown, id=f"{prefix}.next_tab"),
        Binding("left_square_bracket", "step_tab(-1)", "Prev tab", show=False, id=f"{prefix}.prev_tab"),
    ]


class CustomFieldsLine(Static):
    """Under the card: the record's custom fields, typed ones first (in their order, "—" when
    empty), then any untyped values; hidden when there are none."""

    DEFAULT_CSS = """
    CustomFieldsLine {
        height: auto;
        max-height: 2;
        padding: 0 1;
        background: $boost;
        text-overflow: ellipsis;
    }
    CustomFieldsLine.-empty { display: none; }
    """

    def show(self, rows: list[tuple[str, str]]) -> None:
        content = Content("")
        for i, (label, value) in enumerate(rows):
            content += Content.from_markup(("   " if i else "") + "[dim]$label[/dim] $value", label=label,
                                           value=" ".join(value.split()) or "—")
        self.update(content)
        self.set_class(not rows, "-empty")


class DetailScreen(ActivityOpener, AreaScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),  # first in every footer
        Binding("x", "complete_task", "Task done", show=False, id="detail.complete_task"),
        Binding("m", "compose_email", "Email", show=False, id="detail.email"),
        Binding("M", "reply_email", "Reply to email", show=False, id="detail.reply_email"),
    ]
    NEEDS = {"complete_task": "task.edit", "compose_email": "activity.log", "reply_email": "activity.log"}
    KIND: ClassVar[str] = ""  # "contact": the card is #contact-card, the tabs #contact-tabs
    TIMELINE: ClassVar[str] = ""  # the id of the list whose rows are activities (opened in place)
    OPENS: ClassVar[dict[str, str]] = {}  # list id -> the kind of record its rows are
    TASKS: ClassVar[str] = ""  # the id of the open-tasks list: x there completes the highlighted task

    def __init__(self, record_id: int) -> None:
        super().__init__()
        self.record_id = record_id
        self.custom_rows: list[tuple[str, str]] = []  # (label, shown value) of its custom fields

    # -- what a detail screen gives

    def compose_tabs(self) -> ComposeResult:
        yield from ()

    def fetchers(self) -> dict[str, Callable]:
        """A fetch for each list, by the list's id (made anew on each refresh: `now` moves on)."""
        return {}

    def read_card(self, session) -> tuple[Any, ...]:
        """What the card shows, read in a worker thread (no widgets here)."""
        raise NotImplementedError

    def show_card(self, *data: Any) -> None:
        raise NotImplementedError

    # -- layout and loading

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Loading…", id=f"{self.KIND}-card")
        yield CustomFieldsLine("", id=f"{self.KIND}-custom", classes="-empty")
        with TabbedContent(id=f"{self.KIND}-tabs"):
            yield from self.compose_tabs()
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.refresh_data()
        tabs = self.query_one(TabbedContent)
        self._focus_list(tabs.get_pane(tabs.active))

    def refresh_data(self) -> None:
        self.load_card()
        for table_id, fetch in self.fetchers().items():
            self.query_one(f"#{table_id}", KeysetTable).load(fetch, keep_position=True)

    def load_card(self) -> None:
        self.run_worker(lambda app=self.app: self._read_card(app), thread=True, exclusive=True,
                        group=f"{self.KIND}-card", exit_on_error=False)

    def _read_card(self, app: App) -> Outcome:
        with app.db.read() as session:
            card = self.read_card(session)
            custom = self.read_custom(session)
        return Outcome(self._show_card, card, custom)

    def read_custom(self, session) -> list[tuple[str, str]]:
        """(label, shown value) of the record's custom fields (services/fields.record_fields)."""
        if self.KIND not in fields.KINDS:
            return []
        stored = fields.stored_custom(session, self.KIND, self.record_id)
        return [(label, value) for _f, label, value in fields.record_fields(session, self.KIND, stored)]

    def _show_card(self, card: tuple[Any, ...], custom: list[tuple[str, str]]) -> None:
        self.custom_rows = custom
        self.show_card(*card)
        self.show_custom(custom)

    def show_custom(self, rows: list[tuple[str, str]]) -> None:
        """The custom fields under the card (a screen whose card shows them itself leaves it out)."""
        self.query_one(CustomFieldsLine).show(rows)

    # -- tabs

    def action_step_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        panes = [pane.id for pane in tabs.query(TabPane)]
        tabs.active = panes[(panes.index(tabs.active) + step) % len(panes)]
        self._focus_list(tabs.get_pane(tabs.active))

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_list(event.pane)

    @staticmethod
    def _focus_list(pane: TabPane) -> None:
        tables = pane.query(KeysetTable)
        if tables:
            tables.first().focus()

    # -- opening rows

    @on(KeysetTable.Selected)
    def _open_row(self, event: KeysetTable.Selected) -> None:
        table_id = event.control.id
        if table_id == self.TIMELINE:
            self.open_activity(event.row)
        elif (kind := self.OPENS.get(table_id)) is not None:
            self.app.open_record(kind, event.row.id)

    # -- an email from the record (m)

    def action_compose_email(self) -> None:
        from crm_tui.screens.compose import ComposeScreen  # Jinja2 and the mail services load on first use

        self.app.push_screen(ComposeScreen(self.KIND, self.record_id))

    def action_reply_email(self) -> None:
        table = self.focused
        row = table.current_row if isinstance(table, KeysetTable) and table.id == self.TIMELINE else None
        if row is None or getattr(row, "kind", None) != "email":
            self.notify("Highlight an email on the timeline, then press M to reply.", severity="warning")
            return
        from crm_tui.screens.compose import ComposeScreen

        self.app.push_screen(ComposeScreen(self.KIND, self.record_id, reply_to_activity=row.id))

    # -- completing a task (x on the Tasks tab)

    def action_complete_task(self) -> None:
        table = self.focused
        if not (isinstance(table, KeysetTable) and table.id == self.TASKS and table.current_row is not None):
            self.notify("Highlight a task on the Tasks tab, then press x.", severity="warning")
            return
        self._complete_task(table.current_row)

    @work(thread=True, exclusive=True, group="detail-task", exit_on_error=False)
    def _complete_task(self, task) -> Outcome:
        with self.app.db.write() as session:
            done, following = tasks.complete_task(session, task_id=task.id, version=task.version,
                                                  actor=self.app.actor, now=self.app.now())
        return Outcome(self._task_completed, done, following)

    def _task_completed(self, done, following) -> None:
        nxt = f"; the next one is due {following.due_at:%a %d %b}" if following and following.due_at else ""
        self.notify(f"Done: {done.title}{nxt}.")
        self.app.data_changed()
