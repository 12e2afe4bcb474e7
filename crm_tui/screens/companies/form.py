"""The company form: a new company, or an edit of one, on the forms' one base (screens/forms.py
FormScreen: its save worker, error line, saving state and duplicate offer), with the conflict
handling of screens/conflict.py and a reload of the stored company after a conflict."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, Label, TextArea

from crm_tui.models.schemas import CompanyRead
from crm_tui.screens.base import Outcome
from crm_tui.screens.conflict import put_pick
from crm_tui.screens.forms import CustomFieldsSection, FormConflicts, FormScreen, pick_id, picked, user_choice, user_picker
from crm_tui.services import companies, fields
from crm_tui.widgets.picker import Picker
from crm_tui.services.common import Actor

CSS = "companies.tcss"
TEXT_FIELDS = ("name", "domain", "industry", "size", "address")


def _field(label: str, widget: Widget) -> Horizontal:
    return Horizontal(Label(label, classes="company-field-label"), widget, classes="company-field")


class CompanyForm(CustomFieldsSection, FormConflicts, FormScreen[CompanyRead | None]):
    """New company, or edit one. An edit sends only the fields changed, with the version it was
    read at: if someone saved meanwhile, changes to different fields merge and the same field asks
    (screens/conflict.py); going back from that leaves it unsaved and offers to reload. It never
    overwrites silently."""

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {
        "name": "Name", "domain": "Domain", "industry": "Industry", "size": "Size", "address": "Address",
        "owner_id": "Owner", "notes": "Notes",
    }

    CSS_PATH = CSS
    BINDINGS = [
        Binding("ctrl+r", "reload", "Reload", show=False, id="company_form.reload"),
    ]
    FORM_ID = "company-form"
    ENTER_SAVES = False
    CONFLICT_HINT = "ctrl+r reload theirs (drops your edits)"

    def __init__(self, company: CompanyRead | None = None) -> None:
        super().__init__()
        self.company = company
        self.conflicted = False

    # -- layout

    def form_title(self) -> str:
        return f"Edit company · {self.company.name}" if self.company else "New company"

    def compose_fields(self) -> ComposeResult:
        yield _field("Name", Input(id="company-name", compact=True))
        yield _field("Domain", Input(id="company-domain", placeholder="e.g. example.com", compact=True))
        yield _field("Industry", Input(id="company-industry", compact=True))
        yield _field("Size", Input(id="company-size", placeholder="e.g. 11-50", compact=True))
        yield _field("Address", Input(id="company-address", compact=True))
        yield _field("Owner", self._owner_picker())
        yield _field("Notes", TextArea(id="company-notes", compact=True, soft_wrap=True))
        yield from self.compose_custom_fields()

    CUSTOM_KIND = "company"

    def custom_record_id(self) -> int | None:
        return self.company.id if self.company is not None else None

    def custom_line(self, label: str, widget: Widget) -> Widget:
        return _field(label, widget)

    def compose_buttons(self) -> ComposeResult:
        yield Button("Reload", id=self.part("reload"), compact=True)
        yield from super().compose_buttons()

    def _owner_picker(self) -> Picker:
        """Holds the current owner (a new company's: you), a deactivated one too."""
        c, actor = self.company, self.app.actor
        owner_id, login = (c.owner_id, c.owner_login) if c else (actor.user_id, actor.login)
        return user_picker("company-owner", owner_id, login)

    def on_mount(self) -> None:  # FormScreen.on_mount runs too (it loads the team)
        if self.company is not None:
            self._fill(self.company)
        self.query_one(f"#{self.part('reload')}").display = False
        self.query_one("#company-name", Input).focus()
        self.load_custom_fields()

    def _fill(self, company: CompanyRead) -> None:
        for name in TEXT_FIELDS:
            self.query_one(f"#company-{name}", Input).value = getattr(company, name) or ""
        self.query_one("#company-notes", TextArea).text = company.notes or ""
        self.query_one("#company-owner-picker", Picker).set_choice(user_choice(company.owner_id, company.owner_login))

    def hint(self) -> str:
        return self.CONFLICT_HINT if self.conflicted else self.HINT

    # -- reading the form

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: self.query_one(f"#company-{name}", Input).value for name in TEXT_FIELDS}
        values["notes"] = self.query_one("#company-notes", TextArea).text
        values["owner_id"] = picked(self, "company-owner")
        values["_custom"] = self.custom_changes() if self.company is not None else (self.custom_values(), [])
        return values

    def changes(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """The fields that differ from the company as it was read (blank and None are the same)."""
        values, c = values if values is not None else self.values(), self.company
        changed = {name: value for name, value in values.items()
                   if name not in ("owner_id", "_custom") and value.strip() != (getattr(c, name) or "")}
        if values["owner_id"] != c.owner_id:
            changed["owner_id"] = values["owner_id"]
        return changed

    # -- saving (FormScreen runs write() in its worker and reports what comes of it)

    def action_save(self) -> None:
        if self.company is not None and not self.saving and not self.changes() and not any(self.custom_changes()):
            self.dismiss(None)  # nothing changed: nothing to write
            return
        super().action_save()

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> CompanyRead:
        custom_set, custom_remove = values.pop("_custom")
        values["owner_id"] = pick_id(session, "user", values["owner_id"])
        if self.company is None:
            return companies.create_company(session, data=values, actor=actor, now=now,
                                            allow_duplicate=self.allow_duplicate, custom=custom_set)
        changes = self.changes(values)
        company = companies.update_company(session, company_id=self.company.id, changes=changes,
                                           actor=actor, version=self.company.version, now=now,
                                           allow_duplicate=self.allow_duplicate)
        if custom_set or custom_remove:
            fields.set_values(session, kind="company", record_id=company.id, set_=custom_set, remove=custom_remove,
                              actor=actor, now=now, version=None if changes else self.company.version)
            company = companies.get_company(session, company_id=company.id)
        return company

    @on(Button.Pressed, "#company-form-reload")
    def _reload_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_reload()

    def action_reload(self) -> None:
        if self.company is not None and not self.saving:
            self._reload(self.app, self.company.id)

    # -- what the conflict resolution needs (screens/conflict.py)

    def conflict_rejected(self, message: str) -> None:
        self.set_saving(False)
        self.conflicted = True
        self.query_one(f"#{self.part('reload')}").display = True
        self.show_error(f"{message[:1].upper()}{message[1:]}.")
        self.query_one(f"#{self.part('hint')}", Label).update(self.CONFLICT_HINT)
        self.notify(message, title="Changed by someone else", severity="warning", timeout=8)

    def opened_record(self) -> CompanyRead:
        return self.company

    def record_values(self, company: CompanyRead) -> dict[str, Any]:
        values = {name: getattr(company, name) or "" for name in (*TEXT_FIELDS, "notes")}
        return {**values, "owner_id": company.owner_id}

    def form_values(self) -> dict[str, Any]:
        return {name: value.strip() if isinstance(value, str) else value for name, value in self.values().items()
                if name != "_custom"}

    def put_values(self, values: dict[str, Any], record: CompanyRead) -> None:
        for name in TEXT_FIELDS:
            self.query_one(f"#company-{name}", Input).value = values[name]
        self.query_one("#company-notes", TextArea).text = values["notes"]
        put_pick(self.query_one("#company-owner-picker", Picker), values["owner_id"], record.owner_login)

    def fetch_current(self, session) -> CompanyRead:
        return companies.get_company(session, company_id=self.company.id)

    def rebase(self, record: CompanyRead) -> None:
        self.company = record
        self.query_one(f"#{self.part('title')}", Label).update(self.form_title())

    def _reloaded(self, company: CompanyRead) -> None:
        self.company = company
        self.conflicted = False
        self._fill(company)
        self.query_one(f"#{self.part('hint')}", Label).update(self.HINT)
        self.query_one(f"#{self.part('reload')}").display = False
        self.query_one(f"#{self.part('title')}", Label).update(self.form_title())
        self.show_error(f"Reloaded version {company.version}; make your change again.")

    @work(thread=True, exclusive=True, group="company-form-load", exit_on_error=False)
    def _reload(self, app: App, company_id: int) -> Outcome:
        with app.db.read() as session:
            company = companies.get_company(session, company_id=company_id)
        return Outcome(self._reloaded, company)
