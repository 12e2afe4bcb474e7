"""Bulk changes on any list's marked rows: the dialog that picks the change, and the mixin a list
screen takes to offer it (`b` on the marks, `u` to undo). The marks themselves are the list's
(widgets/keyset_table.py); the change is services/bulk_edit.py's, one transaction, set-based."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from typing import TYPE_CHECKING

from crm_tui.errors import InvalidInput
from crm_tui.screens.base import Outcome
from crm_tui.screens.bulk_field import BulkFieldScreen
from crm_tui.services.start import load_orm
from crm_tui.widgets.keyset_table import KeysetTable

if TYPE_CHECKING:
    from crm_tui.services.bulk_edit import BulkResult, Change, Selection

# the contact list's first frame is painted before the ORM loads (services/start.py): the bulk
# service (and the models under it) is imported when marks are first acted on


def _bulk_edit():
    load_orm()
    from crm_tui.services import bulk_edit

    return bulk_edit

# the changes, what the value line asks for ("" needs no value), and the kinds they apply to
ACTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "owner": ("Change owner", "new owner's login, or none", ("contact", "company", "deal")),
    "stage": ("Move to stage", "stage name, e.g. Proposal", ("deal",)),
    "add_tag": ("Add tag", "tag", ("contact",)),
    "remove_tag": ("Remove tag", "tag", ("contact",)),
    "set": ("Set a field", "field=value, e.g. lifecycle=customer", ("contact", "company", "deal")),
    "archive": ("Archive", "", ("contact", "company", "deal")),
    "task": ("Add a task to each", "title; due, e.g. Call back; +2d", ("contact", "company", "deal")),
    "export": ("Export to CSV", "file name", ("contact", "company", "deal")),
}
NOUNS = {"contact": "contacts", "company": "companies", "deal": "deals"}


@dataclass(frozen=True)
class BulkRequest:
    what: str
    value: str = ""


class BulkActionScreen(ModalScreen[BulkRequest | None]):
    """Pick a change for the marked rows, then type its value; Enter applies, Esc goes back."""

    CSS_PATH = str(Path(__file__).with_name("bulk.tcss"))
    AUTO_FOCUS = "#bulk-actions"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="bulk.cancel")]

    def __init__(self, kind: str, marked: int | None) -> None:
        super().__init__()
        self.kind = kind
        self.marked = marked
        self.what: str | None = None

    def compose(self) -> ComposeResult:
        count = f"{self.marked:,}" if self.marked is not None else "all"
        with Vertical(id="bulk-dialog"):
            yield Label(f"Change {count} marked {NOUNS[self.kind]}", id="bulk-title")
            yield OptionList(*(Option(label, id=what) for what, (label, _, kinds) in ACTIONS.items()
                               if self.kind in kinds), id="bulk-actions")
            yield Input(id="bulk-value", placeholder="choose a change above", compact=True, disabled=True)
            yield Label("One change for every marked record you may change; u undoes it.", id="bulk-hint")

    @on(OptionList.OptionSelected, "#bulk-actions")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.what = event.option.id
        if self.what == "set":  # the kind's fields, then a value fit for the field's type
            self._set_a_field()
            return
        ask = ACTIONS[self.what][1]
        if not ask:
            self.dismiss(BulkRequest(self.what))
            return
        box = self.query_one("#bulk-value", Input)
        box.disabled, box.placeholder, box.value = False, ask, ""
        if self.what == "export":
            box.value = f"{NOUNS[self.kind]}.csv"
        box.focus()

    def _set_a_field(self) -> None:
        def chosen(pair: str | None) -> None:
            if pair is None:
                self.what = None
                self.query_one("#bulk-actions").focus()
            else:
                self.dismiss(BulkRequest("set", pair))

        self.app.push_screen(BulkFieldScreen(self.kind, self.marked), chosen)

    @on(Input.Submitted, "#bulk-value")
    def _submitted(self, event: Input.Submitted) -> None:
        if self.what is None:
            return
        if not event.value.strip():
            self.query_one("#bulk-hint", Label).update(f"Type the {ACTIONS[self.what][1]} first.")
            return
        self.dismiss(BulkRequest(self.what, event.value.strip()))

    def action_cancel(self) -> None:
        if self.what is not None and not self.query_one("#bulk-value", Input).disabled:
            box = self.query_one("#bulk-value", Input)
            box.disabled, box.placeholder, self.what = True, "choose a change above", None
            self.query_one("#bulk-actions").focus()
            return
        self.dismiss(None)


def request_changes(session, kind: str, request: BulkRequest, actor, now) -> list[Change]:
    bulk_edit = _bulk_edit()
    Change = bulk_edit.Change
    """The service's changes from what was typed in the dialog (refused as one line if unreadable)."""
    what, value = request.what, request.value
    if what in ("owner", "stage"):
        return [bulk_edit.check_change(session, kind, Change("set", what, value))]
    if what == "set":
        return [bulk_edit.parse_set(session, kind, value)]
    if what in ("add_tag", "remove_tag"):
        return [Change(what, value=value)]
    if what == "archive":
        return [Change("archive")]
    if what == "task":
        title, _, due = value.partition(";")
        return [bulk_edit.task_change(title=title.strip(), due=due.strip() or None, actor=actor, now=now)]
    raise InvalidInput(f"no bulk change {what!r}")


