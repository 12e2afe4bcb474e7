"""The Cases area's forms, each on the forms' one base (screens/forms.py FormScreen): a new case, the
list's filters, and the case detail's changes (reply, internal note, assign, priority, status,
merge, link a deal). A change to a stored case names the version it was read at; a teammate's save
in between is compared field by field (screens/conflict.py), never overwritten."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from datetime import datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from crm_tui.errors import CrmError, InvalidInput
from crm_tui.models.case import CHANNELS, PRIORITIES, STATUS_LABELS, STATUSES
from crm_tui.screens.base import Outcome
from crm_tui.screens.conflict import put_pick
from crm_tui.screens.forms import (
    FormConflicts, FormScreen, _choices, _field, _input, _selected, pick_id, picked, user_picker,
)
from crm_tui.services import cases, email_templates, mail_send
from crm_tui.services.common import Actor
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import ME, Picker

@dataclass(frozen=True)
class CaseCard:
    """A case as the detail's card and its dialogs show it: the stored row, and the names of what
    it links to (read in the worker that read the case)."""

    case: Any  # the case's columns, copied while its session was open (case_values)
    contact: str | None
    company: str | None
    assignee: str | None
    deal: str | None
    merged_into: int | None = None

    @property
    def id(self) -> int:
        return self.case.id

    @property
    def version(self) -> int:
        return self.case.version

    @property
    def title(self) -> str:
        return f"#{self.case.id} {self.case.subject}"


def case_values(case) -> SimpleNamespace:
    """A case's columns as plain values: a read session ends with a rollback, which expires the
    ORM object (its attributes would then need that session)."""
    return SimpleNamespace(**{name: getattr(case, name) for name in type(case).model_fields})


def read_card(session, case_id: int, actor: Actor) -> CaseCard:
    """The case (case.view checked by the service) and its links' names."""
    case = cases.get_case(session, case_id, actor=actor)
    named = cases.names(session, case)
    return CaseCard(case_values(case), named["contact"], named["company"], named["assignee"], named["deal"],
                    case.merged_into_id)


class OneLineErrors:
    """Any refusal of the service (a role's, too) on the form's one error line, the form kept as typed."""

    def report_failure(self, error: Exception, title: str = "Could not save") -> None:
        if isinstance(error, CrmError):
            self.report_rejected(error.message)
        else:
            super().report_failure(error, title)


# --- a new case -----------------------------------------------------------------------------------


class NewCaseForm(OneLineErrors, FormScreen["Any | None"]):
    """Subject, description, the customer (contact and company pickers), channel, category,
    priority, assignee and team. It dismisses with the case made."""

    ENTER_SAVES = False

    def __init__(self, *, team: str | None = None) -> None:
        super().__init__()
        self.team = team

    def form_title(self) -> str:
        return "New case"

    def compose_fields(self) -> ComposeResult:
        yield _field("Subject", _input("case-subject", placeholder="what the customer needs, in a line"))
        yield _field("Details", TextArea(id="case-description", compact=True, soft_wrap=True))
        for kind in ("contact", "company"):
            yield _field(kind.capitalize(), Picker(kind, id=f"case-{kind}"))
        yield _field("Channel", Select(_choices(CHANNELS), id="case-channel", value="phone", allow_blank=False,
                                       compact=True))
        yield _field("Category", _input("case-category", placeholder="e.g. billing, login, bug (optional)"))
        yield _field("Priority", Select(_choices(PRIORITIES), id="case-priority", value="normal",
                                        allow_blank=False, compact=True))
        yield _field("Assignee", user_picker("case-assignee", None, None, empty="unassigned"))
        default_team = getattr(getattr(self.app.settings, "support", None), "team", None)
        yield _field("Team", _input("case-team", self.team or "",
                                    placeholder=f"the queue; empty: {default_team or 'no team'}"))

    def on_mount(self) -> None:
        self.query_one("#case-subject", Input).focus()

    def values(self) -> dict[str, Any]:
        return {
            "subject": self.query_one("#case-subject", Input).value,
            "description": self.query_one("#case-description", TextArea).text,
            "contact": picked(self, "case-contact"), "company": picked(self, "case-company"),
            "channel": _selected(self.query_one("#case-channel", Select)),
            "category": self.query_one("#case-category", Input).value.strip() or None,
            "priority": _selected(self.query_one("#case-priority", Select)),
            "assignee": picked(self, "case-assignee"),
            "team": self.query_one("#case-team", Input).value.strip() or None,
        }

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        assignee = values["assignee"]
        assignee_id = actor.user_id if assignee == ME.id else pick_id(session, "user", assignee)
        return cases.create_case(
            session, actor=actor, subject=values["subject"], description=values["description"],
            contact_id=pick_id(session, "contact", values["contact"], now=now),
            company_id=pick_id(session, "company", values["company"], now=now),
            channel=values["channel"] or "phone", category=values["category"],
            priority=values["priority"] or "normal", assignee_id=assignee_id,
            team=values["team"], now=now)


