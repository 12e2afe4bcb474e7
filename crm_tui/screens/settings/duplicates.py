"""Duplicates: the likely duplicate contacts (or companies) best first, and merging a pair in a
form that asks which value to keep for each field that differs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label, Select, Static

from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import FormScreen
from crm_tui.services import dedupe, merge
from crm_tui.services.common import Actor
from crm_tui.services.words import plural
from crm_tui.widgets.keyset_table import Column, KeysetTable

CSS = "duplicates.tcss"
NOUNS = {"contact": "contacts", "company": "companies"}


def pair_columns() -> list[Column]:
    return [
        Column("Score", lambda p: str(p.score), width=5, align="right"),
        Column("Why", lambda p: p.why, width=11),
        Column("Keep (a)", lambda p: f"{p.a_label} #{p.a_id}", ratio=3, min_width=12),
        Column("Merge in (b)", lambda p: f"{p.b_label} #{p.b_id}", ratio=3, min_width=12),
        Column("Shared / details", lambda p: p.shared or p.a_detail, ratio=3, min_width=10, hide_below=90),
    ]


class DuplicatesScreen(AreaScreen):
    """Pushed from the command palette; escape goes back to the area it came from."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#dupe-list"
    LIVE_REFRESH = False  # a scan reads every contact: a teammate's save doesn't start one (r does)
    BINDINGS = [
        Binding("m", "merge(False)", "Merge b into a", id="dupes.merge"),
        Binding("M", "merge(True)", "Merge a into b", show=False, id="dupes.merge_swapped"),
        Binding("n", "not_duplicate", "Not a duplicate", id="dupes.not_duplicate"),
        Binding("u", "undo_not_duplicate", "Undo not-duplicate", show=False, id="dupes.undo_not_duplicate"),
        Binding("t", "toggle_kind", "Contacts/companies", id="dupes.kind"),
        Binding("r", "rescan", "Rescan", id="dupes.rescan"),
        Binding("escape", "back", "Back", id="dupes.back"),
    ]

    def __init__(self, kind: str = "contact") -> None:
        super().__init__()
        self.kind = kind
        self.AREA = "companies" if kind == "company" else "contacts"
        self.scan: dedupe.DuplicateScan | None = None
        self.last_dismissed: dedupe.Dismissal | None = None  # what u takes back

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("", id="dupe-line")
        yield KeysetTable(pair_columns(), noun="pairs", id="dupe-list",
                          empty_text="No likely duplicates. r scans again, t switches contacts/companies.")
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.action_rescan()

    @property
    def table(self) -> KeysetTable:
        return self.query_one("#dupe-list", KeysetTable)

    # --- the scan ---------------------------------------------------------------------------------

    def action_rescan(self) -> None:
        self.query_one("#dupe-line", Static).update(f"Looking for duplicate {NOUNS[self.kind]}…")
        self._scan(self.kind)

    @work(thread=True, exclusive=True, group="dupes-scan", exit_on_error=False)
    def _scan(self, kind: str) -> Outcome:
        with self.app.db.read() as session:
            scan = dedupe.find_duplicates(session, kind=kind)
        return Outcome(self._scanned, scan)

    def _scanned(self, scan: dedupe.DuplicateScan) -> None:
        if scan.kind != self.kind:
            return  # the kind was switched while it ran
        self.scan = scan
        more = f" (the first {len(scan.pairs):,}; merge some and rescan)" if scan.truncated else ""
        self.query_one("#dupe-line", Static).update(
            f"[b]Likely duplicate {NOUNS[scan.kind]}[/b]: {plural(len(scan.pairs), 'pair')}{more} · "
            f"m merges b into a · M a into b · n not a duplicate · "
            f"t {NOUNS['company' if scan.kind == 'contact' else 'contact']}")

        def fetch(*, after, before, limit, with_total):
            return dedupe.scan_page(scan, after=after, before=before, limit=limit, with_total=with_total)
        self.table.load(fetch)

    @on(KeysetTable.Selected, "#dupe-list")
    def _selected(self, event: KeysetTable.Selected) -> None:
        self.action_merge(False)

    def refresh_data(self) -> None:
        self.action_rescan()

    def action_toggle_kind(self) -> None:
        self.kind = "company" if self.kind == "contact" else "contact"
        self.AREA = "companies" if self.kind == "company" else "contacts"
        self.action_rescan()

    def action_back(self) -> None:
        self.app.pop_screen()

    # --- not a duplicate ------------------------------------------------------------------------

    def action_not_duplicate(self) -> None:
        pair = self.table.current_row
        if pair is None:
            self.notify("No pair here.", severity="warning")
            return
        self._mark(pair.kind, pair.a_id, pair.b_id, False)

    def action_undo_not_duplicate(self) -> None:
        last = self.last_dismissed
        if last is None:
            self.notify("Nothing to undo here.", severity="warning")
            return
        self._mark(last.kind, last.a_id, last.b_id, True)

    @work(thread=True, exclusive=True, group="dupes-dismiss", exit_on_error=False)
    def _mark(self, kind: str, a_id: int, b_id: int, undo: bool) -> Outcome:
        app = self.app
        with app.db.write() as session:
            mark = dedupe.restore_pair if undo else dedupe.dismiss_pair
            result = mark(session, kind=kind, a_id=a_id, b_id=b_id, actor=app.actor, now=app.now())
        return Outcome(self._marked, result, undo)

    def _marked(self, result: dedupe.Dismissal, undo: bool) -> None:
        pair = f"{result.a_label} (#{result.a_id}) and {result.b_label} (#{result.b_id})"
        if undo:
            self.last_dismissed = None
            self.notify(f"{pair} may show as duplicates again.", title="Undone")
        else:
            self.last_dismissed = result
            self.notify(f"{pair}: not duplicates, for everyone. u undoes.", title="Not a duplicate")
        self.action_rescan()

    # --- merging --------------------------------------------------------------------------------

    def action_merge(self, swapped: bool) -> None:
        pair = self.table.current_row
        if pair is None:
            self.notify("Nothing to merge here.", severity="warning")
            return
        a, b = (pair.b_id, pair.a_id) if swapped else (pair.a_id, pair.b_id)
        self._plan(pair.kind, a, b)

    @work(thread=True, exclusive=True, group="dupes-plan", exit_on_error=False)
    def _plan(self, kind: str, a_id: int, b_id: int) -> Outcome:
        with self.app.db.read() as session:
            plan = merge.plan_merge(session, kind=kind, a_id=a_id, b_id=b_id)
        return Outcome(self._ask, plan)

    def _ask(self, plan: merge.MergePlan) -> None:
        self.app.push_screen(MergeForm(plan), self._merged)

    def _merged(self, result: merge.MergeResult | None) -> None:
        if result is None:
            return
        moved = sum(result.moved.values())
        self.notify(f"Merged #{result.merged_id} into {result.label} (#{result.survivor_id}); "
                    f"{moved} related rows moved.", title="Merged")
        self.app.data_changed()  # every area refreshes, this list rescans


