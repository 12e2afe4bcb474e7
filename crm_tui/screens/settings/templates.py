"""Settings · Email templates: the team's and your own; add, edit (name, subject, body, whose),
archive, and preview one filled for a contact, where a merge field with no value is an error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Checkbox, DataTable, Label, Static, TextArea

from crm_tui.errors import CrmError
from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.screens.forms import FormScreen, _field, _input
from crm_tui.services import email_templates as templates, lookup, permissions
from crm_tui.services.common import Actor
from crm_tui.widgets.picker import Picker

EDIT = "template.edit"
FIELDS_HINT = "{{ contact.first_name }} {{ company.name }} {{ deal.title }} {{ me.name }} {{ contact.custom.x }}"


class TemplateForm(FormScreen[templates.TemplateRead | None]):
    """A new template or an existing one: name, subject, body, the team's or your own; ctrl+r
    previews it (as typed, unsaved) for the contact picked under it."""

    ENTER_SAVES = False
    HINT = "ctrl+r preview · ctrl+s save"
    BINDINGS = [Binding("ctrl+r", "preview", "Preview", id="template_form.preview", priority=True)]

    def __init__(self, template: templates.TemplateRead | None = None) -> None:
        super().__init__()
        self.template = template

    def form_title(self) -> str:
        return f"Edit template · {self.template.name}" if self.template else "New email template"

    def compose_fields(self) -> ComposeResult:
        t = self.template
        yield _field("Name", _input("template-name", t.name if t else ""))
        yield _field("Subject", _input("template-subject", t.subject if t else "",
                                       placeholder="Hello {{ contact.first_name }}"))
        yield _field("", Checkbox("The team's (everyone may use it)", bool(t and t.shared), id="template-team",
                                  compact=True))
        yield _field("Body", TextArea(t.body if t else "", id="template-body", soft_wrap=True, tab_behavior="focus"))
        yield Static(FIELDS_HINT, id="template-hint", markup=False)
        yield _field("Preview", Picker("contact", id="template-contact", placeholder="a contact: ctrl+r previews"))
        yield Label("", id="template-preview-error", markup=False)
        yield Static("", id="template-preview", markup=False)

    def values(self) -> dict[str, Any]:
        return {"name": self.query_one("#template-name").value.strip(),
                "subject": self.query_one("#template-subject").value,
                "body": self.query_one("#template-body", TextArea).text,
                "shared": self.query_one("#template-team", Checkbox).value}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> templates.TemplateRead:
        t = self.template
        if t is None:
            return templates.add_template(session, actor=actor, now=now, **values)
        return templates.update_template(session, template_id=t.id, version=t.version, actor=actor, now=now,
                                         **values)

    def action_preview(self) -> None:
        picker = self.query_one("#template-contact-picker", Picker)
        self._preview(self.values(), picker.chosen_id, picker.text)

    @work(thread=True, exclusive=True, group="template-preview", exit_on_error=False)
    def _preview(self, values: dict[str, Any], contact_id: int | None, typed: str) -> Outcome:
        app = self.app
        try:
            with app.db.read() as session:
                if contact_id is None and typed:
                    contact_id = lookup.resolve(session, kind="contact", text=typed).id
                out = templates.render(session, subject=values["subject"], body=values["body"], actor=app.actor,
                                       contact_id=contact_id)
        except CrmError as exc:
            return Outcome(self._previewed, None, exc.message)
        return Outcome(self._previewed, f"Subject: {out.subject}\n\n{out.body}", "")

    def _previewed(self, text: str | None, error: str) -> None:
        line = self.query_one("#template-preview-error", Label)
        line.update(error)
        line.set_class(bool(error), "-shown")
        self.query_one("#template-preview", Static).update(text or "")


class TemplateSettingsScreen(AreaScreen):
    """Pushed from the command palette: one row per template, the team's and your own."""

    CSS_PATH = "templates.tcss"
    AUTO_FOCUS = "#templates-table"
    BINDINGS = [
        Binding("n", "new", "New", id="templates.new"),
        Binding("e", "edit", "Edit", id="templates.edit"),
        Binding("a", "archive", "Archive/restore", id="templates.archive"),
        Binding("v", "toggle_archived", "Archived", id="templates.archived"),
        Binding("escape", "back", "Back", id="templates.back"),
    ]
    NEEDS = {"new": EDIT, "edit": EDIT, "archive": EDIT}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[templates.TemplateRead] = []
        self.archived = False

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Email templates", id="templates-line")
        yield DataTable(id="templates-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="templates-detail", markup=False)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # fixed widths: the rows' own would size the columns by whichever load lands first
        for label, key, width in (("Name", "name", 20), ("Subject", "subject", 38), ("Whose", "whose", 12)):
            table.add_column(label, key=key, width=width)
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load(self.archived)

    @work(thread=True, exclusive=True, group="templates-load", exit_on_error=False)
    def _load(self, archived: bool) -> Outcome:
        with self.app.db.read() as session:
            rows = templates.list_templates(session, actor=self.app.actor, archived=archived)
            may = permissions.allowed(session, self.app.actor, EDIT)
        return Outcome(self._show, rows, may)

    def _show(self, rows: list[templates.TemplateRead], may: bool) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        where = table.cursor_row
        table.clear()
        for t in rows:
            table.add_row(*(Text(cell, no_wrap=True) for cell in (t.name, t.subject, "team" if t.shared else
                                                                  (t.owner or ""))), key=str(t.id))
        if rows:
            table.move_cursor(row=min(max(where, 0), len(rows) - 1), animate=False)
        which = "archived" if self.archived else "in use"
        count = f"{len(rows)} {which}" if rows else f"none {which}"
        how = "n new · e edit · a archive/restore · v archived" if may else "read only"
        self.query_one("#templates-line", Static).update(f"Email templates — {count} — {how}")
        self._describe()

    @on(DataTable.RowHighlighted)
    def _describe(self) -> None:
        t = self._current()
        first = next((line for line in t.body.splitlines() if line.strip()), "") if t else ""
        self.query_one("#templates-detail", Static).update(f"{t.subject} — {first}" if t else "")

    def _current(self) -> templates.TemplateRead | None:
        if not self.rows:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.rows[min(max(row, 0), len(self.rows) - 1)]

    def action_new(self) -> None:
        self.app.push_screen(TemplateForm(), self._saved)

    def action_edit(self) -> None:
        current = self._current()
        if current is None:
            self.notify("No template to edit: n adds one.", severity="warning")
            return
        self.app.push_screen(TemplateForm(current), self._saved)

    def action_archive(self) -> None:
        current = self._current()
        if current is not None:
            self._archive(current)

    def action_toggle_archived(self) -> None:
        self.archived = not self.archived
        self.refresh_data()

    @work(thread=True, exclusive=True, group="templates-save", exit_on_error=False)
    def _archive(self, t: templates.TemplateRead) -> Outcome:
        with self.app.db.write() as session:
            done = templates.archive_template(session, template_id=t.id, archived=not t.archived, version=t.version,
                                              actor=self.app.actor, now=self.app.now())
        return Outcome(self._saved, done)

    def _saved(self, result: templates.TemplateRead | None) -> None:
        if result is not None:
            state = "archived" if result.archived else "saved"
            self.notify(f"{result.name} {state}", title="Email templates")
        self.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
