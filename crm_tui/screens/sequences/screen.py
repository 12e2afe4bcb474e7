"""Sequences: one row per sequence with its funnel (enrolled, sent, replied, stopped, finished);
a to add, e to edit, x to archive (asked first), v for the archived ones, enter to open one
(its steps and enrolments: screens/sequences/detail.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Checkbox, DataTable, Static

from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.screens.forms import ConfirmScreen, FormScreen, _field, _input
from crm_tui.screens.sequences.common import EDIT, SEQUENCES_CSS
from crm_tui.services import permissions, sequences
from crm_tui.services.common import Actor

EMPTY = ("No sequences yet. Press a to add one; enter on it, then a, adds its steps.\n"
         "From the command line: crm sequence add NAME")
# (title, key, width): fixed widths, so that the rows never resize the columns (fits 80 columns)
COLUMNS = (("Name", "name", 22), ("Steps", "steps", 5), ("Enrolled", "enrolled", 8), ("Sent", "sent", 5),
           ("Replied", "replied", 7), ("Stopped", "stopped", 7), ("Finished", "finished", 8))


class SequenceForm(FormScreen[sequences.SequenceRead | None]):
    """A new sequence or an existing one: name, description, sending window, daily cap per sender,
    and whether it is the team's or your own."""

    def __init__(self, sequence: sequences.SequenceRead | None = None) -> None:
        super().__init__()
        self.sequence = sequence

    def form_title(self) -> str:
        return f"Edit sequence · {self.sequence.name}" if self.sequence else "New sequence"

    def compose_fields(self) -> ComposeResult:
        s = self.sequence
        yield _field("Name", _input("sequence-name", s.name if s else ""))
        yield _field("About", _input("sequence-description", s.description if s else "",
                                     placeholder="what it is for (optional)"))
        yield _field("Window", _input("sequence-window", s.window if s else "09:00-17:00",
                                      placeholder="HH:MM-HH:MM, business days, team time"))
        yield _field("Daily cap", _input("sequence-cap", str(s.daily_cap) if s else "50",
                                         placeholder="emails per sender per day"))
        yield _field("", Checkbox("The team's (else your own)", s.shared if s else True, id="sequence-team",
                                  compact=True))

    def values(self) -> dict[str, Any]:
        return {"name": self.query_one("#sequence-name").value.strip(),
                "description": self.query_one("#sequence-description").value.strip(),
                "window": self.query_one("#sequence-window").value.strip(),
                "daily_cap": self.query_one("#sequence-cap").value.strip(),
                "team": self.query_one("#sequence-team", Checkbox).value}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> sequences.SequenceRead:
        team = values.pop("team")
        owner_id = None if team else actor.user_id
        cap = values.pop("daily_cap")
        values["daily_cap"] = _cap(cap)
        s = self.sequence
        if s is None:
            return sequences.create_sequence(session, actor, owner_id=owner_id, now=now, **values)
        return sequences.update_sequence(session, actor, s.id, version=s.version, now=now, owner_id=owner_id,
                                         **values)


def _cap(text: str) -> int:
    from crm_tui.errors import InvalidInput

    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"invalid daily cap {text!r}: give a whole number of emails, e.g. 50") from None


