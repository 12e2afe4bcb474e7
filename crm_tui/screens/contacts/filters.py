"""The contact list's filter form (the forms that save and rename a list are screens/saved_lists.py)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static

from crm_tui.models.enums import Lifecycle, Source
from crm_tui.screens.base import Outcome, ReportsWorkerErrors, SHELL_CSS
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.screens.saved_lists import RenameViewForm, SaveViewForm  # noqa: F401 - the contact list's forms
from crm_tui.services import fields, lookup, views
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import ME, NOBODY, Picker



def _custom_text(custom: dict | list | None) -> str:
    """A list's custom-field filters as the dialog's input shows them ("segment=smb; seats>=10")."""
    if not custom:
        return ""
    return "; ".join(f"{k}={v}" for k, v in custom.items()) if isinstance(custom, dict) else "; ".join(custom)


class ContactFilterForm(ReportsWorkerErrors, ModalScreen[dict | None]):
    """Lifecycle stages, owner ("mine" included), tag, source, contact age, do not email and archived."""

    CSS_PATH = SHELL_CSS

    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", id="filter.apply"),
        Binding("escape", "cancel", "Cancel", id="filter.cancel"),
        Binding("ctrl+r", "reset", "Reset", id="filter.reset"),
    ]

    def __init__(self, filters: dict) -> None:
        super().__init__()
        self.filters = dict(filters)

    def compose(self) -> ComposeResult:
        f = self.filters
        with Vertical(classes="form"):
            yield Static("[b]Filter contacts[/b]", classes="form-title")
            with VerticalScroll(classes="form-body"):
                yield Label("Lifecycle stage")
                yield SelectionList[str](*[(s.value, s.value, s.value in (f.get("lifecycle") or []))
                                           for s in Lifecycle], id="lifecycle")
                yield Label("Owner")
                yield Picker("user", id="owner", choice=self._owner_choice(), extras=(ME, NOBODY),
                             placeholder="me, nobody, or a name; empty: anyone")
                yield Label("Tag")
                yield Input(value=f.get("tag") or "", placeholder="a tag, e.g. vip", id="tag", compact=True)
                yield Label("Source")
                yield Select([(s.value, s.value) for s in Source], value=f.get("source") or Select.NULL,
                             prompt="Any source", id="source", compact=True)
                yield Label("Custom fields")
                yield Input(value=_custom_text(f.get("custom")), id="custom", compact=True,
                            placeholder="e.g. segment=smb; seats>=10; renewal<2027-01-01")
                yield Checkbox("Never contacted", bool(f.get("never_contacted")), id="never", compact=True)
                yield Checkbox("Marked do not email", bool(f.get("do_not_email")), id="do-not-email", compact=True)
                yield Checkbox("Archived contacts instead", bool(f.get("archived")), id="archived", compact=True)
            yield Label("", id="form-error", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Label("^s apply · ^r reset · esc cancel", classes="form-hint")
                yield Button("Apply", variant="primary", id="apply", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _owner_choice(self) -> Choice | None:
        f = self.filters
        if f.get("unowned"):
            return NOBODY
        if f.get("owner_id") is not None and f.get("owner_id") in (views.ME, self.app.actor.user_id):
            return ME
        if isinstance(f.get("owner_id"), int):
            return Choice("user", f["owner_id"], f"#{f['owner_id']}")  # its login is read on mount
        return None

    def on_mount(self) -> None:
        if (choice := self._owner_choice()) is not None and choice.id > 0:
            self.load_owner(choice.id)

    @work(thread=True, exclusive=True, group="filter-users", exit_on_error=False)
    def load_owner(self, user_id: int) -> Outcome:
        with self.app.db.read() as session:
            found = lookup.label(session, kind="user", record_id=user_id)
        return Outcome(self._show_owner, found)

    def _show_owner(self, found: Choice) -> None:
        picker = self.query_one("#owner-picker", Picker)
        if picker.chosen_id == found.id:  # not changed meanwhile
            picker.set_choice(found)

    def result(self) -> dict:
        out: dict = {}
        stages = self.query_one("#lifecycle", SelectionList).selected
        if stages:
            out["lifecycle"] = list(stages)
        owner = self.query_one("#owner-picker", Picker).value
        if owner == ME.id:
            out["owner_id"] = views.ME
        elif owner == NOBODY.id:
            out["unowned"] = True
        elif owner is not None:
            out["owner_id"] = owner  # typed and never chosen: read when applying
        if tag := self.query_one("#tag", Input).value.strip():
            out["tag"] = tag.lstrip("#").lower()
        if (source := self.query_one("#source", Select).value) is not Select.NULL:
            out["source"] = source
        if self.query_one("#never", Checkbox).value:
            out["never_contacted"] = True
        if self.query_one("#do-not-email", Checkbox).value:
            out["do_not_email"] = True
        if self.query_one("#archived", Checkbox).value:
            out["archived"] = True
        for key in ("not_contacted_days", "created_within_days"):
            if key in self.filters:
                out[key] = self.filters[key]
        if custom := [part.strip() for part in self.query_one("#custom", Input).value.split(";") if part.strip()]:
            out["custom"] = custom
        return out

    def action_apply(self) -> None:
        result = self.result()
        if result.get("custom") or isinstance(result.get("owner_id"), str) and result["owner_id"] != views.ME:
            self._check(result)
        else:
            self.dismiss(result)

    @work(thread=True, exclusive=True, group="filter-check", exit_on_error=False)
    def _check(self, result: dict) -> Outcome:
        """An owner typed and never chosen, by the one rule (lookup.resolve); the typed fields'
        filters, read as the list will (services/fields.py). Either refused as one line."""
        try:
            with self.app.db.read() as session:
                if isinstance(result.get("owner_id"), str) and result["owner_id"] != views.ME:
                    result["owner_id"] = lookup.resolve(session, kind="user", text=result["owner_id"]).id
                if result.get("custom"):
                    fields.conditions(session, "contact", result["custom"])
        except (InvalidInput, NotFound) as exc:
            return Outcome(self._refused, exc.message)
        return Outcome(self.dismiss, result)

    def _refused(self, message: str) -> None:
        self.query_one("#form-error", Label).update(message)

    def action_reset(self) -> None:
        self.dismiss({})

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()
