"""Settings · Custom fields: the typed fields of contacts, companies and deals; an admin adds
them, changes their label, default, whether they are required and their choices, and archives them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.screens.forms import FormScreen, _field, _input, _selected, _split
from crm_tui.services import fields, permissions
from crm_tui.services.common import Actor

ADMIN = fields.PERMISSION


def _choices_text(f: fields.FieldRead) -> str:
    return ", ".join(f.offered) + (f"  (retired: {', '.join(f.retired)})" if f.retired else "")


class FieldForm(FormScreen[fields.FieldRead | None]):
    """A new field (kind, name, type, choices, required, default), or an existing one's label,
    required, default and choices: a choice taken out of the list is retired (records keep it),
    a new one is added, and a retired one typed again is offered again."""

    ENTER_SAVES = False

    def __init__(self, field: fields.FieldRead | None = None, kind: str = "contact") -> None:
        super().__init__()
        self.field = field
        self.kind = kind

    def form_title(self) -> str:
        f = self.field
        return f"Edit field · {f.kind}.{f.key} ({f.type_label})" if f else "New custom field"

    def compose_fields(self) -> ComposeResult:
        f = self.field
        if f is None:
            yield _field("For", Select([(k, k) for k in fields.KINDS], id="field-kind", value=self.kind,
                                       allow_blank=False, compact=True))
            yield _field("Name", _input("field-key", placeholder="e.g. segment (as imports and filters name it)"))
            yield _field("Type", Select([(fields.TYPE_LABELS[t], t) for t in fields.TYPES], id="field-type",
                                        value="text", allow_blank=False, compact=True))
        yield _field("Label", _input("field-label", f.label if f else "", placeholder="the name people see"))
        yield _field("Choices", _input("field-options", ", ".join(f.offered) if f else "",
                                       placeholder="choice and multi-choice: comma separated"))
        yield _field("Default", _input("field-default", fields.input_text(f, f.default) if f else "",
                                       placeholder="for new records (optional)"))
        yield _field("", Checkbox("Required on new records", bool(f and f.required), id="field-required",
                                  compact=True))

    def values(self) -> dict[str, Any]:
        out = {
            "label": self.query_one("#field-label", Input).value.strip(),
            "options": _split(self.query_one("#field-options", Input).value),
            "default": self.query_one("#field-default", Input).value.strip(),
            "required": self.query_one("#field-required", Checkbox).value,
        }
        if self.field is None:
            out |= {"kind": _selected(self.query_one("#field-kind", Select)),
                    "key": self.query_one("#field-key", Input).value.strip(),
                    "type": _selected(self.query_one("#field-type", Select))}
        return out

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> fields.FieldRead:
        f = self.field
        if f is None:
            return fields.add_field(session, kind=values["kind"], key=values["key"], type=values["type"],
                                    label=values["label"] or None, options=values["options"],
                                    required=values["required"], default=values["default"] or None,
                                    actor=actor, now=now)
        typed = {o.casefold() for o in values["options"]}
        retire = [o for o in f.offered if o.casefold() not in typed] if f.type in fields.CHOICES else []
        add = values["options"] if f.type in fields.CHOICES else []
        if values["options"] and f.type not in fields.CHOICES:
            add = values["options"]  # the service says why a field without choices takes none
        return fields.edit_field(session, kind=f.kind, key=f.key, label=values["label"], required=values["required"],
                                 default=values["default"] or None, clear_default=not values["default"],
                                 add_options=add, retire_options=retire, version=f.version, actor=actor, now=now)


class FieldSettingsScreen(AreaScreen):
    """Pushed from the command palette: one row per field, kind by kind."""

    CSS_PATH = "fields.tcss"
    AUTO_FOCUS = "#fields-table"
    BINDINGS = [
        Binding("n", "new", "New field", id="fields.new"),
        Binding("e", "edit", "Edit", id="fields.edit"),
        Binding("a", "archive", "Archive/restore", id="fields.archive"),
        Binding("escape", "back", "Back", id="fields.back"),
    ]
    NEEDS = {"new": ADMIN, "edit": ADMIN, "archive": ADMIN}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[fields.FieldRead] = []

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Custom fields", id="fields-line")
        yield DataTable(id="fields-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="fields-detail", markup=False)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (("For", "kind"), ("Field", "key"), ("Type", "type"), ("Req", "required"),
                           ("Default", "default"), ("Choices", "choices")):
            table.add_column(label, key=key)
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="fields-load", exit_on_error=False)
    def _load(self) -> Outcome:
        with self.app.db.read() as session:
            rows = fields.list_fields(session, include_archived=True)
            can_change = permissions.allowed(session, self.app.actor, ADMIN)
        return Outcome(self._show, rows, can_change)

    def _show(self, rows: list[fields.FieldRead], can_change: bool) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        where = table.cursor_row
        table.clear()
        for f in rows:
            style = "dim" if f.archived else ""
            name = f.key + (" (archived)" if f.archived else "")
            table.add_row(*(Text(str(cell), style=style) for cell in (
                f.kind, name, f.type_label, "yes" if f.required else "", fields.display(f, f.default),
                ", ".join(f.offered))), key=str(f.id))
        if rows:
            table.move_cursor(row=min(where, len(rows) - 1), animate=False)
        how = ("n new · e edit · a archive or restore" if can_change
               else "Read only: an admin defines fields (crm field add)")
        count = f"{len(rows)} field{'s' if len(rows) != 1 else ''}" if rows else "No fields yet"
        self.query_one("#fields-line", Static).update(f"Custom fields — {count} — {how}")
        self._describe()

    @on(DataTable.RowHighlighted)
    def _describe(self) -> None:
        f = self._current()
        detail = self.query_one("#fields-detail", Static)
        if f is None:
            detail.update("")
            return
        label = f" “{f.label}”" if f.label != f.key else ""
        detail.update(f"{f.kind}.{f.key}{label}: {f.type_label}"
                      + (f"; choices {_choices_text(f)}" if f.type in fields.CHOICES else "")
                      + (f"; filter: crm contact list --custom '{f.key}=…'" if f.kind == "contact" else ""))

    def _current(self) -> fields.FieldRead | None:
        if not self.rows:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.rows[min(max(row, 0), len(self.rows) - 1)]

    def action_new(self) -> None:
        current = self._current()
        self.app.push_screen(FieldForm(kind=current.kind if current else "contact"), self._saved)

    def action_edit(self) -> None:
        current = self._current()
        if current is None:
            self.notify("No field to edit: n adds one.", severity="warning")
            return
        self.app.push_screen(FieldForm(current), self._saved)

    def action_archive(self) -> None:
        current = self._current()
        if current is not None:
            self._archive(current)

    @work(thread=True, exclusive=True, group="fields-save", exit_on_error=False)
    def _archive(self, f: fields.FieldRead) -> Outcome:
        with self.app.db.write() as session:
            done = fields.set_field_archived(session, kind=f.kind, key=f.key, archived=not f.archived,
                                             actor=self.app.actor, now=self.app.now())
        return Outcome(self._saved, done)

    def _saved(self, result: fields.FieldRead | None) -> None:
        if result is not None:
            state = "archived" if result.archived else "saved"
            self.notify(f"{result.kind}.{result.key} {state}", title="Custom fields")
        self.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