# --- the list's filters -------------------------------------------------------------------------------


class CaseFilterForm(FormScreen["tuple[dict, dict] | None"]):
    """Status, priority, category and assignee (me, nobody or a person). It reads only: the
    assignee typed is resolved as the pickers resolve it, and the form dismisses with
    (filters, the texts to show them by)."""

    HINT = "^s apply · ^r reset · esc cancel"
    BINDINGS = [Binding("ctrl+r", "reset", "Reset", id="case_filter.reset")]

    def __init__(self, filters: dict, texts: dict) -> None:
        super().__init__()
        self.filters, self.texts = dict(filters), dict(texts)

    def form_title(self) -> str:
        return "Filter cases"

    def compose_buttons(self) -> ComposeResult:
        yield Button("Apply", id=self.part("save"), variant="primary", compact=True)
        yield Button("Cancel", id=self.part("cancel"), compact=True)

    def compose_fields(self) -> ComposeResult:
        f = self.filters
        yield _field("Status", Select([(STATUS_LABELS[s], s) for s in STATUSES], id="filter-status",
                                      value=f.get("status") or Select.NULL, prompt="(any)", compact=True))
        yield _field("Priority", Select(_choices(PRIORITIES), id="filter-priority",
                                        value=f.get("priority") or Select.NULL, prompt="(any)", compact=True))
        yield _field("Category", _input("filter-category", f.get("category") or "", placeholder="(any)"))
        assignee = self.texts.get("assignee")
        choice = Choice("user", f["assignee_id"], assignee) if f.get("assignee_id") is not None and assignee else None
        yield _field("Assignee", Picker("user", id="filter-assignee", choice=choice, extras=(ME,),
                                        placeholder="me, or a name (any if empty)"))

    def values(self) -> dict[str, Any]:
        return {"status": _selected(self.query_one("#filter-status", Select)),
                "priority": _selected(self.query_one("#filter-priority", Select)),
                "category": self.query_one("#filter-category", Input).value.strip() or None,
                "assignee": picked(self, "filter-assignee"),
                "assignee_text": self.query_one("#filter-assignee", Input).value.strip()}

    def action_reset(self) -> None:
        self.dismiss(({}, {}))

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _save(self, app: App, values: dict[str, Any], now: datetime) -> Outcome:
        try:
            with app.db.read() as session:
                assignee = values["assignee"]
                assignee_id = "@me" if assignee == ME.id else pick_id(session, "user", assignee)
        except CrmError as exc:
            return Outcome(self.report_rejected, exc.message)
        filters = {k: values[k] for k in ("status", "priority", "category") if values[k]}
        texts = {}
        if assignee_id is not None:
            filters["assignee_id"] = assignee_id
            texts["assignee"] = values["assignee_text"] or str(assignee_id)
        return Outcome(self.report_saved, (filters, texts))


