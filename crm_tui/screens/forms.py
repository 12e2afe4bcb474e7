"""The app's modal forms (contact, activity, task, deal, tags, owner) and the confirm dialog (edit
conflicts are resolved field by field: screens/conflict.py).

Each form reads what it needs and saves in thread workers, through the service layer only, and
dismisses with what the service returned (None when cancelled). The host app provides `db`
(a `crm_tui.db.Database`), `actor` (a `services.common.Actor`) and `now()` (aware UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, TextArea

from crm_tui.screens.base import Outcome, ReportsWorkerErrors
from crm_tui.clock import get_zone, in_zone
from crm_tui.errors import Conflict, CrmError, Duplicate, InvalidInput, NotFound, UnknownCompany
from crm_tui.models.enums import Lifecycle, Source
from crm_tui.models.schemas import ActivityRead, ContactRead, DealRead, TaskRead, UserRead
from crm_tui.screens.conflict import ResolvesConflicts, put_pick, put_select
from crm_tui.services import activities, companies, contacts, deals, fields, lookup, pipelines, tasks
from crm_tui.services.common import Actor
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import Picker

T = TypeVar("T")
CSS = str(Path(__file__).with_name("forms.tcss"))  # absolute: forms are subclassed in every folder
NO_DIRECTION = "none"
LOGGABLE_KINDS = tuple(kind.value for kind in activities.LOGGABLE)


# --- small helpers -------------------------------------------------------------------------


def _field(label: str, widget: Widget) -> Horizontal:
    """One line of a form: a fixed-width label, then the widget."""
    return Horizontal(Label(label, classes="field-label"), widget, classes="field")


def _input(id_: str, value: str | None = "", placeholder: str = "", **kwargs: Any) -> Input:
    return Input(value or "", id=id_, placeholder=placeholder, compact=True, **kwargs)


def _split(text: str) -> list[str]:
    """ "a, b,,c " -> ["a", "b", "c"] """
    return [part.strip() for part in text.split(",") if part.strip()]


def _selected(select: Select) -> Any | None:
    return None if select.is_blank() else select.value


def _choices(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value.replace("_", " "), value) for value in values]


def _user_label(user: UserRead) -> str | Text:
    """The login (it holds no markup: letters, digits, '.', '_', '-', '@'), with the person's name
    when it says more; a name is shown as typed (a Text: an OptionList would read a str as markup)."""
    return user.login if not user.name or user.name.lower() == user.login else Text(f"{user.login} ({user.name})")


def _minutes(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"duration {text!r}: give whole minutes, e.g. 15")
    return int(text)


def _company_id(session, name: str, actor: Actor, now: datetime, *, create: str | None = None) -> int | None:
    """The company typed into a form, by the one naming rule (companies.find_or_create_company).
    An unknown name raises UnknownCompany, so the form can ask; it is added (in the caller's
    transaction) only when `create` is that very name, which the person agreed to add."""
    name = name.strip()
    if not name:
        return None
    return companies.find_or_create_company(session, name=name, create=create == name, actor=actor, now=now).id


def open_existing(app: App, error: Duplicate) -> None:
    """Show the record a Duplicate names (its contact or account view)."""
    app.open_record("contact" if error.entity == "contact" else "company", error.existing_id)


def offer_existing(form, error: Duplicate, rejected) -> None:
    """A new record repeats an existing one: say so (`rejected`, the form's error line), then offer
    to open the existing one or to save anyway (the form's `allow_duplicate`)."""
    rejected(error.found)  # the app's own choices follow, not the command line's advice

    def chosen(answer: str | None) -> None:
        if answer == "open":
            form.dismiss(None)
            open_existing(form.app, error)
        elif answer == "save":
            form.allow_duplicate = True
            form.action_save()

    form.app.push_screen(DuplicateScreen(error), chosen)


class DuplicateScreen(ModalScreen[str | None]):
    """A new record repeats an existing one: open that one (o), save anyway (s), or go back (esc)."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#duplicate-open"
    BINDINGS = [
        Binding("o", "answer('open')", "Open it", id="duplicate.open"),
        Binding("s", "answer('save')", "Save anyway", id="duplicate.save"),
        Binding("escape", "answer(None)", "Back", id="duplicate.back"),
    ]

    def __init__(self, error: Duplicate) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        e = self.error
        with Vertical(id="dialog", classes="dialog"):
            # it names records as typed: never markup
            yield Label(f"{e.found}.\nOpen #{e.existing_id} {e.existing_label}?", id="dialog-question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(Text(f"Open #{e.existing_id} (o)"), id="duplicate-open", variant="primary",
                             compact=True)
                yield Button("Save anyway (s)", id="duplicate-save", compact=True)
                yield Button("Back (esc)", id="duplicate-back", compact=True)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss({"duplicate-open": "open", "duplicate-save": "save"}.get(event.button.id))


# --- the shared form frame -------------------------------------------------------------------


class FormScreen(ReportsWorkerErrors, ModalScreen[T]):
    """A titled dialog: fields in a scrolling body, an error line, and Save / Cancel.

    Subclasses give `compose_fields()`, `values()` (read the widgets, on the UI thread) and
    `write(session, values, actor=, now=)` (runs in a worker thread: no widgets there). Forms
    that need reference data (users, pipelines) set LOADS and give `read()` and `loaded()`.
    A form with its own stylesheet names its parts with its own FORM_ID ("company-form": the
    dialog is #company-form-dialog, the error line #company-form-error, and so on).
    """

    CSS_PATH = CSS
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]
    FORM_ID: ClassVar[str] = "form"
    LOADS: ClassVar[bool] = False
    ENTER_SAVES: ClassVar[bool] = True  # Enter in the last input saves (else it only moves on)
    HINT: ClassVar[str] = "tab next · ctrl+s save · esc cancel"

    def __init__(self) -> None:
        super().__init__()
        self.saving = False
        self.allow_duplicate = False  # the person chose "save anyway" for a duplicate
        self.create_company: str | None = None  # the unknown company name they agreed to add

    # -- layout

    def form_title(self) -> str:
        return ""

    def compose_fields(self) -> ComposeResult:
        yield from ()

    def part(self, name: str) -> str:
        """The id of one of the form's parts ("error": "form-error")."""
        return f"{self.FORM_ID}-{name}"

    def compose_buttons(self) -> ComposeResult:
        yield Button("Save", id=self.part("save"), variant="primary", compact=True)
        yield Button("Cancel", id=self.part("cancel"), compact=True)

    def compose(self) -> ComposeResult:
        with Vertical(id=self.part("dialog")):
            # a title names the record and an error quotes what was typed: shown as typed, never as markup
            yield Label(self.form_title(), id=self.part("title"), markup=False)
            with VerticalScroll(id=self.part("body"), can_focus=False):
                yield from self.compose_fields()
            yield Label("", id=self.part("error"), markup=False)
            with Horizontal(id=self.part("footer")):
                yield Label(self.hint(), id=self.part("hint"))
                yield from self.compose_buttons()

    def on_mount(self) -> None:
        if self.LOADS:
            self._load(self.app)

    # -- what subclasses fill in

    def values(self) -> dict[str, Any]:
        return {}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> T:
        raise NotImplementedError

    def read(self, session, actor: Actor) -> Any:
        return None

    def loaded(self, data: Any) -> None:
        pass

    # -- keys and buttons

    @on(Input.Submitted)
    def _enter(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; in the last input it saves."""
        event.stop()
        if self.ENTER_SAVES and event.input is list(self.query(Input))[-1]:
            self.action_save()
        else:
            self.focus_next()

    @on(Button.Pressed)
    def _button_pressed(self, event: Button.Pressed) -> None:
        action = {self.part("save"): self.action_save, self.part("cancel"): self.action_cancel}.get(event.button.id)
        if action is not None:
            event.stop()
            action()

    def action_cancel(self) -> None:
        if not self.saving:  # the write is under way; its result decides what happens
            self.dismiss(None)

    def confirm_before_save(self, values: dict[str, Any], now: datetime) -> str | None:
        """A question to ask before saving (a due date in the past), or None to save straight away."""
        return None

    def action_save(self) -> None:
        if self.saving:
            return
        values, now = self.values(), self.app.now()
        if question := self.confirm_before_save(values, now):
            self.app.push_screen(ConfirmScreen(question, "Save"),
                                 lambda yes: self._start_save(values, now) if yes else None)
            return
        self._start_save(values, now)

    def _start_save(self, values: dict[str, Any], now: datetime) -> None:
        if self.saving:
            return
        self.set_saving(True)
        self.show_error("")
        self._save(self.app, values, now)

    # -- feedback

    def hint(self) -> str:
        """The keys shown in the footer while the form is not saving."""
        return self.HINT

    def set_saving(self, saving: bool) -> None:
        self.saving = saving
        self.query_one(f"#{self.part('save')}", Button).disabled = saving
        self.query_one(f"#{self.part('hint')}", Label).update("saving…" if saving else self.hint())

    def show_error(self, message: str) -> None:
        error = self.query_one(f"#{self.part('error')}", Label)
        error.update(message)
        error.set_class(bool(message), "-shown")

    def report_rejected(self, message: str) -> None:
        """Validation failed: say why under the fields; the user's input stays as typed."""
        self.set_saving(False)
        self.show_error(message)

    def report_conflict(self, error: Conflict) -> None:
        self.report_rejected(error.message)

    def report_duplicate(self, error: Duplicate) -> None:
        """The record exists already: say so, and offer to open it or to save anyway."""
        offer_existing(self, error, self.report_rejected)

    def report_unknown_company(self, error: UnknownCompany) -> None:
        """No company has the name typed: add it only when the person says so."""
        name = error.name.strip()
        self.report_rejected(f"No company {name!r}.")

        def answer(yes: bool | None) -> None:
            if yes:
                self.create_company = name
                self.action_save()

        self.app.push_screen(ConfirmScreen(f"No company {name!r}. Create it?", "Create"), answer)

    def report_failure(self, error: Exception, title: str = "Could not save") -> None:
        self.set_saving(False)
        message = error.message if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
        self.notify(message, title=title, severity="error")

    def report_saved(self, result: T) -> None:
        self.saving = False
        self.dismiss(result)

    # -- workers

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _save(self, app: App, values: dict[str, Any], now: datetime) -> Outcome:
        try:
            with app.db.write() as session:
                result = self.write(session, values, actor=app.actor, now=now)
        except Conflict as exc:
            return Outcome(self.report_conflict, exc)
        except Duplicate as exc:
            return Outcome(self.report_duplicate, exc)
        except UnknownCompany as exc:
            return Outcome(self.report_unknown_company, exc)
        except (InvalidInput, NotFound) as exc:
            return Outcome(self.report_rejected, exc.message)
        except Exception as exc:  # noqa: BLE001 - a form reports a failure, it never takes the app down
            return Outcome(self.report_failure, exc)
        else:
            return Outcome(self.report_saved, result)

    @work(thread=True, exclusive=True, group="form-load", exit_on_error=False)
    def _load(self, app: App) -> Outcome:
        try:
            with app.db.read() as session:
                data = self.read(session, app.actor)
        except Exception as exc:  # noqa: BLE001
            return Outcome(self.report_failure, exc, "Could not load the form")
        else:
            return Outcome(self.loaded, data)


def past_due_question(when: str | datetime | None, actor: Actor, now: datetime, what: str = "Due") -> str | None:
    """"Due Mon 02 Nov 2026 09:00 is in the past. Save it anyway?" when `when` (typed, or chosen) is
    behind now; None when it is not, or does not read (saving then says why)."""
    if not when:
        return None
    try:
        moment = tasks.parse_due(when, actor=actor, now=now) if isinstance(when, str) else when
    except InvalidInput:
        return None
    if not tasks.in_the_past(moment, now=now):
        return None
    local = in_zone(moment, get_zone(actor.timezone))
    return f"{what} {local:%a %d %b %Y %H:%M} is in the past. Save it anyway?"


def user_choice(user_id: int | None, login: str | None) -> Choice | None:
    """A stored owner or assignee as a user picker shows it (a deactivated one too: it still shows)."""
    return Choice("user", user_id, login or f"#{user_id}") if user_id is not None else None


def user_picker(id_: str, user_id: int | None, login: str | None, *, empty: str = "nobody",
                extras: tuple[Choice, ...] = ()) -> Picker:
    """An owner or assignee: type a login, a name or an email; the active users that match show under it."""
    return Picker("user", id=id_, choice=user_choice(user_id, login), extras=extras,
                  placeholder=f"type a name or email; empty: {empty}")


def picked(screen: Widget, id_: str) -> int | str | None:
    """The value of the picker whose input is `#id_` (Picker.value: an id, None, or text to resolve)."""
    return screen.query_one(f"#{id_}-picker", Picker).value


def pick_id(session, kind: str, value: int | str | None, *, within: int | None = None,
            now: datetime | None = None, open_only: bool = False) -> int | None:
    """A picker's value as the id to save: text typed and never chosen is resolved now, by the one
    rule (lookup.resolve): an exact name or the only match, else a one-line refusal."""
    if isinstance(value, str):
        return lookup.resolve(session, kind=kind, text=value, within=within, now=now, open_only=open_only).id
    return value


class _LinkPickers:
    """The records a new activity, task or deal is for: one picker each (contact, company, deal),
    filled with the record the form was opened for, which the person may change. The title says
    whom the form is for. A picker's typed text that was never chosen is resolved when saving."""

    LINK_KINDS: ClassVar[tuple[str, ...]] = ("contact", "company", "deal")
    links: dict[str, int | None]

    def compose_links(self) -> ComposeResult:
        for kind in self.LINK_KINDS:
            # the record's id holds the place (and the link) until its name is read
            record_id = self.links.get(f"{kind}_id")
            placeholder = Choice(kind, record_id, f"#{record_id}") if record_id is not None else None
            yield _field(kind.capitalize(), Picker(kind, id=kind, choice=placeholder))

    def for_whom(self) -> str:
        """" · Ada Lovelace" once the records are read: the title names the record the form is for."""
        shown = [p.choice.label for p in self.query(Picker) if p.kind in self.LINK_KINDS and p.choice]
        return f" · {shown[0]}" if shown else ""

    def start_links(self) -> None:
        if any(self.links.get(f"{kind}_id") is not None for kind in self.LINK_KINDS):
            self._read_links(self.app, dict(self.links))

    @work(thread=True, exclusive=True, group="form-links", exit_on_error=False)
    def _read_links(self, app: App, links: dict[str, int | None]) -> Outcome:
        with app.db.read() as session:
            found = {kind: lookup.label(session, kind=kind, record_id=links[f"{kind}_id"])
                     for kind in self.LINK_KINDS if links.get(f"{kind}_id") is not None}
        return Outcome(self._links_read, found)

    def _links_read(self, found: dict[str, Choice]) -> None:
        for kind, choice in found.items():
            picker = self.query_one(f"#{kind}-picker", Picker)
            if picker.chosen_id == choice.id:  # not changed meanwhile: theirs wins
                picker.set_choice(choice)
        self.query_one(f"#{self.part('title')}", Label).update(self.form_title() + self.for_whom())

    def link_values(self) -> dict[str, Any]:
        """{"contact": (chosen id, typed text), ...}: resolved in the worker (link_ids)."""
        return {kind: (p.chosen_id, p.text) for p in self.query(Picker) if (kind := p.kind) in self.LINK_KINDS}

    @staticmethod
    def link_ids(session, picked: dict[str, tuple[int | None, str]], now: datetime) -> dict[str, int | None]:
        ids: dict[str, int | None] = {}
        for kind, (chosen, text) in picked.items():
            if chosen is None and text:
                chosen = lookup.resolve(session, kind=kind, text=text, now=now).id
            ids[f"{kind}_id"] = chosen
        return ids


# --- typed custom fields: a section a record form adds (services/fields.py) ---------------------


_CUSTOM_HINTS = {"number": "a number", "money": "an amount, e.g. 1200.50", "date": "a date, e.g. 2027-03-31",
                 "url": "https://…", "multi": "comma separated: {}", "text": ""}
_YES_NO = [("yes", "yes"), ("no", "no")]


class CustomFieldsSection:
    """The typed custom fields of CUSTOM_KIND, one line each under a "Custom fields" heading, loaded
    in a worker when the form mounts, with the record's stored values (custom_record_id(); the
    heading stays hidden when the kind has none). A choice or yes/no field is a Select of the
    choices offered (a retired one the record holds stays listed), any other an Input that takes
    the text the service reads. The form sends custom_values() (a new record) or custom_changes()
    (the fields changed); the service checks them and its one-line refusal shows under the
    fields, nothing written."""

    CUSTOM_KIND: ClassVar[str] = "contact"

    def compose_custom_fields(self) -> ComposeResult:
        yield Label("Custom fields", id="custom-fields-heading", classes="form-section")
        yield Vertical(id="custom-fields")

    def custom_record_id(self) -> int | None:
        """The record the form edits (None: a new one)."""
        return None

    def custom_line(self, label: str, widget: Widget) -> Widget:
        """One line of the section, laid out as the form's other lines."""
        return _field(label, widget)

    def load_custom_fields(self) -> None:
        self.custom_defs: list[fields.FieldRead] = []
        self.custom_stored: dict = {}
        self.query_one("#custom-fields-heading").display = False
        record_id = self.custom_record_id()
        self.run_worker(lambda app=self.app: self._read_custom_fields(app, record_id), thread=True, exclusive=True,
                        group="form-custom-fields", exit_on_error=False)

    def _read_custom_fields(self, app: App, record_id: int | None) -> Outcome:
        with app.db.read() as session:
            defs = fields.list_fields(session, kind=self.CUSTOM_KIND)
            stored = fields.stored_custom(session, self.CUSTOM_KIND, record_id) if record_id and defs else {}
        return Outcome(self._show_custom_fields, defs, stored)

    def _show_custom_fields(self, defs: list[fields.FieldRead], stored: dict) -> None:
        self.custom_defs, self.custom_stored = defs, stored
        lines = []
        for i, f in enumerate(defs):
            value = stored.get(f.key)
            label = f.label + ("*" if f.required else "")
            if f.type in ("choice", "yesno"):
                options = list(_YES_NO) if f.type == "yesno" else [(o, o) for o in f.offered]
                if f.type == "choice" and value in f.retired:
                    options.append((f"{value} (retired)", value))
                shown = fields.input_text(f, value) if f.type == "yesno" else value
                chosen = {"value": shown} if shown in {v for _, v in options} else {}
                widget = Select(options, id=f"cf-{i}", prompt="(none)", compact=True, **chosen)
            else:
                hint = _CUSTOM_HINTS.get(f.type, "").format(", ".join(f.offered))
                widget = _input(f"cf-{i}", fields.input_text(f, value), placeholder=hint)
            lines.append(self.custom_line(label[:11], widget))
        self.query_one("#custom-fields-heading").display = bool(defs)
        if lines:
            self.query_one("#custom-fields", Vertical).mount_all(lines)

    def _custom_texts(self) -> dict[str, str]:
        out = {}
        for i, f in enumerate(getattr(self, "custom_defs", [])):
            widget = self.query_one(f"#cf-{i}")
            if isinstance(widget, Select):
                out[f.key] = "" if widget.is_blank() else str(widget.value)
            else:
                out[f.key] = widget.value.strip()
        return out

    def custom_values(self) -> dict[str, str]:
        """The typed fields filled in, as typed (a new record)."""
        return {key: text for key, text in self._custom_texts().items() if text}

    def custom_changes(self) -> tuple[dict[str, str], list[str]]:
        """(set, remove): the typed fields changed from the stored record."""
        stored = getattr(self, "custom_stored", {})
        by_key = {f.key: f for f in getattr(self, "custom_defs", [])}
        changed, removed = {}, []
        for key, text in self._custom_texts().items():
            if text == fields.input_text(by_key[key], stored.get(key)):
                continue
            if text:
                changed[key] = text
            elif stored.get(key) is not None:
                removed.append(key)
        return changed, removed


# --- contact, and the edits that can conflict ------------------------------------------------


CONTACT_FIELDS = {
    "first_name": "First name", "last_name": "Last name", "title": "Title", "emails": "Emails", "phones": "Phones",
    "company": "Company", "lifecycle": "Stage", "source": "Source", "owner_id": "Owner", "tags": "Tags",
    "address": "Address", "birthday": "Birthday", "social_urls": "Profiles", "description": "About",
    "do_not_email": "Do not email",
}


def _company_choice(c: ContactRead | None) -> Choice | None:
    return Choice("company", c.company_id, c.company_name or f"#{c.company_id}") if c and c.company_id else None


def _contact_values(c: ContactRead) -> dict[str, Any]:
    """A stored contact as the contact form holds it (the shape the three-way compare works on)."""
    return {
        "first_name": c.first_name, "last_name": c.last_name, "title": c.title or "", "emails": list(c.emails),
        "phones": list(c.phones), "company": c.company_name or "", "lifecycle": c.lifecycle, "source": c.source,
        "owner_id": c.owner_id, "tags": list(c.tags), "address": c.address or "",
        "birthday": c.birthday.isoformat() if c.birthday else "", "social_urls": list(c.social_urls),
        "description": c.description or "", "do_not_email": c.do_not_email,
    }


class FormConflicts(ResolvesConflicts):
    """ResolvesConflicts for a FormScreen: save again, or report, through the form's own paths."""

    def save_again(self) -> None:
        self.set_saving(False)
        self.action_save()

    def conflict_rejected(self, message: str) -> None:
        self.report_rejected(message)

    def conflict_took_theirs(self, record) -> None:
        self.report_saved(record)

    def report_conflict(self, error: Conflict) -> None:
        self.resolve_conflict(error)


class _ContactEditForm(FormConflicts, FormScreen[ContactRead | None]):
    """A form over a stored contact: saves with the version it was read at; on a Conflict it
    compares field by field (screens/conflict.py): different fields merge, the same field asks."""

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = CONTACT_FIELDS

    def __init__(self, contact: ContactRead | None = None) -> None:
        super().__init__()
        self.contact = contact

    def base_version(self) -> int | None:
        return None if self.contact is None else self.contact.version

    def fill(self, contact: ContactRead) -> None:
        raise NotImplementedError

    # -- what the conflict resolution needs (screens/conflict.py)

    def opened_record(self) -> ContactRead:
        return self.contact

    def record_values(self, record: ContactRead) -> dict[str, Any]:
        values = _contact_values(record)
        return {name: values[name] for name in self.CONFLICT_FIELDS}

    def form_values(self) -> dict[str, Any]:
        values = self.values()
        return {name: values[name] for name in self.CONFLICT_FIELDS}

    def put_values(self, values: dict[str, Any], record: ContactRead) -> None:
        put_pick(self.query_one("#owner-picker", Picker), values["owner_id"], record.owner_login)

    def fetch_current(self, session) -> ContactRead:
        return contacts.get_contact(session, contact_id=self.contact.id)

    def rebase(self, record: ContactRead) -> None:
        self.contact = record
        self.query_one("#form-title", Label).update(self.form_title())



class ContactForm(CustomFieldsSection, _ContactEditForm):
    """New contact, or edit one (only the fields changed in the form are sent). A new contact may
    be opened for a company, `company` = (id, name): its picker holds it, and may be changed."""

    def __init__(self, contact: ContactRead | None = None, *, company: tuple[int, str] | None = None) -> None:
        super().__init__(contact)
        self.for_company = Choice("company", *company) if company and contact is None else None

    def form_title(self) -> str:
        if self.contact is None and self.for_company is not None:
            return f"New contact · {self.for_company.label}"
        return f"Edit contact · {self.contact.full_name}" if self.contact else "New contact"

    def compose_fields(self) -> ComposeResult:
        actor = self.app.actor
        c = self.contact
        yield _field("First name", _input("first_name"))
        yield _field("Last name", _input("last_name"))
        yield _field("Title", _input("title"))
        yield _field("Emails", _input("emails", placeholder="comma separated"))
        yield _field("Phones", _input("phones", placeholder="comma separated, +country code"))
        yield _field("Company", Picker("company", id="company", choice=_company_choice(c) or self.for_company,
                                       placeholder="type to find; a new name asks to add it"))
        yield _field("Stage", Select(_choices(m.value for m in Lifecycle), id="lifecycle", allow_blank=False,
                                     compact=True))
        yield _field("Source", Select(_choices(m.value for m in Source), id="source", prompt="(none)",
                                      compact=True))
        if c is not None:
            yield _field("Owner", user_picker("owner", c.owner_id, c.owner_login))
        else:
            yield _field("Owner", user_picker("owner", actor.user_id, actor.login))
        yield _field("Address", _input("address"))
        yield _field("Birthday", _input("birthday", placeholder="YYYY-MM-DD"))
        yield _field("Profiles", _input("social_urls", placeholder="comma separated, e.g. linkedin.com/in/ada"))
        yield _field("About", TextArea(id="description", compact=True, soft_wrap=True))
        yield _field("Tags", _input("tags", placeholder="comma separated"))
        yield _field("Mail", Checkbox("Do not email (no sequence or bulk mail)", bool(c and c.do_not_email),
                                      id="do_not_email", compact=True))
        yield from self.compose_custom_fields()

    def on_mount(self) -> None:  # FormScreen.on_mount runs too: Textual calls each class's handler
        if self.contact is not None:
            self.fill(self.contact)
        self.load_custom_fields()

    def custom_record_id(self) -> int | None:
        return self.contact.id if self.contact is not None else None

    def fill(self, contact: ContactRead) -> None:
        self.query_one("#form-title", Label).update(self.form_title())
        for id_, value in (("first_name", contact.first_name), ("last_name", contact.last_name),
                           ("title", contact.title or ""), ("emails", ", ".join(contact.emails)),
                           ("phones", ", ".join(contact.phones)), ("tags", ", ".join(contact.tags)),
                           ("address", contact.address or ""),
                           ("birthday", contact.birthday.isoformat() if contact.birthday else ""),
                           ("social_urls", ", ".join(contact.social_urls))):
            self.query_one(f"#{id_}", Input).value = value
        self.query_one("#description", TextArea).text = contact.description or ""
        self.query_one("#do_not_email", Checkbox).value = contact.do_not_email
        self.query_one("#company-picker", Picker).set_choice(_company_choice(contact))
        lifecycle = self.query_one("#lifecycle", Select)
        if contact.lifecycle in {m.value for m in Lifecycle}:
            lifecycle.value = contact.lifecycle
        source = self.query_one("#source", Select)
        if contact.source in {m.value for m in Source}:
            source.value = contact.source
        else:
            source.clear()

    def put_values(self, values: dict[str, Any], record: ContactRead) -> None:
        for id_ in ("first_name", "last_name", "title", "company"):
            self.query_one(f"#{id_}", Input).value = values[id_]
        for id_ in ("emails", "phones", "tags", "social_urls"):
            self.query_one(f"#{id_}", Input).value = ", ".join(values[id_])
        for id_ in ("address", "birthday"):
            self.query_one(f"#{id_}", Input).value = values[id_]
        self.query_one("#description", TextArea).text = values["description"]
        self.query_one("#do_not_email", Checkbox).value = bool(values["do_not_email"])
        put_select(self.query_one("#lifecycle", Select), values["lifecycle"])
        put_select(self.query_one("#source", Select), values["source"])
        super().put_values(values, record)

    def values(self) -> dict[str, Any]:
        text = {id_: self.query_one(f"#{id_}", Input).value
                for id_ in ("first_name", "last_name", "title", "emails", "phones", "company", "tags")}
        return {
            "first_name": text["first_name"].strip(), "last_name": text["last_name"].strip(),
            "title": text["title"].strip(), "emails": _split(text["emails"]), "phones": _split(text["phones"]),
            "company": text["company"].strip(), "tags": _split(text["tags"]),
            "lifecycle": _selected(self.query_one("#lifecycle", Select)),
            "source": _selected(self.query_one("#source", Select)),
            "owner_id": picked(self, "owner"),
            "address": self.query_one("#address", Input).value.strip(),
            "birthday": self.query_one("#birthday", Input).value.strip(),
            "social_urls": _split(self.query_one("#social_urls", Input).value),
            "description": self.query_one("#description", TextArea).text.strip(),
            "do_not_email": self.query_one("#do_not_email", Checkbox).value,
            "_company_pick": self.query_one("#company-picker", Picker).chosen_id,
            "_base": self.contact, "_version": self.base_version(),
            "_create_company": self.create_company, "_allow_duplicate": self.allow_duplicate,
            "_custom": self.custom_changes() if self.contact is not None else self.custom_values(),
        }

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> ContactRead:
        base: ContactRead | None = values.pop("_base")
        version = values.pop("_version")
        create, allow_duplicate = values.pop("_create_company"), values.pop("_allow_duplicate")
        pick = values.pop("_company_pick")
        custom = values.pop("_custom")
        values["owner_id"] = pick_id(session, "user", values["owner_id"])
        if base is None and pick is not None:
            values.pop("company")
            return contacts.create_contact(session, data={**values, "company_id": pick, "custom": custom},
                                           actor=actor, now=now, allow_duplicate=allow_duplicate)
        if base is None:
            values["custom"] = custom
            try:
                values["company_id"] = _company_id(session, values.pop("company"), actor, now, create=create)
            except UnknownCompany:
                # ask about the new company only once the rest is right: the contact is checked here,
                # and rolled back with the question
                contacts.create_contact(session, data={**values, "company_id": None}, actor=actor, now=now,
                                        allow_duplicate=allow_duplicate)
                raise
            return contacts.create_contact(session, data=values, actor=actor, now=now,
                                           allow_duplicate=allow_duplicate)
        changes = _contact_changes(base, values)
        if pick is not None and pick != base.company_id:
            changes.pop("company", None)
            changes["company_id"] = pick
        elif "company" in changes:
            changes["company_id"] = _company_id(session, changes.pop("company"), actor, now, create=create)
        custom_set, custom_remove = custom
        return contacts.update_contact(session, contact_id=base.id, changes=changes, actor=actor,
                                       version=version, now=now, custom_set=custom_set, custom_remove=custom_remove,
                                       allow_duplicate=allow_duplicate)


def _contact_changes(base: ContactRead, values: dict[str, Any]) -> dict[str, Any]:
    """What the form changed relative to the record it is based on: only these fields are sent."""
    before = _contact_values(base)
    return {name: value for name, value in values.items() if name in before and value != before[name]}


class OwnerForm(_ContactEditForm):
    """Give a contact to another user."""

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {"owner_id": "Owner"}

    def __init__(self, contact: ContactRead) -> None:
        super().__init__(contact)

    def form_title(self) -> str:
        return f"Owner · {self.contact.full_name}"

    def compose_fields(self) -> ComposeResult:
        yield _field("Owner", user_picker("owner", self.contact.owner_id, self.contact.owner_login))

    def fill(self, contact: ContactRead) -> None:
        self.query_one("#form-title", Label).update(self.form_title())

    def values(self) -> dict[str, Any]:
        return {"owner_id": picked(self, "owner"), "contact_id": self.contact.id,
                "version": self.base_version()}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> ContactRead:
        return contacts.update_contact(session, contact_id=values["contact_id"],
                                       changes={"owner_id": pick_id(session, "user", values["owner_id"])}, actor=actor,
                                       version=values["version"], now=now)


class TagsForm(FormScreen[ContactRead | None]):
    """Add and remove a contact's tags (merged, so no version check is needed)."""

    def __init__(self, contact: ContactRead) -> None:
        super().__init__()
        self.contact = contact

    def form_title(self) -> str:
        return f"Tags · {self.contact.full_name}"

    def compose_fields(self) -> ComposeResult:
        yield _field("Current", Label(", ".join(self.contact.tags) or "(no tags)", id="current-tags", markup=False))
        yield _field("Add", _input("add", placeholder="comma separated"))
        yield _field("Remove", _input("remove", placeholder="comma separated"))

    def values(self) -> dict[str, Any]:
        return {"contact_id": self.contact.id, "add": _split(self.query_one("#add", Input).value),
                "remove": _split(self.query_one("#remove", Input).value)}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> ContactRead:
        if not (values["add"] or values["remove"]):
            raise InvalidInput("type the tags to add or to remove")
        return contacts.change_tags(session, contact_id=values["contact_id"], add=values["add"],
                                    remove=values["remove"], actor=actor, now=now)


# --- activity, task, deal --------------------------------------------------------------------


class LogActivityForm(_LinkPickers, FormScreen[tuple[ActivityRead, TaskRead | None] | None]):
    """Log a call, email, meeting or note, with an optional follow-up task (one transaction)."""

    def __init__(self, *, contact_id: int | None = None, company_id: int | None = None,
                 deal_id: int | None = None, kind: str = "call", subject_hint: str = "") -> None:
        super().__init__()
        self.links = {"contact_id": contact_id, "company_id": company_id, "deal_id": deal_id}
        self.kind = kind if kind in LOGGABLE_KINDS else "call"
        self.subject_hint = subject_hint

    def form_title(self) -> str:
        return "Log activity"

    def compose_fields(self) -> ComposeResult:
        yield _field("Kind", Select(_choices(LOGGABLE_KINDS), id="kind", value=self.kind, allow_blank=False,
                                    compact=True))
        yield _field("Direction", Select(_choices((NO_DIRECTION, "outbound", "inbound")), id="direction",
                                         value=NO_DIRECTION, allow_blank=False, compact=True))
        yield _field("When", _input("when", placeholder="now; or e.g. yesterday 3pm, 2026-11-20 14:00"))
        yield _field("Minutes", _input("duration", placeholder="duration", type="integer"))
        yield _field("Outcome", _input("outcome", placeholder="e.g. left voicemail"))
        yield _field("Subject", _input("subject", self.subject_hint))
        yield _field("Notes", TextArea(id="notes", compact=True, soft_wrap=True))
        yield Label("Follow-up task (optional)", classes="form-section")
        yield _field("Task", _input("follow_title", placeholder="e.g. call back"))
        yield _field("Due", _input("follow_due", placeholder="e.g. +3d, tomorrow 9am, next fri"))
        yield Label("For", classes="form-section")
        yield from self.compose_links()

    def on_mount(self) -> None:
        self.start_links()

    def values(self) -> dict[str, Any]:
        text = {id_: self.query_one(f"#{id_}", Input).value.strip()
                for id_ in ("when", "duration", "outcome", "subject", "follow_title", "follow_due")}
        direction = _selected(self.query_one("#direction", Select))
        return {**text, "kind": _selected(self.query_one("#kind", Select)),
                "direction": None if direction == NO_DIRECTION else direction,
                "notes": self.query_one("#notes", TextArea).text, "links": self.link_values()}

    def confirm_before_save(self, values: dict[str, Any], now: datetime) -> str | None:
        return past_due_question(values["follow_due"], self.app.actor, now, "The follow-up's due")

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime
              ) -> tuple[ActivityRead, TaskRead | None]:
        data = {
            "kind": values["kind"], "direction": values["direction"], "occurred_at": values["when"] or None,
            "duration_minutes": _minutes(values["duration"]), "outcome": values["outcome"] or None,
            "subject": values["subject"] or None, "body": values["notes"] or None,
            **self.link_ids(session, values["links"], now),
        }
        follow_up = None
        if values["follow_title"] or values["follow_due"]:
            title = values["follow_title"] or (f"Follow up: {values['subject']}" if values["subject"] else "Follow up")
            follow_up = {"title": title, "due_at": values["follow_due"] or None}
        return activities.log_activity(session, data=data, follow_up=follow_up, actor=actor, now=now)


class TaskForm(_LinkPickers, FormScreen[TaskRead | None]):
    """A new task (reminder), optionally recurring, for the actor or a teammate."""

    def __init__(self, *, contact_id: int | None = None, company_id: int | None = None,
                 deal_id: int | None = None) -> None:
        super().__init__()
        self.links = {"contact_id": contact_id, "company_id": company_id, "deal_id": deal_id}

    def form_title(self) -> str:
        return "New task"

    def compose_fields(self) -> ComposeResult:
        actor = self.app.actor
        yield _field("Title", _input("title"))
        yield _field("Due", _input("due", placeholder="e.g. tomorrow 9am, +3d, next fri"))
        yield _field("Notes", _input("notes"))
        yield _field("Repeats", _input("recurrence", placeholder="optional: weekly, every monday, …"))
        yield _field("Assignee", user_picker("assignee", actor.user_id, actor.login, empty="you"))
        yield from self.compose_links()

    def on_mount(self) -> None:
        self.start_links()

    def values(self) -> dict[str, Any]:
        text = {id_: self.query_one(f"#{id_}", Input).value.strip() for id_ in ("title", "due", "notes", "recurrence")}
        return {**text, "assignee_id": picked(self, "assignee"), "links": self.link_values()}

    def confirm_before_save(self, values: dict[str, Any], now: datetime) -> str | None:
        return past_due_question(values["due"], self.app.actor, now)

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> TaskRead:
        data = {
            "title": values["title"], "due_at": values["due"] or None, "notes": values["notes"] or None,
            "recurrence": values["recurrence"] or None,
            "assignee_id": pick_id(session, "user", values["assignee_id"]),
            **self.link_ids(session, values["links"], now),
        }
        return tasks.create_task(session, data=data, actor=actor, now=now)


class DealForm(CustomFieldsSection, _LinkPickers, FormScreen[DealRead | None]):
    """A new deal in an open stage of a pipeline (the default pipeline's first stage unless chosen).
    The pipeline, the stage (of the pipeline chosen) and the owner are pickers."""

    LOADS = True
    LINK_KINDS = ("contact", "company")

    def __init__(self, *, contact_id: int | None = None, company_id: int | None = None,
                 currency: str | None = None) -> None:
        super().__init__()
        self.links = {"contact_id": contact_id, "company_id": company_id}
        self.currency = currency or deals.DEFAULT_CURRENCY
        self.preset: tuple[int | None, int | None] = (None, None)  # (pipeline, stage) a board opens it on

    def form_title(self) -> str:
        return "New deal"

    def compose_fields(self) -> ComposeResult:
        actor = self.app.actor
        yield _field("Title", _input("title"))
        yield _field("Amount", _input("amount", placeholder="e.g. 12,500.00"))
        yield _field("Currency", _input("currency", self.currency, max_length=3))
        yield _field("Pipeline", Picker("pipeline", id="pipeline", placeholder="type to find; empty: the default"))
        yield _field("Stage", Picker("stage", id="stage", open_only=True,
                                     placeholder="type to find; empty: the first stage"))
        yield _field("Close by", _input("expected_close", placeholder="optional: e.g. end of month, +30d"))
        yield _field("Owner", user_picker("owner", actor.user_id, actor.login, empty="you"))
        yield from self.compose_links()
        yield from self.compose_custom_fields()

    CUSTOM_KIND = "deal"

    def on_mount(self) -> None:  # FormScreen.on_mount runs too: Textual calls each class's handler
        self.start_links()
        self.load_custom_fields()

    def read(self, session, actor: Actor) -> tuple[Choice | None, Choice | None]:
        """The pipeline the form starts on (the preset's, else the default) and the preset stage."""
        pipeline_id, stage_id = self.preset
        found = pipelines.list_pipelines(session)
        chosen = next((p for p in found if p.id == pipeline_id), None) \
            or next((p for p in found if p.is_default), found[0] if found else None)
        if chosen is None:
            return None, None
        stage = next((s for s in chosen.stages if s.id == stage_id and s.kind == "open"), None)
        return (Choice("pipeline", chosen.id, chosen.name, "default" if chosen.is_default else ""),
                Choice("stage", stage.id, stage.name, stage.kind) if stage else None)

    def loaded(self, data: tuple[Choice | None, Choice | None]) -> None:
        """Show them (unless something was typed there meanwhile: theirs wins)."""
        pipeline_choice, stage_choice = data
        pipeline, stage = self.query_one("#pipeline-picker", Picker), self.query_one("#stage-picker", Picker)
        if pipeline_choice is not None and not pipeline.text:
            pipeline.set_choice(pipeline_choice)
            stage.set_within(pipeline_choice.id)
            if stage_choice is not None and not stage.text:
                stage.set_choice(stage_choice)

    @on(Picker.Changed, "#pipeline-picker")
    def _pipeline_changed(self, event: Picker.Changed) -> None:
        """The stage picker offers the stages of the pipeline chosen; a stage of another one goes."""
        event.stop()
        stage = self.query_one("#stage-picker", Picker)
        within = event.choice.id if event.choice else None
        if within != stage.within:
            stage.set_within(within)
            if stage.text:
                stage.set_choice(None)

    def values(self) -> dict[str, Any]:
        text = {id_: self.query_one(f"#{id_}", Input).value.strip()
                for id_ in ("title", "amount", "currency", "expected_close")}
        return {**text, "pipeline": picked(self, "pipeline"), "stage": picked(self, "stage"),
                "owner": picked(self, "owner"), "default_currency": self.currency,
                "links": self.link_values(), "_custom": self.custom_values()}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> DealRead:
        pipeline_id = pick_id(session, "pipeline", values["pipeline"])
        within = pipeline_id if pipeline_id is not None else pipelines.default_pipeline(session).id
        data = {
            "title": values["title"], "amount": values["amount"] or 0, "currency": values["currency"] or None,
            "pipeline_id": pipeline_id, "stage_id": pick_id(session, "stage", values["stage"], within=within,
                                                            open_only=True),
            "owner_id": pick_id(session, "user", values["owner"]),
            "expected_close": values["expected_close"] or None,
            **self.link_ids(session, values["links"], now),
        }
        return deals.create_deal(session, data=data, actor=actor, now=now,
                                 default_currency=values["default_currency"], custom=values["_custom"])


# --- dialogs ---------------------------------------------------------------------------------


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or enter confirms, n or escape cancels."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#confirm-yes"
    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.question, id="dialog-question", markup=False)  # it names records as typed
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm-yes", variant="primary", compact=True)
                yield Button("No (n)", id="confirm-no", compact=True)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")
