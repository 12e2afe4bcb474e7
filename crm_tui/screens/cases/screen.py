"""The Cases area: the service desk's queues (mine, unassigned, breaching soon, waiting on the
customer, all open, all, and one per team), each with a live count, the chosen queue's cases in the
one keyset-paged list, search as you type, filters (status, priority, category, assignee), saved
case lists, and `n` for a new case. Enter opens the case detail (screens/cases/detail.py).

The queue's first frame is drawn before SQLAlchemy and the models have loaded: services/start.py
reads the first open cases on the start's plain connection (CaseRow, from shapes.py). The first page
is read while the screen is composed; the search box stands as a line of text until the first frame
is drawn, and the queues are counted after it (their counts would slow that frame down). The
services load where they are first used; every other read waits for the ORM (`_session`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from crm_tui.screens.base import SHELL_CSS, AreaScreen, Outcome, ReportsWorkerErrors, SearchableList
from crm_tui.screens.case_rows import QUEUES, case_columns, queue_label
from crm_tui.services import start
from crm_tui.shapes import STATUS_LABELS
from crm_tui.widgets.keyset_table import KeysetTable
from crm_tui.widgets.text_line import Line, TextLine, late_input

FORMS_CSS = str(Path(__file__).parents[1] / "forms.tcss")  # (the forms module itself loads with the first form)

SEARCH_HINT = "Search subject, number, customer…  ( / )"
FIRST_QUEUE = "open"


def _session(db):
    """A read session, once the ORM has loaded (services/start.py load_orm: one thread at a time
    imports it; the queue's first frame is drawn before)."""
    start.load_orm()
    return db.read()


def _views():
    """services.views (with the ORM, if it has not loaded yet): a saved list's filters."""
    start.load_orm()
    from crm_tui.services import views

    return views


def soon_minutes(app) -> int:
    support = getattr(app.settings, "support", None)
    return getattr(support, "soon_minutes", 60) or 60


class QueueBar(TextLine):
    """The queues in one line, each with its count; the one shown is reversed. `[` and `]` step
    through them, `l` lists them (with the saved lists) to choose one. Styled in cases.tcss (a
    widget's DEFAULT_CSS would make Textual parse every stylesheet again when the area first opens)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys: list[str] = list(QUEUES)
        self.counts: dict[str, int] = {}
        self.current = FIRST_QUEUE

    def show(self, keys: list[str], counts: dict[str, int], current: str) -> None:
        self.keys, self.counts, self.current = keys, counts, current
        self.refresh()

    def text(self) -> Text:
        labels = []
        for key in self.keys:
            count = self.counts.get(key)
            labels.append((key, f" {queue_label(key)} {'…' if count is None else f'{count:,}'} "))
        # the queue shown stays in sight: at 80 columns the line starts later when it must
        current = next((i for i, (key, _) in enumerate(labels) if key == self.current), 0)
        room, start = max(self.size.width - 2, 1), 0
        def width(first: int) -> int:
            return sum(len(label) + 1 for _, label in labels[first:current + 1]) + (2 if first else 0)

        while start < current and width(start) > room:
            start += 1
        text = Text(no_wrap=True, overflow="ellipsis")
        if start:
            text.append("… ")
        for key, label in labels[start:]:
            text.append(label, style="reverse bold" if key == self.current else "")
            text.append(" ")
        return text


class CasesScreen(SearchableList, AreaScreen):
    AREA = "cases"
    CSS_PATH = "cases.tcss"
    AUTO_FOCUS = "#case-list"
    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="cases.search"),
        Binding("down", "focus_list", "To list", show=False, id="cases.to_list"),
        Binding("escape", "focus_list", "To list", show=False, id="cases.escape"),
        Binding("right_square_bracket", "step_queue(1)", "Next queue", id="cases.next_queue"),
        Binding("left_square_bracket", "step_queue(-1)", "Prev queue", show=False, id="cases.prev_queue"),
        Binding("l", "lists", "Queues", id="cases.lists"),
        Binding("f", "filters", "Filter", id="cases.filter"),
        Binding("S", "save_view", "Save list", show=False, id="cases.save_view"),
        Binding("x", "clear", "Clear", show=False, id="cases.clear"),
        Binding("n", "new_case", "New", id="cases.new"),
    ]
    NEEDS = {"new_case": "case.edit"}

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.queue = FIRST_QUEUE  # "mine", ..., or "team:<name>"
        self.filters: dict[str, Any] = {}
        self.texts: dict[str, str] = {}  # how the filters were typed (an assignee's login)
        self.view_name: str | None = None  # a saved list applied
        self.counts: dict[str, int] = {}
        start.hold_orm()  # a worker loading the ORM meanwhile would slow the first frame (released on mount)

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        # the search box is a line of text until the real Input replaces it after the first frame
        # (or at once, on /): an Input is the costliest widget of the screen to set up
        yield Line(SEARCH_HINT, id="case-search-wait")
        yield QueueBar(id="case-queues")
        yield Line(id="case-filter-line")
        table = KeysetTable(case_columns(self.app), noun="cases", id="case-list", empty_text=self._empty_text())
        self._first_fetch = self.fetcher()
        # the first page is fetched while the screen mounts (on the spot, from a local database)
        table.preload(self._first_fetch, here=self.app.db.local_reads)
        yield self.focused_at_start(table)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.table.load(self._first_fetch)
        self._describe()
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        start.release_orm()
        self.search_box()
        self.count_queues()

    def search_box(self) -> Input:
        """The search Input, put in place of the line that stood for it if it isn't there yet."""
        return late_input(self, "case-search", SEARCH_HINT)

    @property
    def table(self) -> KeysetTable:
        return self.query_one("#case-list", KeysetTable)

    # --- the list ---------------------------------------------------------------------------

    def list_args(self) -> dict[str, Any]:
        """list_cases's arguments for the queue, search and filters shown (also what a saved list keeps)."""
        queue, team = (("team", self.queue.split(":", 1)[1]) if self.queue.startswith("team:")
                       else (self.queue, None))
        filters = _views().resolve_filters(self.filters, self.app.actor) if self.filters else {}
        return {"queue": queue, "team": team, "search": self.query_text or None, **filters}

    def fetcher(self):
        """What the table calls (in a thread): one page of the queue's cases."""
        db, actor, now, args = self.app.db, self.app.actor, self.app.now(), self.list_args()
        soon = soon_minutes(self.app)
        plain = args == {"queue": "open", "team": None, "search": None}

        def fetch(*, after, before, limit, with_total):
            if plain and after is None and before is None and not with_total:
                # the first page as the app opens: no ORM needed (None once the start is over)
                page = start.first_cases(db, actor=actor, limit=limit)
                if page is not None:
                    return page
            with _session(db) as session:
                from crm_tui.services import cases

                return cases.list_cases(session, actor=actor, after=after, before=before, limit=limit,
                                        with_total=with_total, now=now, soon_minutes=soon, **args)
        return fetch

    def _narrowed(self) -> bool:
        return bool(self.query_text) or any(v not in (None, "") for v in self.filters.values())

    def _empty_text(self) -> str:
        if self._narrowed():
            return "No cases match. x clears the search and filters; [ and ] show the other queues."
        empty = {
            "mine": "No open cases assigned to you. ] shows the next queue; a on a case assigns it.",
            "unassigned": "Every open case has someone on it.",
            "soon": "No case is due to breach its SLA soon.",
            "waiting": "No case is waiting on a customer.",
            "open": "No open cases. Press n to add one.",
            "all": "No cases yet. Press n to add the first one.",
        }
        return empty.get(self.queue, f"No open cases in {queue_label(self.queue)}.")

    def reload(self) -> None:
        self.table.empty_text = self._empty_text()
        self.table.load(self.fetcher())
        self._describe()

    def refresh_data(self) -> None:
        """After a change here or a teammate's: the rows (cursor kept) and the queues' counts."""
        if self.is_mounted:
            self.table.empty_text = self._empty_text()
            self.table.reload()
            self.count_queues()

    def _describe(self) -> None:
        f = self.filters
        parts = []
        if f.get("status"):
            parts.append(STATUS_LABELS.get(f["status"], f["status"]).lower())
        if f.get("priority"):
            parts.append(f"priority {f['priority']}")
        if f.get("category"):
            parts.append(f"category {f['category']}")
        if f.get("assignee_id") is not None:
            mine = f["assignee_id"] in (_views().ME, self.app.actor.user_id)
            parts.append("assigned to me" if mine else f"assigned to {self.texts.get('assignee') or f['assignee_id']}")
        if self.query_text:
            parts.append(f"matching “{self.query_text}”")
        head = self.view_name or queue_label(self.queue)
        line = Text.assemble((head, "bold"), *(f" · {p}" for p in parts), ("   [ ] queues · l lists · f filter", "dim"))
        self.query_one("#case-filter-line", Line).update(line)
        self.query_one(QueueBar).show(self.queue_keys(), self.counts, self.queue)

    def queue_keys(self) -> list[str]:
        """The queues in order: the fixed ones, then each team's (from the last count)."""
        teams = sorted((k for k in self.counts if k.startswith("team:")), key=str.casefold)
        keys = [*QUEUES, *teams]
        if self.queue not in keys:  # a team queue of a saved list, not counted yet
            keys.append(self.queue)
        return keys

    @on(KeysetTable.Selected, "#case-list")
    def open_case(self, event: KeysetTable.Selected) -> None:
        self.app.open_record("case", event.row.id)

    # --- the queues' counts (a worker; after a change, and on the app's live refresh) -----------

    def count_queues(self) -> None:
        self._count(self.app.now())

    @work(thread=True, exclusive=True, group="case-queue-counts", exit_on_error=False)
    def _count(self, now) -> Outcome:
        with _session(self.app.db) as session:
            from crm_tui.services import cases

            counts = cases.queue_counts(session, actor=self.app.actor, now=now, soon_minutes=soon_minutes(self.app))
        return Outcome(self._counted, counts)

    def _counted(self, counts: dict[str, int]) -> None:
        self.counts = dict(counts)
        self.query_one(QueueBar).show(self.queue_keys(), self.counts, self.queue)

    # --- keys ---------------------------------------------------------------------------------

    def action_step_queue(self, step: int) -> None:
        keys = self.queue_keys()
        index = keys.index(self.queue) if self.queue in keys else 0
        self.show_queue(keys[(index + step) % len(keys)])

    def show_queue(self, key: str) -> None:
        self.queue, self.view_name = key, None
        self.reload()
        self.table.focus()

    @on(Input.Changed, "#case-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.search_typed(event.value)

    @on(Input.Submitted, "#case-search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.submit_search(event.value)

    def action_focus_search(self) -> None:
        self.search_box().focus()

    def action_focus_list(self) -> None:
        self.table.focus()

    def action_clear(self) -> None:
        search = self.search_box()
        with search.prevent(Input.Changed):
            search.value = ""
        self.query_text, self.filters, self.texts, self.view_name = "", {}, {}, None
        self.reload()

    def action_filters(self) -> None:
        from crm_tui.screens.cases.forms import CaseFilterForm  # the forms load on first use, not with the list

        def apply(result: tuple[dict, dict] | None) -> None:
            if result is not None:
                self.filters, self.texts = result
                self.reload()

        self.app.push_screen(CaseFilterForm(self.filters, self.texts), apply)

    def action_new_case(self) -> None:
        from crm_tui.screens.cases.forms import NewCaseForm

        team = self.queue.split(":", 1)[1] if self.queue.startswith("team:") else None

        def created(case) -> None:
            if case is not None:
                self.notify(f"Added case #{case.id} {case.subject}.")
                self.app.data_changed()

        self.app.push_screen(NewCaseForm(team=team), created)

    # --- queues and saved lists -----------------------------------------------------------------

    def action_lists(self) -> None:
        def chosen(picked) -> None:
            if isinstance(picked, str):
                self.show_queue(picked)
            elif picked is not None:
                self.apply_view(picked)

        self.app.push_screen(CaseListsPicker(self.queue_keys(), self.counts), chosen)

    def apply_view(self, view) -> None:
        f = dict(view.filters)
        queue, team = f.pop("queue", FIRST_QUEUE), f.pop("team", None)
        self.queue = f"team:{team}" if queue == "team" and team else queue
        self.filters, self.texts, self.query_text = f, {}, view.query or ""
        search = self.search_box()
        with search.prevent(Input.Changed):
            search.value = self.query_text
        self.reload()
        self.view_name = view.name
        self._describe()
        self.table.focus()

    def action_save_view(self) -> None:
        from crm_tui.screens.saved_lists import SaveViewForm

        args = self.list_args()
        filters = {k: v for k, v in {**self.filters, "queue": args["queue"], "team": args["team"]}.items()
                   if v is not None}
        data = {"entity": "case", "query": self.query_text, "filters": filters, "sort": "number"}

        def saved(view) -> None:
            if view is not None:
                self.view_name = view.name
                self._describe()
                self.notify(f"Saved the list “{view.name}”.")

        self.app.push_screen(SaveViewForm(data), saved)


class CaseListsPicker(ReportsWorkerErrors, ModalScreen["str | Any | None"]):
    """The queues with their counts, then the saved case lists: enter shows one."""

    CSS_PATH = [SHELL_CSS, FORMS_CSS, "cases.tcss"]
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="case_lists.cancel")]

    def __init__(self, keys: list[str], counts: dict[str, int]) -> None:
        super().__init__()
        self.keys, self.counts = keys, counts
        self.saved: list = []

    def compose(self) -> ComposeResult:
        with Vertical(id="case-lists"):
            yield Label("[b]Queues and lists[/b]  enter shows · esc cancels", id="case-lists-title")
            yield OptionList(*self._queue_options(), id="case-lists-options")

    def _queue_options(self) -> list[Option]:
        return [Option(Content.from_markup("$name  [dim]$count[/dim]", name=queue_label(k),
                                           count=f"{self.counts[k]:,}" if k in self.counts else ""), id=f"q:{k}")
                for k in self.keys]

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()
        self.load()

    @work(thread=True, exclusive=True, group="case-lists", exit_on_error=False)
    def load(self) -> Outcome:
        with _session(self.app.db) as session:
            found = _views().list_views(session, entity="case", actor=self.app.actor)
        return Outcome(self._show, found)

    def _show(self, found: list) -> None:
        self.saved = found
        if found:
            options = self.query_one(OptionList)
            options.add_option(None)
            # a list's name is shown as typed, never read as markup
            options.add_options([Option(Content.from_markup("$name  [dim]saved list[/dim]", name=v.name),
                                        id=f"v:{v.id}") for v in found])

    @on(OptionList.OptionSelected, "#case-lists-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        kind, _, key = (event.option.id or "").partition(":")
        if kind == "q":
            self.dismiss(key)
        else:
            self.dismiss(next((v for v in self.saved if str(v.id) == key), None))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
