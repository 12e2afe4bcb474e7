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
    "owner": ("Change owner", "type a name or email, or nobody", ("contact", "company", "deal")),
    "stage": ("Move to stage", "type to find an open stage", ("deal",)),
    "add_tag": ("Add tag", "tag", ("contact",)),
    "remove_tag": ("Remove tag", "tag", ("contact",)),
    "set": ("Set a field", "field=value, e.g. lifecycle=customer", ("contact", "company", "deal")),
    "archive": ("Archive", "", ("contact", "company", "deal")),
    "task": ("Add a task to each", "title; due, e.g. Call back; +2d", ("contact", "company", "deal")),
    "export": ("Export to CSV", "file name", ("contact", "company", "deal")),
    # asks for the sequence in a dialog of its own (screens/sequence_enrol.py)
    "sequence": ("Enrol in a sequence", "", ("contact",)),
}
NOUNS = {"contact": "contacts", "company": "companies", "deal": "deals"}


# the changes whose value names a record: a picker of that kind (widgets/picker.py) takes it
PICKED = {"owner": "user", "stage": "stage"}
NOBODY_ID = -2  # widgets.picker.NOBODY's id (that module loads the ORM: imported when the dialog opens)


@dataclass(frozen=True)
class BulkRequest:
    what: str
    value: str = ""
    pick: int | None = None  # the record chosen in a picker (None: resolve the typed value)


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
            yield from self._pickers()
            yield Label("One change for every marked record you may change; u undoes it.", id="bulk-hint")

    def _pickers(self) -> ComposeResult:
        """An owner picker and a stage picker, shown in the value line's place when their change is chosen."""
        load_orm()
        from crm_tui.widgets.picker import NOBODY, Picker

        for what, kind in PICKED.items():
            if self.kind in ACTIONS[what][2]:
                picker = Picker(kind, id=f"bulk-{what}", extras=(NOBODY,) if kind == "user" else (),
                                open_only=kind == "stage", placeholder=ACTIONS[what][1])
                picker.display = False
                yield picker

    def _value_box(self, what: str | None) -> Input:
        return self.query_one(f"#bulk-{what}" if what in PICKED else "#bulk-value", Input)

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
        if self.what in PICKED:
            self.query_one("#bulk-value", Input).display = False
            self.query_one(f"#bulk-{self.what}-picker").display = True
            self._value_box(self.what).focus()
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

    @on(Input.Submitted, "#bulk-value,#bulk-owner,#bulk-stage")
    def _submitted(self, event: Input.Submitted) -> None:
        if self.what is None:
            return
        if not event.value.strip():
            self.query_one("#bulk-hint", Label).update(f"Type the {ACTIONS[self.what][1]} first.")
            return
        pick = None
        if self.what in PICKED:
            pick = self.query_one(f"#bulk-{self.what}-picker").value
            pick = pick if isinstance(pick, int) else None
        self.dismiss(BulkRequest(self.what, event.value.strip(), pick))

    def action_cancel(self) -> None:
        """Back to the list of changes from the value line; out of the dialog from there."""
        if self.what is not None and self._value_box(self.what).display and not self._value_box(self.what).disabled:
            if self.what in PICKED:
                self.query_one(f"#bulk-{self.what}-picker").display = False
                self.query_one("#bulk-value", Input).display = True
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
    if what in PICKED:
        return [bulk_edit.check_change(session, kind, Change("set", what, _picked_value(session, request)))]
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


def _picked_value(session, request: BulkRequest) -> int | str:
    """The owner or stage the dialog's picker names: the one chosen, else the typed text read by the
    pickers' one rule (lookup.resolve); "nobody" (or "none") clears the owner."""
    from crm_tui.services import lookup

    if request.pick == NOBODY_ID or request.what == "owner" and request.value.lower() in ("nobody", "none", "-"):
        return "none"
    if request.pick is not None:
        return request.pick
    return lookup.resolve(session, kind=PICKED[request.what], text=request.value,
                          open_only=request.what == "stage").id


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
            if request is not None and request.what == "sequence":
                self._bulk_enrol(table, selection)
            elif request is not None:
                self._bulk_run(table, selection, request)

        self.app.push_screen(BulkActionScreen(self.BULK_KIND, table.marked_count), chosen)

    def _bulk_enrol(self, table: KeysetTable, selection: Selection) -> None:
        """Enrol the marked contacts (their ids), or every contact the list matches (its search and
        filters: a saved list's too) in a sequence picked in the enrol dialog."""
        from crm_tui.screens.sequence_enrol import ContactList, EnrolForm

        if selection.all_matching and selection.excluded:
            self.notify("Enrolling every contact but some is not offered: mark the ones to enrol, "
                        "or narrow the list and press * again.", severity="warning")
            return
        count = table.marked_count
        what = f"{count:,} marked contacts" if count is not None else "every contact of the list"
        form = EnrolForm(what, contacts=ContactList(dict(selection.filters), selection.query)) \
            if selection.all_matching else EnrolForm(what, contact_ids=sorted(selection.ids))

        def enrolled(done) -> None:
            if done is not None:
                table.clear_marks()
                self.notify(done.message, title="Sequences",
                            severity="information" if done.result.enrolled else "warning")
                self.app.data_changed()

        self.app.push_screen(form, enrolled)

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