# --- the detail's changes --------------------------------------------------------------------------


class _CaseChange(OneLineErrors, FormConflicts, FormScreen["Any | None"]):
    """A change to one stored case: it saves with the version it was read at; a teammate's save in
    between is compared field by field (CONFLICT_FIELDS): a change to another field merges and
    saves again, the same field asks (FieldConflictScreen)."""

    FORM_ID = "form"

    def __init__(self, card: CaseCard) -> None:
        super().__init__()
        self.card = card

    def base_version(self) -> int:
        return self.card.version

    def opened_record(self) -> CaseCard:
        return self.card

    def record_values(self, record: CaseCard) -> dict[str, Any]:
        return {name: getattr(record.case, name) for name in self.CONFLICT_FIELDS}

    def fetch_current(self, session) -> CaseCard:
        return read_card(session, self.card.id, self.app.actor)

    def rebase(self, record: CaseCard) -> None:
        self.card = record

    def _user_names(self, *records: Any) -> dict[Any, str]:
        names = {r.case.assignee_id: r.assignee for r in records if r.case.assignee_id is not None}
        return {**names, **super()._user_names()}


class PriorityForm(_CaseChange):
    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {"priority": "Priority"}

    def form_title(self) -> str:
        return f"Priority · {self.card.title}"

    def compose_fields(self) -> ComposeResult:
        yield _field("Priority", Select(_choices(PRIORITIES), id="case-priority", value=self.card.case.priority,
                                        allow_blank=False, compact=True))

    def on_mount(self) -> None:
        self.query_one("#case-priority", Select).focus()

    def form_values(self) -> dict[str, Any]:
        return {"priority": _selected(self.query_one("#case-priority", Select))}

    def values(self) -> dict[str, Any]:
        return self.form_values()

    def put_values(self, values: dict[str, Any], record: CaseCard) -> None:
        self.query_one("#case-priority", Select).value = values["priority"]

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        return cases.set_priority(session, self.card.id, values["priority"], actor=actor,
                                  version=self.card.version, now=now)


class StatusForm(_CaseChange):
    """new, open, waiting on the customer, resolved (the CSAT survey goes out) or closed; a resolved
    or closed case reopens by choosing open."""

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {"status": "Status"}

    def form_title(self) -> str:
        return f"Status · {self.card.title}"

    def compose_fields(self) -> ComposeResult:
        yield _field("Status", Select([(STATUS_LABELS[s], s) for s in STATUSES], id="case-status",
                                      value=self.card.case.status, allow_blank=False, compact=True))

    def on_mount(self) -> None:
        self.query_one("#case-status", Select).focus()

    def form_values(self) -> dict[str, Any]:
        return {"status": _selected(self.query_one("#case-status", Select))}

    def values(self) -> dict[str, Any]:
        return self.form_values()

    def put_values(self, values: dict[str, Any], record: CaseCard) -> None:
        self.query_one("#case-status", Select).value = values["status"]

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        status, was = values["status"], self.card.case.status
        if status == was:
            raise InvalidInput(f"the case is {STATUS_LABELS.get(was, was).lower()} already")
        kwargs = {"actor": actor, "version": self.card.version, "now": now}
        if status == "resolved":
            return cases.resolve(session, self.card.id, settings=self.app.settings, **kwargs)
        if status == "closed":
            return cases.close(session, self.card.id, **kwargs)
        if was in ("resolved", "closed") and status == "open":
            return cases.reopen(session, self.card.id, **kwargs)
        return cases.set_status(session, self.card.id, status, settings=self.app.settings, **kwargs)


