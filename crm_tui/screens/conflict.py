"""Edit conflicts, field by field: a three-way compare of what a form opened, what a teammate saved
and what the user typed; changes to different fields merge by themselves, the same field asks.

`ResolvesConflicts` is mixed into a form over a stored record (contact, company, deal). On a stale
save (Conflict) it reads the record as it is now and compares, per field, the value the form opened
with, theirs and yours. With no field changed by both, the form takes their changes, keeps yours and
saves again on the current version; otherwise `FieldConflictScreen` shows the clashing fields and the
user keeps theirs, takes yours, or chooses per field. Nothing is ever overwritten silently: a save
always names the version it was based on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Label, Select, Static
from textual.widgets.select import InvalidSelectValueError

from crm_tui.compat import select_options
from crm_tui.errors import Conflict
from crm_tui.screens.base import Outcome
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import Picker

YOURS, THEIRS = "yours", "theirs"
BLANK = "(blank)"


# --- the three-way compare (no widgets) ----------------------------------------------------------


@dataclass(frozen=True)
class ThreeWay:
    """Which fields each side changed relative to what the form opened, and where they clash."""

    mine: tuple[str, ...]
    theirs: tuple[str, ...]
    clashes: tuple[str, ...]


def three_way(opened: dict[str, Any], theirs: dict[str, Any], mine: dict[str, Any]) -> ThreeWay:
    """A field clashes when both sides changed it, to different values (the same edit is no clash)."""
    names = list(opened)
    mine_changed = tuple(n for n in names if mine.get(n) != opened[n])
    their_changed = tuple(n for n in names if theirs.get(n) != opened[n])
    clashes = tuple(n for n in mine_changed if n in their_changed and mine.get(n) != theirs.get(n))
    return ThreeWay(mine_changed, their_changed, clashes)


def resolve(opened: dict[str, Any], theirs: dict[str, Any], mine: dict[str, Any],
            choices: dict[str, str] | None = None) -> dict[str, Any]:
    """The values to show and save: theirs, with each field I changed on top, except the clashing
    fields whose choice is "theirs"."""
    compare, choices = three_way(opened, theirs, mine), choices or {}
    out = dict(theirs)
    for name in compare.mine:
        if name not in compare.clashes or choices.get(name, YOURS) == YOURS:
            out[name] = mine[name]
    return out


def shown(value: Any, names: dict[Any, str] | None = None) -> str:
    """A form value as one line of text (a user id by its login when known)."""
    if names is not None and value is not None and not isinstance(value, str):
        return names.get(value, f"#{value}")
    if value is None or value == "" or value == []:
        return BLANK
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return " ".join(str(value).split())


@dataclass(frozen=True)
class Clash:
    """One field both sides changed: what the form opened with, theirs, and yours (as text)."""

    name: str
    label: str
    opened: str
    theirs: str
    yours: str


# --- the dialog ------------------------------------------------------------------------------------


class KeepChoice(Static, can_focus=True):
    """Which side of one field to keep: space or the arrows flip it."""

    BINDINGS = [
        Binding("space,left,right", "flip", "Flip", show=False, id="clash.flip"),
        Binding("Y", "keep('yours')", "Yours", show=False, id="clash.keep_yours"),
        Binding("T", "keep('theirs')", "Theirs", show=False, id="clash.keep_theirs"),
    ]
    keep: reactive[str] = reactive(YOURS)

    def render(self) -> str:
        return f"‹{self.keep:^6}›"

    def action_flip(self) -> None:
        self.keep = THEIRS if self.keep == YOURS else YOURS

    def action_keep(self, side: str) -> None:
        self.keep = side

    def on_click(self) -> None:
        self.action_flip()


class FieldConflictScreen(ModalScreen[dict[str, str] | None]):
    """The fields a teammate and you both changed: per field the value you opened, theirs and
    yours. y keeps all of yours, t takes all of theirs, enter applies the choice made per field
    (space flips the focused one), esc goes back to the form with nothing saved."""

    CSS_PATH = "conflict.tcss"
    BINDINGS = [
        Binding("y", "all('yours')", "Keep yours", id="clash.yours"),
        Binding("t", "all('theirs')", "Take theirs", id="clash.theirs"),
        Binding("enter,ctrl+s", "apply", "Apply choices", id="clash.apply"),
        Binding("escape", "back", "Back to form", id="clash.back"),
    ]

    def __init__(self, clashes: Iterable[Clash], message: str = "") -> None:
        super().__init__()
        self.clashes = list(clashes)
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="clash-dialog"):
            yield Label("Changed by someone else — the same fields as you", id="clash-title")
            if self.message:
                yield Label(self.message, id="clash-message", markup=False)  # it names the record as typed
            with Horizontal(id="clash-head"):
                for text, classes in (("Field", "clash-field"), ("You opened", "clash-value"),
                                      ("Theirs", "clash-value"), ("Yours", "clash-value"),
                                      ("Keep", "clash-keep-head")):
                    yield Label(text, classes=classes)
            with VerticalScroll(id="clash-rows", can_focus=False):
                for clash in self.clashes:
                    with Horizontal(classes="clash-row", id=f"clash-row-{clash.name}"):
                        yield Label(clash.label, classes="clash-field")
                        for value in (clash.opened, clash.theirs, clash.yours):
                            yield Label(value, classes="clash-value", markup=False)
                        yield KeepChoice(id=f"keep-{clash.name}", classes="clash-keep")
            yield Label("y keep all yours · t take all theirs · space flips a field, enter applies · "
                        "esc back to the form", id="clash-hint")

    def on_mount(self) -> None:
        choices = list(self.query(KeepChoice))
        if choices:
            choices[0].focus()

    def choices(self) -> dict[str, str]:
        return {c.name: self.query_one(f"#keep-{c.name}", KeepChoice).keep for c in self.clashes}

    def action_all(self, side: str) -> None:
        self.dismiss({c.name: side for c in self.clashes})

    def action_apply(self) -> None:
        self.dismiss(self.choices())

    def action_back(self) -> None:
        self.dismiss(None)


# --- the form side -----------------------------------------------------------------------------------


def put_select(select: Select, value: Any, label: str | None = None) -> None:
    """Show a value in a Select, adding it as an option when it is not one yet (a teammate's pick
    of an owner this form did not list)."""
    if value is None:
        try:
            select.clear()
        except InvalidSelectValueError:
            pass
        return
    options = [(prompt, v) for prompt, v in select_options(select) if v is not Select.NULL]
    if all(v != value for _, v in options):
        select.set_options([*options, (label or f"#{value}", value)])
    select.value = value


def put_pick(picker: Picker, value: Any, label: str | None = None) -> None:
    """Show a value in a record picker: a record's id by its label (a teammate's pick this form
    never offered), text typed and not yet chosen as typed."""
    if isinstance(value, str):
        picker.set_choice(None)
        picker.input.value = value
        return
    picker.set_choice(Choice(picker.kind, value, label or f"#{value}") if value is not None else None)


class ResolvesConflicts:
    """Mixed into a form over a stored record. The form gives:

    - CONFLICT_FIELDS: {field: label}, in the form's order, of the fields it edits;
    - `opened_record()`: the record the form's edits are based on;
    - `record_values(record)`: that record as form values ({field: value});
    - `form_values()`: what the form holds now, in the same shape;
    - `put_values(values, record)`: show those values in the widgets;
    - `fetch_current(session)`: read the record as it is now;
    - `rebase(record)`: base the form on that record (its version is what the next save names);
    - `save_again()`, `conflict_rejected(message)`, `conflict_took_theirs(record)`.
    """

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {}
    OWNER_FIELD: ClassVar[str] = "owner_id"

    def resolve_conflict(self, error: Conflict) -> None:
        self._read_current(self.app, error)

    @work(thread=True, exclusive=True, group="conflict-read", exit_on_error=False)
    def _read_current(self, app: App, error: Conflict) -> Outcome:
        try:
            with app.db.read() as session:
                current = self.fetch_current(session)
        except Exception as exc:  # noqa: BLE001 - the record may have gone meanwhile
            message = getattr(exc, "message", f"{type(exc).__name__}: {exc}")
            return Outcome(self.conflict_rejected, f"not saved: {error.message}; {message}")
        else:
            return Outcome(self._compare, error, current)

    def _compare(self, error: Conflict, current: Any) -> None:
        opened_record = self.opened_record()
        opened, theirs = self.record_values(opened_record), self.record_values(current)
        mine = self.form_values()
        compare = three_way(opened, theirs, mine)
        if not compare.clashes:
            merged = [self.CONFLICT_FIELDS.get(n, n) for n in compare.theirs]
            if merged:
                self.notify(f"Merged with their changes to {', '.join(merged)}.", title="Changed meanwhile")
            self._apply(current, resolve(opened, theirs, mine))
            return
        names = self._user_names(opened_record, current)
        clashes = [Clash(name, self.CONFLICT_FIELDS.get(name, name),
                         *(shown(v[name], names if name == self.OWNER_FIELD else None) for v in (opened, theirs, mine)))
                   for name in compare.clashes]

        def chosen(choices: dict[str, str] | None) -> None:
            if choices is None:
                self.conflict_rejected(f"not saved: {error.message}")
            else:
                self._apply(current, resolve(opened, theirs, mine, choices))

        # what happened, then what the dialog's keys do: not the CLI's "reload it and apply again"
        self.app.push_screen(FieldConflictScreen(clashes, f"{error.what_happened} Choose which value to keep "
                                                 "for each field below."), chosen)

    def _apply(self, current: Any, values: dict[str, Any]) -> None:
        self.put_values(values, current)
        self.rebase(current)
        if values == self.record_values(current):
            self.conflict_took_theirs(current)
        else:
            self.save_again()

    def _user_names(self, *records: Any) -> dict[Any, str]:
        names: dict[Any, str] = {}
        for picker in self.query(Picker):
            if picker.kind == "user" and picker.choice is not None:
                names[picker.choice.id] = picker.choice.label
        for record in records:
            owner = getattr(record, self.OWNER_FIELD, None)
            if owner is not None:
                names[owner] = getattr(record, "owner_login", None) or f"#{owner}"
        return names
