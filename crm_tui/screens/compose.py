"""Composing an email from a record (`m` on a contact, company or deal): To and Cc filled from the
record, a picker for other addresses, a template or a blank page, the body in a TextArea or in
$EDITOR (ctrl+e), a preview, and send: stored on the timeline and queued in the same
transaction (services/mail_send), sent after commit through the outbox."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, Select, Static, TextArea

from crm_tui.errors import CrmError, InvalidInput
from crm_tui.screens.base import Outcome, ReportsWorkerErrors
from crm_tui.services import contacts, email_templates, lookup, mail_send
from crm_tui.widgets.key_bar import KeyBar
from crm_tui.widgets.picker import Picker
from crm_tui.workflows.email import send_queued, smtp_settings

COMPOSE_CSS = str(Path(__file__).with_name("compose.tcss"))


@dataclass(frozen=True)
class Start:
    """What the screen reads when it opens: the record's name, the sender, the default recipients
    and the templates to pick from."""

    title: str
    sender: str | None
    sender_error: str | None
    to: list[str]
    others: list[str]
    templates: list[email_templates.TemplateRead]


def _line(label: str, widget) -> Horizontal:
    return Horizontal(Label(label, classes="compose-label"), widget, classes="compose-field")


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class ComposeScreen(ReportsWorkerErrors, Screen[bool]):
    """The email composer; dismisses with True once the email is stored (sent or queued)."""

    CSS_PATH = COMPOSE_CSS
    AUTO_FOCUS = "#compose-to"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="compose.cancel"),
        # over the fields' own keys (ctrl+e is "end of line" in an Input and a TextArea)
        Binding("ctrl+s", "send", "Send", id="compose.send", priority=True),
        Binding("ctrl+r", "preview", "Preview", id="compose.preview", priority=True),
        Binding("ctrl+e", "editor", "$EDITOR", id="compose.editor", priority=True),
    ]

    def __init__(self, kind: str, record_id: int, *, reply_to_activity: int | None = None,
                 reply_to_email: int | None = None) -> None:
        super().__init__()
        self.kind, self.record_id = kind, record_id
        self.reply_to_activity = reply_to_activity  # an email on the timeline this answers
        self.reply_to_email = reply_to_email  # or a stored email itself (a thread's latest message)
        self.in_reply_to: str | None = None
        self.start: Start | None = None
        self.template_id: int | None = None
        self.sending = False

    @property
    def links(self) -> dict[str, int | None]:
        return {f"{k}_id": (self.record_id if k == self.kind else None) for k in ("contact", "company", "deal")}

    def compose(self) -> ComposeResult:
        with Vertical(id="compose-dialog"):
            yield Static("Email", id="compose-title", markup=False)
            yield _line("From", Static("", id="compose-from", markup=False))
            yield _line("To", Input(id="compose-to", compact=True, placeholder="addresses, comma separated"))
            yield _line("Cc", Input(id="compose-cc", compact=True))
            yield _line("Add", Picker("contact", id="compose-add", placeholder="type a name: its email goes to Cc",
                                      search=self._find_addresses))
            yield _line("Template", Select([], id="compose-template", prompt="(blank)", compact=True))
            yield _line("Subject", Input(id="compose-subject", compact=True))
            yield TextArea("", id="compose-body", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
            yield Label("", id="compose-warning", markup=False)
            yield Label("", id="compose-error", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self._load()

    # -- opening

    @work(thread=True, exclusive=True, group="compose-load", exit_on_error=False)
    def _load(self) -> Outcome:
        app = self.app
        with app.db.read() as session:
            record = lookup.label(session, kind=self.kind, record_id=self.record_id)
            found = mail_send.recipients(session, **self.links)
            reply, reply_error = None, None
            if self.reply_to_activity is not None or self.reply_to_email is not None:
                try:
                    reply = mail_send.reply_to(session, activity_id=self.reply_to_activity,
                                               email_id=self.reply_to_email)
                except InvalidInput as exc:  # an email logged by hand: a new email, and say why
                    reply_error = exc.message
            try:
                sender, sender_error = mail_send.sender(session, app.actor), None
            except InvalidInput as exc:
                sender, sender_error = None, exc.message
            templates = email_templates.list_templates(session, actor=app.actor)
        title = f"Email · {record.label} ({self.kind})" + (" · reply" if reply else "")
        to = reply.to if reply else found.to
        return Outcome(self._started, Start(title, sender, sender_error or reply_error, to, found.others, templates),
                       reply)

    def _started(self, start: Start, reply: mail_send.Reply | None = None) -> None:
        self.start = start
        if reply is not None:
            self.in_reply_to = reply.in_reply_to
            self.query_one("#compose-subject", Input).value = reply.subject
        self.query_one("#compose-title", Static).update(start.title)
        self.query_one("#compose-from", Static).update(start.sender or "(none)")
        to = self.query_one("#compose-to", Input)
        if not to.value:
            to.value = ", ".join(start.to)
        self.query_one("#compose-template", Select).set_options([(t.name, t.id) for t in start.templates])
        self._check_recipients()
        if start.sender_error:
            self.show_error(start.sender_error)
        elif not start.to:
            self.show_error(f"This {self.kind} has no email address: type one in To, or add one with the picker.")

    # -- recipients marked "do not email": a warning, not a bar (only sequence and bulk mail are barred)

    @on(Input.Changed, "#compose-to")
    @on(Input.Changed, "#compose-cc")
    def _recipients_changed(self) -> None:
        if self.start is not None:
            self._check_recipients()

    def _check_recipients(self) -> None:
        addresses = (_addresses(self.query_one("#compose-to", Input).value)
                     + _addresses(self.query_one("#compose-cc", Input).value))
        self._read_do_not_email(addresses)

    @work(thread=True, exclusive=True, group="compose-dne", exit_on_error=False)
    def _read_do_not_email(self, addresses: list[str]) -> Outcome:
        with self.app.db.read() as session:
            marked = contacts.do_not_email_among(session, emails=addresses)
        return Outcome(self.show_warning, marked)

    def show_warning(self, marked: list[tuple[str, str]]) -> None:
        names = ", ".join(f"{name} <{email}>" if name != email else email for name, email in marked)
        text = f"⚠ Marked do not email: {names}. You may still write to them yourself." if marked else ""
        line = self.query_one("#compose-warning", Label)
        line.update(text)
        line.set_class(bool(marked), "-shown")

    def _find_addresses(self, text: str) -> list[lookup.Choice]:
        with self.app.db.read() as session:
            return mail_send.address_choices(session, query=text)

    @on(Picker.Changed, "#compose-add-picker")
    def _address_picked(self, event: Picker.Changed) -> None:
        if event.choice is None:
            return
        target = self.query_one("#compose-to" if not self.query_one("#compose-to", Input).value.strip()
                                else "#compose-cc", Input)
        known = [a.casefold() for a in _addresses(self.query_one("#compose-to", Input).value)
                 + _addresses(self.query_one("#compose-cc", Input).value)]
        if event.choice.label.casefold() not in known:
            target.value = ", ".join([*_addresses(target.value), event.choice.label])
        event.picker.set_choice(None)

    # -- a template

    @on(Select.Changed, "#compose-template")
    def _template_picked(self, event: Select.Changed) -> None:
        self.template_id = event.value if isinstance(event.value, int) else None
        if self.template_id is not None:
            self._fill(self.template_id)

    @work(thread=True, exclusive=True, group="compose-template", exit_on_error=False)
    def _fill(self, template_id: int) -> Outcome:
        app = self.app
        try:
            with app.db.read() as session:
                draft = mail_send.draft(session, actor=app.actor, template_id=template_id, to=[], **self.links)
        except CrmError as exc:
            # a merge field with no value (or a template that no longer reads): said on the error
            # line, and nothing is filled in
            return Outcome(self.show_error, exc.message)
        return Outcome(self._filled, draft)

    def _filled(self, draft: mail_send.Draft) -> None:
        self.query_one("#compose-subject", Input).value = draft.subject
        self.query_one("#compose-body", TextArea).text = draft.body
        self.show_error("")

    # -- editing in $EDITOR

    def action_editor(self) -> None:
        area = self.query_one("#compose-body", TextArea)
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, name = tempfile.mkstemp(prefix="crm-email-", suffix=".txt")
        path = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(area.text)
            try:
                with self.app.suspend():
                    done = subprocess.run([*shlex.split(editor), str(path)], check=False)
            except SuspendNotSupported:
                self.show_error("This terminal cannot hand over to $EDITOR (in a browser, for one): edit here.")
                return
            except OSError as exc:
                self.show_error(f"Cannot start {editor!r}: {exc.strerror or exc}")
                return
            if done.returncode != 0:
                self.show_error(f"{editor} exited with {done.returncode}: the body is as it was.")
                return
            area.text = path.read_text(encoding="utf-8", errors="replace")
            self.show_error("")
        finally:
            path.unlink(missing_ok=True)
        area.focus()

    # -- preview and send

    def draft(self) -> mail_send.Draft:
        return mail_send.Draft(to=_addresses(self.query_one("#compose-to", Input).value),
                               cc=_addresses(self.query_one("#compose-cc", Input).value),
                               subject=self.query_one("#compose-subject", Input).value,
                               body=self.query_one("#compose-body", TextArea).text,
                               in_reply_to=self.in_reply_to, template_id=self.template_id, **self.links)

    def action_preview(self) -> None:
        self._check(self.draft())

    @work(thread=True, exclusive=True, group="compose-check", exit_on_error=False)
    def _check(self, draft: mail_send.Draft) -> Outcome:
        app = self.app
        try:
            with app.db.read() as session:
                queued = mail_send.send(session, draft=draft, actor=app.actor, now=app.now(), dry_run=True)
        except CrmError as exc:
            return Outcome(self.show_error, exc.message)
        return Outcome(self._previewed, queued)

    def _previewed(self, queued: mail_send.Queued) -> None:
        self.show_error("")

        def answered(send: bool | None) -> None:
            if send:
                self.action_send()

        self.app.push_screen(PreviewScreen(queued), answered)

    def action_send(self) -> None:
        if self.sending:
            return
        try:
            smtp = smtp_settings(self.app.settings)
        except CrmError as exc:
            self.show_error(f"Email is off: {exc.message}")
            return
        if smtp is None:
            self.show_error("Email is off: set up [smtp] in config.toml to send (see the README).")
            return
        self.sending = True
        self.show_error("Sending…")
        self._send(self.draft(), smtp)

    @work(thread=True, exclusive=True, group="compose-send", exit_on_error=False)
    def _send(self, draft: mail_send.Draft, smtp) -> Outcome:
        app = self.app
        now = app.now()
        try:
            with app.db.write() as session:
                queued = mail_send.send(session, draft=draft, actor=app.actor, now=now)
        except CrmError as exc:
            return Outcome(self._refused, exc.message)
        # after commit: the outbox sends it (or keeps it queued while the server is down)
        report = send_queued(app.db, smtp, now=now)
        if queued.outbox_id in report.sent:
            state = "sent"
        elif report.error:
            state = "queued: the mail server is unreachable; it is retried on the next run"
        else:
            state = "queued"
        return Outcome(self._sent, queued, state)

    def _refused(self, message: str) -> None:
        self.sending = False
        self.show_error(message)

    def _sent(self, queued: mail_send.Queued, state: str) -> None:
        self.sending = False
        self.app.notify(f"Email to {', '.join(queued.to)} {state}.", title="Email")
        self.app.data_changed()
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def show_error(self, message: str) -> None:
        line = self.query_one("#compose-error", Label)
        line.update(message)
        line.set_class(bool(message), "-shown")


class PreviewScreen(ModalScreen[bool]):
    """The email as it will go: From, To, Cc, Subject and the body. ctrl+s or enter sends it."""

    CSS_PATH = COMPOSE_CSS
    BINDINGS = [
        Binding("escape", "answer(False)", "Back", id="compose_preview.back"),
        Binding("ctrl+s,enter", "answer(True)", "Send", id="compose_preview.send"),
    ]

    def __init__(self, queued: mail_send.Queued) -> None:
        super().__init__()
        self.queued = queued

    def compose(self) -> ComposeResult:
        q = self.queued
        head = [f"From:    {q.from_addr}", f"To:      {', '.join(q.to)}"]
        if q.cc:
            head.append(f"Cc:      {', '.join(q.cc)}")
        head.append(f"Subject: {q.subject}")
        with Vertical(id="preview-dialog"):
            yield Static("\n".join(head), id="preview-head", markup=False)
            with VerticalScroll(id="preview-body-scroll"):
                yield Static(q.body, id="preview-body", markup=False)
            yield Static("enter or ctrl+s send · esc back to editing", id="preview-keys", markup=False)

    def action_answer(self, send: bool) -> None:
        self.dismiss(send)