class AssignForm(_CaseChange):
    """The assignee (a person, me, or nobody) and the team (the queue)."""

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {"assignee_id": "Assignee", "team": "Team"}
    OWNER_FIELD = "assignee_id"

    def form_title(self) -> str:
        return f"Assign · {self.card.title}"

    def compose_fields(self) -> ComposeResult:
        c = self.card
        yield _field("Assignee", user_picker("case-assignee", c.case.assignee_id, c.assignee, empty="unassigned",
                                             extras=(ME,)))
        yield _field("Team", _input("case-team", c.case.team or "", placeholder="the queue; empty: no team"))

    def on_mount(self) -> None:
        self.query_one("#case-assignee", Input).focus()

    def form_values(self) -> dict[str, Any]:
        assignee = picked(self, "case-assignee")
        return {"assignee_id": self.app.actor.user_id if assignee == ME.id else assignee,
                "team": self.query_one("#case-team", Input).value.strip() or None}

    def values(self) -> dict[str, Any]:
        return self.form_values()

    def put_values(self, values: dict[str, Any], record: CaseCard) -> None:
        put_pick(self.query_one("#case-assignee-picker", Picker), values["assignee_id"], record.assignee)
        self.query_one("#case-team", Input).value = values["team"] or ""

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        return cases.assign(session, self.card.id, actor=actor, assignee_id=pick_id(session, "user",
                                                                                    values["assignee_id"]),
                            team=values["team"], version=self.card.version, now=now)


class NoteForm(OneLineErrors, FormScreen["Any | None"]):
    """An internal note: on the thread, never sent to the customer."""

    ENTER_SAVES = False

    def __init__(self, card: CaseCard) -> None:
        super().__init__()
        self.card = card

    def form_title(self) -> str:
        return f"Internal note · {self.card.title}"

    def compose_fields(self) -> ComposeResult:
        yield Static("Only your team sees it; the customer never does.", classes="form-section")
        yield TextArea(id="case-note", soft_wrap=True, compact=True, classes="case-text")

    def on_mount(self) -> None:
        self.query_one("#case-note", TextArea).focus()

    def values(self) -> dict[str, Any]:
        return {"body": self.query_one("#case-note", TextArea).text}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        return cases.note(session, self.card.id, actor=actor, body=values["body"], now=now)


class ReplyForm(OneLineErrors, FormScreen["Any | None"]):
    """A reply to the customer, by email through the outbox, threaded on the case's last email with
    [#id] in its subject (cases.reply). An email template is a canned reply: choosing one fills the
    body, merged for the case's contact; the body stays editable."""

    ENTER_SAVES = False
    HINT = "ctrl+s send · esc cancel"

    def __init__(self, card: CaseCard) -> None:
        super().__init__()
        self.card = card
        self.template_id: int | None = None

    def form_title(self) -> str:
        return f"Reply · {self.card.title}"

    def compose_buttons(self) -> ComposeResult:
        yield Button("Send", id=self.part("save"), variant="primary", compact=True)
        yield Button("Cancel", id=self.part("cancel"), compact=True)

    def compose_fields(self) -> ComposeResult:
        c = self.card
        to = c.case.from_addr or c.contact or "the case's contact"
        yield _field("To", Label(to, id="reply-to", markup=False))
        yield _field("Cc", _input("reply-cc", placeholder="addresses, comma separated (optional)"))
        yield _field("Canned", Select([], id="reply-template", prompt="(none: write it)", compact=True))
        yield TextArea(id="reply-body", soft_wrap=True, compact=True, classes="case-text")

    def on_mount(self) -> None:
        self.query_one("#reply-body", TextArea).focus()
        self._templates(self.app)

    @work(thread=True, exclusive=True, group="reply-templates", exit_on_error=False)
    def _templates(self, app: App) -> Outcome:
        with app.db.read() as session:
            found = email_templates.list_templates(session, actor=app.actor)
        return Outcome(self._show_templates, found)

    def _show_templates(self, found: list) -> None:
        self.query_one("#reply-template", Select).set_options([(t.name, t.id) for t in found])

    @on(Select.Changed, "#reply-template")
    def _picked(self, event: Select.Changed) -> None:
        self.template_id = event.value if isinstance(event.value, int) else None
        if self.template_id is not None:
            self._fill(self.app, self.template_id)

    @work(thread=True, exclusive=True, group="reply-fill", exit_on_error=False)
    def _fill(self, app: App, template_id: int) -> Outcome:
        c = self.card.case
        try:
            with app.db.read() as session:
                draft = mail_send.draft(session, actor=app.actor, template_id=template_id, to=[],
                                        contact_id=c.contact_id, company_id=c.company_id, deal_id=c.deal_id)
        except CrmError as exc:  # a merge field with no value: said, and nothing filled in
            return Outcome(self.show_error, exc.message)
        return Outcome(self._filled, draft)

    def _filled(self, draft) -> None:
        self.query_one("#reply-body", TextArea).text = draft.body
        self.show_error("")

    def values(self) -> dict[str, Any]:
        cc = [a.strip() for a in self.query_one("#reply-cc", Input).value.replace(";", ",").split(",") if a.strip()]
        return {"body": self.query_one("#reply-body", TextArea).text, "cc": tuple(cc),
                "template_id": self.template_id}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        return cases.reply(session, self.card.id, actor=actor, body=values["body"], cc=values["cc"],
                           template_id=values["template_id"], settings=self.app.settings, now=now)