class MergeForm(FormScreen[merge.MergeResult | None]):
    """Which value to keep for each field that differs; what b fills in and what moves is shown."""

    CSS_PATH = [FORMS_CSS, CSS]
    HINT = "a/b per field · ^s merge · esc cancel"

    def __init__(self, plan: merge.MergePlan) -> None:
        super().__init__()
        self.plan = plan

    def form_title(self) -> str:
        p = self.plan
        return f"Merge {p.kind} #{p.b_id} {p.b_label} (b) into #{p.a_id} {p.a_label} (a)"

    def compose_fields(self) -> ComposeResult:
        p = self.plan
        if not p.conflicts:
            yield Label("No field differs: b adds only what a lacks.", classes="merge-note")
        for c in p.conflicts:
            # the values and a custom field's name are people's text: shown as typed, never as markup
            options = [(Text(f"a: {c.a}"), "a"), (Text(f"b: {c.b}"), "b")]
            with Horizontal(classes="field"):
                yield Label(c.label, classes="field-label", markup=False)
                yield Select(options, value="a", allow_blank=False, id=f"keep-{_widget_id(c.name)}",
                             compact=True)
        if p.filled:
            filled = ", ".join(f"{name}: {value}" for name, value in p.filled.items())
            yield Static(Content.from_markup("[dim]From b (empty in a):[/dim] $filled", filled=filled),
                         classes="merge-note")
        if p.kind == "contact":
            yield Static("[dim]Every email, phone and tag of both is kept; Email and Phone pick the first.[/dim]",
                         classes="merge-note")
        moves = ", ".join(f"{n} {name.split('.')[0]}" for name, n in p.moves.items()) or "nothing else"
        yield Static(Content.from_markup(f"[dim]Moves to a:[/dim] $moves. #{p.b_id} is removed.", moves=moves),
                     classes="merge-note")

    def on_mount(self) -> None:  # FormScreen.on_mount runs too: Textual calls each class's handler
        self.query_one("#form-save").label = "Merge"
        selects = list(self.query(Select))
        if selects:
            selects[0].focus()

    def values(self) -> dict[str, Any]:
        return {c.name: self.query_one(f"#keep-{_widget_id(c.name)}", Select).value for c in self.plan.conflicts}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> merge.MergeResult:
        p = self.plan
        return merge.merge_records(session, kind=p.kind, a_id=p.a_id, b_id=p.b_id, keep=values, actor=actor,
                                   a_version=p.a_version, b_version=p.b_version, now=now)

    @on(Select.Changed)
    def _changed(self, event: Select.Changed) -> None:
        self.show_error("")


def _widget_id(name: str) -> str:
    """A field name ("custom.shoe size") as a widget id."""
    return "".join(ch if ch.isalnum() or ch in "_-" else f"_{ord(ch):x}_" for ch in name)
