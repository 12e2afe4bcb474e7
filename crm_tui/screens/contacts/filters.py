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
from crm_tui.errors import InvalidInput
from crm_tui.screens.saved_lists import RenameViewForm, SaveViewForm  # noqa: F401 - the contact list's forms
from crm_tui.services import fields, users, views

MINE, UNOWNED = "__mine__", "__unowned__"


def _custom_text(custom: dict | list | None) -> str:
    """A list's custom-field filters as the dialog's input shows them ("segment=smb; seats>=10")."""
    if not custom:
        return ""
    return "; ".join(f"{k}={v}" for k, v in custom.items()) if isinstance(custom, dict) else "; ".join(custom)


class ContactFilterForm(ReportsWorkerErrors, ModalScreen[dict | None]):
    """Lifecycle stages, owner ("mine" included), tag, source, contact age and archived."""

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
                yield Select([("Mine", MINE), ("No owner", UNOWNED)], value=self._owner_value(), allow_blank=True,
                             prompt="Anyone", id="owner", compact=True)
                yield Label("Tag")
                yield Input(value=f.get("tag") or "", placeholder="a tag, e.g. vip", id="tag", compact=True)
                yield Label("Source")
                yield Select([(s.value, s.value) for s in Source], value=f.get("source") or Select.NULL,
                             prompt="Any source", id="source", compact=True)
                yield Label("Custom fields")
                yield Input(value=_custom_text(f.get("custom")), id="custom", compact=True,
                            placeholder="e.g. segment=smb; seats>=10; renewal<2027-01-01")
                yield Checkbox("Never contacted", bool(f.get("never_contacted")), id="never", compact=True)
                yield Checkbox("Archived contacts instead", bool(f.get("archived")), id="archived", compact=True)
            yield Label("", id="form-error", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Label("^s apply · ^r reset · esc cancel", classes="form-hint")
                yield Button("Apply", variant="primary", id="apply", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _owner_value(self):
        f = self.filters
        if f.get("unowned"):
            return UNOWNED
        if f.get("owner_id") in (views.ME,) or (f.get("owner_id") is not None and f.get("owner_id") == self.app.actor.user_id):
            return MINE
        if f.get("owner_id") is not None:
            return str(f["owner_id"])
        return Select.NULL

    def on_mount(self) -> None:
        self.load_users()

    @work(thread=True, exclusive=True, group="filter-users", exit_on_error=False)
    def load_users(self) -> Outcome:
        with self.app.db.read() as session:
            found = users.list_users(session, include_inactive=False)
        return Outcome(self._show_users, found)

    def _show_users(self, found) -> None:
        owner = self.query_one("#owner", Select)
        current = owner.value
        owner.set_options([("Mine", MINE), ("No owner", UNOWNED),
                           *[(u.login, str(u.id)) for u in found if u.id != self.app.actor.user_id]])
        if current is not Select.NULL:
            owner.value = current

    def result(self) -> dict:
        out: dict = {}
        stages = self.query_one("#lifecycle", SelectionList).selected
        if stages:
            out["lifecycle"] = list(stages)
        owner = self.query_one("#owner", Select).value
        if owner == MINE:
            out["owner_id"] = views.ME
        elif owner == UNOWNED:
            out["unowned"] = True
        elif owner is not Select.NULL:
            out["owner_id"] = int(owner)
        if tag := self.query_one("#tag", Input).value.strip():
            out["tag"] = tag.lstrip("#").lower()
        if (source := self.query_one("#source", Select).value) is not Select.NULL:
            out["source"] = source
        if self.query_one("#never", Checkbox).value:
            out["never_contacted"] = True
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
        if result.get("custom"):
            self._check_custom(result)  # the typed fields' filters, read as the list will (services/fields.py)
        else:
            self.dismiss(result)

    @work(thread=True, exclusive=True, group="filter-check", exit_on_error=False)
    def _check_custom(self, result: dict) -> Outcome:
        try:
            with self.app.db.read() as session:
                fields.conditions(session, "contact", result["custom"])
        except InvalidInput as exc:
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