class SequencesScreen(AreaScreen):
    """Pushed from the command palette ("Sequences"): every sequence with its funnel."""

    CSS_PATH = SEQUENCES_CSS
    AUTO_FOCUS = "#sequences-table"
    BINDINGS = [
        Binding("escape", "back", "Back", id="sequences.back"),
        Binding("enter", "open", "Open", id="sequences.open"),
        Binding("a", "add", "Add", id="sequences.add"),
        Binding("e", "edit", "Edit", id="sequences.edit"),
        Binding("x", "archive", "Archive", id="sequences.archive"),
        Binding("v", "toggle_archived", "Archived too", id="sequences.archived"),
    ]
    NEEDS = {"add": EDIT, "edit": EDIT, "archive": EDIT}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[sequences.SequenceRead] = []
        self.include_archived = False

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Sequences", id="sequences-line", markup=False)
        yield DataTable(id="sequences-table", cursor_type="row", zebra_stripes=True)
        yield Static(EMPTY, id="sequences-empty", markup=False)
        yield Static("", id="sequences-detail", markup=False)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        self.query_one("#sequences-empty").display = False
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load(self.include_archived)

    @work(thread=True, exclusive=True, group="sequences-load", exit_on_error=False)
    def _load(self, include_archived: bool) -> Outcome:
        with self.app.db.read() as session:
            rows = sequences.list_sequences(session, self.app.actor, include_archived=include_archived)
            may = permissions.allowed(session, self.app.actor, EDIT)
        return Outcome(self._show, rows, may)

    def _show(self, rows: list[sequences.SequenceRead], may: bool) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        where = table.cursor_row
        table.clear()
        for s in rows:
            f = s.funnel
            name = s.name + (" (archived)" if s.archived else "")
            cells = (name, *(str(n) for n in (s.steps, f.enrolled, f.sent, f.replied, f.stopped, f.finished)))
            table.add_row(*(Text(c, no_wrap=True, justify="left" if i == 0 else "right")
                            for i, c in enumerate(cells)), key=str(s.id))
        if rows:
            table.move_cursor(row=min(max(where, 0), len(rows) - 1), animate=False)
        table.display = bool(rows)
        self.query_one("#sequences-empty").display = not rows
        which = "in use and archived" if self.include_archived else "in use"
        count = f"{len(rows)} {which}" if rows else f"none {which}"
        how = "enter open · a add · e edit · x archive · v archived" if may else "enter open · read only"
        self.query_one("#sequences-line", Static).update(f"Sequences — {count} — {how}")
        if rows:
            table.focus()
        self._describe()

    @on(DataTable.RowHighlighted)
    def _describe(self) -> None:
        s = self.current()
        text = ""
        if s is not None:
            whose = "team" if s.shared else f"{s.owner or '?'}'s"
            text = f"{whose} · {s.window} · at most {s.daily_cap}/day per sender" + (
                f" · {s.description}" if s.description else "")
        self.query_one("#sequences-detail", Static).update(" ".join(text.split()))

    def current(self) -> sequences.SequenceRead | None:
        if not self.rows:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.rows[min(max(row, 0), len(self.rows) - 1)]

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        s = self.current()
        if s is None:
            self.notify("No sequence yet: a adds one.", severity="warning")
            return
        from crm_tui.screens.sequences.detail import SequenceDetailScreen

        self.app.push_screen(SequenceDetailScreen(s.id))

    def action_add(self) -> None:
        self.app.push_screen(SequenceForm(), self._saved)

    def action_edit(self) -> None:
        s = self.current()
        if s is None:
            self.notify("No sequence to edit: a adds one.", severity="warning")
            return
        self.app.push_screen(SequenceForm(s), self._saved)

    def action_archive(self) -> None:
        s = self.current()
        if s is None:
            return
        if s.archived:
            self.notify(f"{s.name} is archived already: crm sequence unarchive restores it.", severity="warning")
            return
        active = f" Its {s.funnel.active} active enrolments stop." if s.funnel.active else ""
        self.app.push_screen(ConfirmScreen(f"Archive the sequence {s.name!r}?{active}", "Archive"),
                             lambda yes: self._archive(s) if yes else None)

    @work(thread=True, exclusive=True, group="sequences-save", exit_on_error=False)
    def _archive(self, s: sequences.SequenceRead) -> Outcome:
        with self.app.db.write() as session:
            done = sequences.archive_sequence(session, self.app.actor, s.id, version=s.version, now=self.app.now())
        return Outcome(self._saved, done)

    def action_toggle_archived(self) -> None:
        self.include_archived = not self.include_archived
        self.refresh_data()

    def _saved(self, result: sequences.SequenceRead | None) -> None:
        if result is not None:
            self.notify(f"{result.name} {'archived' if result.archived else 'saved'}", title="Sequences")
            self.app.data_changed()
        self.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
