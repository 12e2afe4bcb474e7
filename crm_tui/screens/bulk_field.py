"""The bulk dialog's "Set a field" step: the kind's fields (its settable columns and its typed
custom fields), then a value input fit for the field's type: a list of its choices for a choice,
yes/no or lifecycle, a number input for a number or an amount, a text line with the type's example
otherwise. A typed value is read as the field reads it (services/fields.parse_value) before the
dialog closes, so a bad one is said on the hint line and nothing is sent. Dismisses with the
"FIELD=VALUE" text `bulk_edit.parse_set` reads (a custom field as "custom.KEY=VALUE")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from crm_tui.screens.base import Outcome, ReportsWorkerErrors
from crm_tui.services.start import load_orm

NOUNS = {"contact": "contacts", "company": "companies", "deal": "deals"}
EMPTY = "\x00empty"  # the choice that empties a field
# what the value line asks for, by type
ASK = {"text": "text", "url": "web address, e.g. https://example.com", "number": "a number",
       "money": "an amount, e.g. 1234.50", "date": "a date, e.g. 2026-12-31 or +30d",
       "multi": "choices, separated by commas"}


@dataclass(frozen=True)
class FieldChoice:
    """One field the dialog offers: `name` as parse_set reads it, its label, its type's words, the
    choices to pick from (None: typed in), and the custom field itself (None for a column)."""

    name: str
    label: str
    type_label: str
    choices: tuple[str, ...] | None = None
    required: bool = False
    custom: object = None
    ask: str = "text"
    numeric: bool = False
    extra: dict = field(default_factory=dict)


def settable_fields(session, kind: str) -> list[FieldChoice]:
    """The fields of `kind` the bulk change may set: its columns (not owner and stage, which have
    their own lines), then its typed custom fields in their order."""
    load_orm()
    from crm_tui.models import Lifecycle, Source
    from crm_tui.services import bulk_edit, fields

    out = []
    for name, label in bulk_edit.SPECS[kind].fields.items():
        if name in ("owner", "stage"):
            continue
        if name == "lifecycle":
            out.append(FieldChoice(name, label, "choice", tuple(s.value for s in Lifecycle), required=True))
        elif name == "source":
            out.append(FieldChoice(name, label, "choice", tuple(s.value for s in Source)))
        else:
            out.append(FieldChoice(name, label, "text"))
    for f in fields.field_map(session, kind).values():
        choices = f.offered if f.type == "choice" else ("yes", "no") if f.type == "yesno" else None
        out.append(FieldChoice(f"custom.{f.key}", f.label, f.type_label, choices, f.required, f,
                               ASK.get(f.type, "text"), f.type in ("number", "money")))
    return out


class BulkFieldScreen(ReportsWorkerErrors, ModalScreen[str | None]):
    """Pick a field, then its value; Enter sets it on the marks, Esc goes back a step."""

    CSS_PATH = str(Path(__file__).with_name("bulk_field.tcss"))
    AUTO_FOCUS = "#bulk-fields"
    BINDINGS = [Binding("escape", "back", "Back", id="bulk_field.back")]

    def __init__(self, kind: str, marked: int | None) -> None:
        super().__init__()
        self.kind = kind
        self.marked = marked
        self.fields: list[FieldChoice] = []
        self.chosen: FieldChoice | None = None

    def compose(self) -> ComposeResult:
        count = f"{self.marked:,}" if self.marked is not None else "all"
        with Vertical(id="bulk-field-dialog"):
            yield Label(f"Set a field on {count} marked {NOUNS[self.kind]}", id="bulk-field-title")
            yield OptionList(id="bulk-fields")
            yield OptionList(id="bulk-field-choices")
            yield Input(id="bulk-field-value", placeholder="choose a field above", compact=True, disabled=True)
            yield Label("Enter sets it on every marked record you may change.", id="bulk-field-hint")

    def on_mount(self) -> None:
        self.query_one("#bulk-field-choices").display = False
        self._load()

    @work(thread=True, exclusive=True, group="bulk-fields", exit_on_error=False)
    def _load(self) -> Outcome:
        with self.app.db.read() as session:
            found = settable_fields(session, self.kind)
        return Outcome(self._loaded, found)

    def _loaded(self, found: list[FieldChoice]) -> None:
        self.fields = found
        options = self.query_one("#bulk-fields", OptionList)
        options.clear_options()
        if not found:
            options.add_option(Option(f"No {self.kind} fields to set: add them in Settings → Fields",
                                      disabled=True))
            return
        options.add_options([Option(f"{f.label}  ({f.type_label}{', required' if f.required else ''})", id=f.name)
                             for f in found])
        options.highlighted = 0

    def _hint(self, text: str) -> None:
        self.query_one("#bulk-field-hint", Label).update(text)

    @on(OptionList.OptionSelected, "#bulk-fields")
    def _field_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = next((f for f in self.fields if f.name == event.option.id), None)
        if chosen is None:
            return
        self.chosen = chosen
        self.query_one("#bulk-fields").display = False
        if chosen.choices is not None:
            picks = self.query_one("#bulk-field-choices", OptionList)
            picks.clear_options()
            picks.add_options([Option(c, id=c) for c in chosen.choices])
            if not chosen.required:
                picks.add_option(Option("(empty)", id=EMPTY))
            picks.display = True
            self.query_one("#bulk-field-value").display = False
            picks.highlighted = 0
            picks.focus()
            self._hint(f"{chosen.label}: pick one; Esc for another field.")
            return
        box = self.query_one("#bulk-field-value", Input)
        box.disabled, box.value = False, ""
        box.type = "number" if chosen.numeric else "text"
        box.placeholder = f"{chosen.label}: {chosen.ask}"
        box.focus()
        empty = "" if chosen.required else " (empty clears it)"
        self._hint(f"{chosen.label} ({chosen.type_label}): type the value{empty}; Esc for another field.")

    @on(OptionList.OptionSelected, "#bulk-field-choices")
    def _choice_picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.chosen is not None:
            self.dismiss(f"{self.chosen.name}={'' if event.option.id == EMPTY else event.option.id}")

    @on(Input.Submitted, "#bulk-field-value")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        chosen = self.chosen
        if chosen is None:
            return
        value = event.value.strip()
        if not value and chosen.required:
            self._hint(f"{chosen.label} is required: type a value.")
            return
        if chosen.custom is not None and value:
            from crm_tui.errors import InvalidInput
            from crm_tui.services import fields

            try:
                fields.parse_value(chosen.custom, value, allow_retired=False)
            except InvalidInput as error:
                self._hint(str(error))
                return
        self.dismiss(f"{chosen.name}={value}")

    def action_back(self) -> None:
        if self.chosen is None:
            self.dismiss(None)
            return
        self.chosen = None
        box = self.query_one("#bulk-field-value", Input)
        box.disabled, box.value, box.placeholder, box.display = True, "", "choose a field above", True
        self.query_one("#bulk-field-choices").display = False
        fields_list = self.query_one("#bulk-fields")
        fields_list.display = True
        fields_list.focus()
        self._hint("Enter sets it on every marked record you may change.")
