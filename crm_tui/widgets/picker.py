"""A form field that names a record (a company, contact, deal, user, pipeline or stage): type, and the
top matches from the search index show under the field; up/down and enter choose one.

Self-contained: it searches in its own exclusive thread worker (a newer keystroke makes an older
answer stale, and a stale answer is dropped), and reads through `services.lookup` only. Keys typed
in a burst all land in its Input; a search answer never rewrites what was typed. The form reads
`choice` (the record chosen, or None) and `text` (what was typed): typed text that was never
chosen is resolved when saving (`lookup.resolve`), never by a guess here.
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from crm_tui.services import lookup
from crm_tui.services.lookup import Choice
from crm_tui.services.validation import fold

SHOWN = 5
SMALL_KINDS = ("user", "pipeline", "stage")  # down on an empty field lists them

# choices that name no record, offered before the records found (a filter's "me", an owner's "nobody")
ME = Choice("user", -1, "me", "yourself")
NOBODY = Choice("user", -2, "nobody", "no owner")


class PickerMatches(OptionList, can_focus=False):
    """The matches under a picker: drawn over what is below (no layout shift), never focused, so
    Tab goes on to the next field as it would from a plain input. Its look is its own DEFAULT_CSS
    (a subclass's rules win over OptionList's): set from Picker's, the background came out as
    OptionList's in every app but the first of a process."""

    DEFAULT_CSS = """
    PickerMatches {
        display: none; overlay: screen; constrain: none inside;
        height: auto; max-height: 7; width: 1fr; border: none; padding: 0;
        background: $panel;
    }
    """


class Picker(Vertical, can_focus=False):
    """A record picker. `id` names its Input (so `#company` is where the text goes, as before)."""

    DEFAULT_CSS = """
    Picker { height: auto; width: 1fr; }
    Picker > Input { width: 1fr; }
    Picker.-open > PickerMatches { display: block; }
    """
    BINDINGS = [
        Binding("down", "move(1)", "Next match", show=False, id="picker.next"),
        Binding("up", "move(-1)", "Previous match", show=False, id="picker.previous"),
        Binding("escape", "close", "Close the matches", show=False, id="picker.close"),
    ]

    class Changed(Message):
        """A record was chosen (or the choice was cleared by editing the text)."""

        def __init__(self, picker: Picker, choice: Choice | None) -> None:
            super().__init__()
            self.picker, self.choice = picker, choice

        @property
        def control(self) -> Picker:
            return self.picker

    def __init__(self, kind: str, *, id: str, choice: Choice | None = None, placeholder: str = "",
                 within: int | None = None, open_only: bool = False, extras: tuple[Choice, ...] = (),
                 search: Callable[[str], list[Choice]] | None = None) -> None:
        super().__init__(id=f"{id}-picker", classes="picker")
        self.kind, self.within, self.open_only, self.extras = kind, within, open_only, extras
        self.choice = choice
        self.kept = choice  # the value the form holds (stored, or chosen): typed again, it is that one again
        self.input_id = id
        self.placeholder = placeholder or f"type to find a {kind}"
        self._search = search
        self._matches: list[Choice] = []
        self._asked = ""  # the text the newest search was for

    def compose(self) -> ComposeResult:
        yield Input(self.choice.label if self.choice else "", id=self.input_id, placeholder=self.placeholder,
                    compact=True)
        yield PickerMatches(id=f"{self.input_id}-matches")

    # -- what the form reads and sets

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def text(self) -> str:
        return self.input.value.strip()

    @property
    def chosen_id(self) -> int | None:
        return self.choice.id if self.choice is not None and self.text == self.choice.label else None

    @property
    def value(self) -> int | str | None:
        """What a form saves: the chosen record's id (an extra's negative id), None when empty, else
        the typed text, which the form resolves when saving (`lookup.resolve`; forms.pick_id)."""
        if (chosen := self.chosen_id) is not None:
            return chosen
        text = self.text
        extra = next((e for e in self.extras if fold(e.label) == fold(text)), None)
        return extra.id if extra is not None else (text or None)

    def set_choice(self, choice: Choice | None) -> None:
        """Show `choice` (a record opened elsewhere, or the stored one after a conflict)."""
        self.choice = self.kept = choice
        with self.input.prevent(Input.Changed):
            self.input.value = choice.label if choice else ""
        self._close()

    def set_within(self, within: int | None) -> None:
        self.within = within

    # -- typing

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        text = event.value.strip()
        if self.choice is not None and text != self.choice.label:
            self.choice = None
            self.post_message(self.Changed(self, None))
        elif self.choice is None and self.kept is not None and text == self.kept.label:
            # typed back as it was: that record again (a deactivated owner is never offered, yet stays)
            self.choice = self.kept
            self.post_message(self.Changed(self, self.kept))
        if not text or (self.choice is not None and text == self.choice.label):
            self._asked = ""
            self._close()
            return
        self._asked = text
        self._find(text)

    @work(thread=True, exclusive=True, group="picker", exit_on_error=False)
    def _find(self, text: str) -> tuple[str, list[Choice]]:
        extras = [e for e in self.extras if fold(e.label).startswith(fold(text))]
        if self._search is not None:
            return text, extras + self._search(text)
        app = self.app
        with app.db.read() as session:
            found = lookup.pick(session, kind=self.kind, query=text, limit=SHOWN, within=self.within,
                                now=app.now(), open_only=self.open_only)
        return text, extras + found

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        event.stop()  # a failed search shows no matches; saving then says what is wrong
        if event.state != WorkerState.SUCCESS or not isinstance(event.worker.result, tuple):
            return
        text, found = event.worker.result
        if text != self._asked or not self.input.has_focus:
            return  # typed on, or moved on, since
        self._show(found)

    def _show(self, found: list[Choice]) -> None:
        self._matches = found
        matches = self.query_one(PickerMatches)
        matches.clear_options()
        # names as typed, never markup
        matches.add_options([Option(Text.assemble(c.label, (f"  {c.detail}" if c.detail else "", "dim")))
                             for c in found])
        if found:
            matches.highlighted = 0
        self.set_class(bool(found), "-open")

    def _close(self) -> None:
        self._matches = []
        self.remove_class("-open")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open") and bool(self._matches)

    # -- choosing

    def action_move(self, step: int) -> None:
        if not self.is_open:
            if step > 0 and self.kind in SMALL_KINDS:
                # a short list: down shows its first choices, to pick without typing; or, with text
                # typed whose matches are not in yet (a burst), those matches (never others)
                shown = not self.text or (self.choice is not None and self.text == self.choice.label)
                self._asked = "" if shown else self.text
                self._find(self._asked)
                return
            raise SkipAction()  # up/down move between fields where the form binds them
        matches = self.query_one(PickerMatches)
        at = matches.highlighted or 0
        matches.highlighted = max(0, min(len(self._matches) - 1, at + step))

    def action_close(self) -> None:
        if not self.is_open:
            raise SkipAction()  # not ours: the form's escape (cancel)
        self._close()

    def _choose(self, index: int) -> None:
        choice = self._matches[index]
        self.set_choice(choice)
        self.post_message(self.Changed(self, choice))

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        """Enter takes the highlighted match; with no list open it goes to the form (next, or save)."""
        if self.is_open:
            event.stop()
            self._choose(self.query_one(PickerMatches).highlighted or 0)

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option_index)
        self.input.focus()

    def on_descendant_blur(self) -> None:
        self._close()