class BulkEditing:
    """For a list screen whose KeysetTable has `marking=True`: `b` offers the changes for the
    marked rows, `u` undoes the last one. The screen says which records (`BULK_KIND`) and what
    its list matches now (`bulk_filters()`, `query_text`)."""

    BULK_KIND: ClassVar[str] = "contact"
    _bulk_undo: int | None = None

    def bulk_filters(self) -> dict:
        return {}

    def bulk_selection(self, table: KeysetTable) -> Selection:
        Selection = _bulk_edit().Selection
        marks = table.marks
        if marks.every:
            return Selection(self.BULK_KIND, all_matching=True, excluded=frozenset(marks.ids),
                             filters=self.bulk_filters(), query=getattr(self, "query_text", "") or None)
        return Selection(self.BULK_KIND, ids=frozenset(marks.ids))

    def on_keyset_table_bulk_asked(self, message: KeysetTable.BulkAsked) -> None:
        message.stop()
        table = message.table
        selection = self.bulk_selection(table)

        def chosen(request: BulkRequest | None) -> None:
            if request is not None:
                self._bulk_run(table, selection, request)

        self.app.push_screen(BulkActionScreen(self.BULK_KIND, table.marked_count), chosen)

    def on_keyset_table_undo_asked(self, message: KeysetTable.UndoAsked) -> None:
        message.stop()
        if self._bulk_undo is not None:
            self._bulk_undo_run(message.table, self._bulk_undo)

    @work(thread=True, group="bulk-edit", exit_on_error=False)
    def _bulk_run(self, table: KeysetTable, selection: Selection, request: BulkRequest) -> Outcome:
        bulk_edit = _bulk_edit()
        from crm_tui.services import files

        app = self.app
        with app.db.write() as session:
            if request.what == "export":
                with files.private_text_file(request.value, what="the export") as out:  # 0600, never half-written
                    n = bulk_edit.export_csv(session, selection=selection, out=out, actor=app.actor, now=app.now())
                return Outcome(self._bulk_exported, table, n, request.value)
            changes = request_changes(session, self.BULK_KIND, request, app.actor, app.now())
            result = bulk_edit.apply(session, selection=selection, changes=changes, actor=app.actor, now=app.now())
            bulk_edit.refuse_if_none(result)
        return Outcome(self._bulk_done, table, result)

    def _bulk_exported(self, table: KeysetTable, n: int, path: str) -> None:
        self.notify(f"Exported {n:,} {NOUNS[self.BULK_KIND]} to {path}.")

    def _bulk_done(self, table: KeysetTable, result: BulkResult) -> None:
        table.clear_marks()
        if result.bulk_id is not None:
            self._bulk_undo = result.bulk_id
            table.undo_hint = result.summary
            table.refresh_bindings()
        tail = " Press u to undo." if result.bulk_id is not None else ""
        self.notify(_sentence(result.message) + tail, severity="warning" if result.refused else "information",
                    timeout=10 if result.refused else 5)
        self.app.data_changed()

    @work(thread=True, group="bulk-edit", exit_on_error=False)
    def _bulk_undo_run(self, table: KeysetTable, bulk_id: int) -> Outcome:
        bulk_edit = _bulk_edit()
        with self.app.db.write() as session:
            result = bulk_edit.undo(session, bulk_id=bulk_id, actor=self.app.actor, now=self.app.now())
        return Outcome(self._bulk_undone, table, result)

    def _bulk_undone(self, table: KeysetTable, result: BulkResult) -> None:
        self._bulk_undo = None
        table.undo_hint = None
        table.refresh_bindings()
        kept = f" ({result.unchanged:,} changed since kept their change)" if result.unchanged else ""
        self.notify(f"Undone: {result.changed:,} {NOUNS[self.BULK_KIND]} put back{kept}.")
        self.app.data_changed()


def _sentence(text: str) -> str:
    return (text[:1].upper() + text[1:] + ".") if text else text