class MergeForm(OneLineErrors, FormScreen["Any | None"]):
    """Merge another case into this one: its thread moves here, and it is closed as merged. The
    case is named by its number (#42 or 42); a yes/no names both before anything is written."""

    def __init__(self, card: CaseCard) -> None:
        super().__init__()
        self.card = card

    def form_title(self) -> str:
        return f"Merge into {self.card.title}"

    def compose_fields(self) -> ComposeResult:
        yield Static("The other case's thread moves here, and it is closed as merged.", classes="form-section")
        yield _field("Case", _input("merge-case", placeholder="its number, e.g. #42"))

    def on_mount(self) -> None:
        self.query_one("#merge-case", Input).focus()

    def values(self) -> dict[str, Any]:
        return {"other": self.query_one("#merge-case", Input).value.strip()}

    def other_id(self, text: str) -> int:
        number = text.lstrip("#").strip()
        if not number.isdigit():
            raise InvalidInput(f"case {text!r}: give its number, e.g. #42")
        if int(number) == self.card.id:
            raise InvalidInput("a case cannot be merged into itself: give the other case's number")
        return int(number)

    def confirm_before_save(self, values: dict[str, Any], now: datetime) -> str | None:
        try:
            other = self.other_id(values["other"])
        except InvalidInput:
            return None  # saving says why
        return f"Merge case #{other} into {self.card.title}? #{other} is closed and its thread moves here."

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        return cases.merge_cases(session, keep_id=self.card.id, merge_id=self.other_id(values["other"]),
                                 actor=actor, now=now)


class LinkDealForm(_CaseChange):
    """The deal the case is about: a deal picker (the customer's deals come first as you type)."""

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {"deal_id": "Deal"}

    def form_title(self) -> str:
        return f"Link a deal · {self.card.title}"

    def compose_fields(self) -> ComposeResult:
        c = self.card
        choice = Choice("deal", c.case.deal_id, c.deal or f"#{c.case.deal_id}") if c.case.deal_id else None
        yield _field("Deal", Picker("deal", id="case-deal", choice=choice))

    def on_mount(self) -> None:
        self.query_one("#case-deal", Input).focus()

    def form_values(self) -> dict[str, Any]:
        return {"deal_id": picked(self, "case-deal")}

    def values(self) -> dict[str, Any]:
        return self.form_values()

    def put_values(self, values: dict[str, Any], record: CaseCard) -> None:
        put_pick(self.query_one("#case-deal-picker", Picker), values["deal_id"], record.deal)

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        deal_id = pick_id(session, "deal", values["deal_id"], now=now)
        if deal_id is None:
            raise InvalidInput("choose a deal to link (type part of its title)")
        return cases.link_deal(session, self.card.id, deal_id, actor=actor, version=self.card.version, now=now)

