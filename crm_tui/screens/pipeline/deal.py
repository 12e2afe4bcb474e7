"""One deal: its fields (edited in a modal form with conflict detection), its contact and company,
the stage history, and tabs for its activities, open tasks and changes. The lost-reason picker
lives here too; the board uses it as well."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static, TabPane
from textual.widgets.option_list import Option

from crm_tui.clock import get_zone
from crm_tui.errors import CrmError
from crm_tui.models.schemas import DealRead, StageRead
from crm_tui.screens.base import Outcome, ReportsWorkerErrors, plain_cell
from crm_tui.screens.deal_items import DealItemsTab
from crm_tui.screens.detail import history_columns, paged, tab_keys, task_columns, timeline_columns
from crm_tui.screens.conflict import put_pick
from crm_tui.screens.pipeline import deal_quotes
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import (
    ConfirmScreen,
    FormConflicts,
    FormScreen,
    LogActivityForm,
    TaskForm,
    _company_id,
    _field,
    _input,
    pick_id,
    picked,
    user_picker,
)
from crm_tui.services import activities, audit, board, deals, lookup, pipelines, tasks
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import Picker
from crm_tui.services import money
from crm_tui.services.common import Actor
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import KeysetTable

CSS = [FORMS_CSS, "pipeline.tcss"]


class DealDetailScreen(DealItemsTab):  # the Items tab: screens/deal_items.py
    AREA = "pipeline"
    KIND = "deal"
    CSS_PATH = CSS
    AUTO_FOCUS = "#deal-activities"
    TIMELINE = "deal-activities"
    TASKS = "deal-tasks"
    BINDINGS = [
        Binding("e", "edit", "Edit", id="deal.edit"),
        Binding("l", "log", "Log", id="deal.log"),
        Binding("t", "add_task", "Task", id="deal.task"),
        Binding("c", "open_contact", "Contact", id="deal.contact"),
        Binding("o", "open_company", "Company", id="deal.company"),
        Binding("w", "won", "Won", show=False, id="deal.won"),
        Binding("L", "lost", "Lost", show=False, id="deal.lost"),
        Binding("s", "move_stage", "Stage", id="deal.stage"),
        Binding("r", "reopen", "Reopen", show=False, id="deal.reopen"),
        Binding("a", "archive", "Archive", show=False, id="deal.archive"),
        Binding("u", "undo", "Undo", show=False, id="deal.undo"),
        *tab_keys("deal", shown=False),
    ]
    NEEDS = {"edit": "deal.edit", "won": "deal.edit", "lost": "deal.edit", "log": "activity.log",
             "add_task": "task.edit", "archive": "deal.edit"}

    def __init__(self, deal_id: int) -> None:
        super().__init__(deal_id)
        self.deal: DealRead | None = None
        self._undo: str | None = None  # what u undoes: "archive" or "activity" (the last done here)

    @property
    def deal_id(self) -> int:
        return self.record_id

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Activities", id="tab-deal-activities"):
            yield KeysetTable(timeline_columns(self.app), noun="activities", id="deal-activities", counted=False,
                              empty_text="No activities on this deal yet. Press l to log one.")
        with TabPane("Tasks", id="tab-deal-tasks"):
            yield KeysetTable(task_columns(self.app), noun="open tasks", id="deal-tasks", counted=False,
                              empty_text="No open tasks. Press t to add one.")
        with TabPane("Stages", id="tab-deal-stages"):
            with VerticalScroll(id="deal-stages-scroll"):
                yield Static("", id="deal-stages")
        yield from self.compose_items_tab()
        yield from deal_quotes.compose_tab()
        with TabPane("History", id="tab-deal-history"):  # History stays the last tab everywhere
            yield KeysetTable(history_columns(self.app), noun="changes", id="deal-history", counted=False,
                              empty_text="No changes recorded.")

    def fetchers(self) -> dict:
        db, did, now = self.app.db, self.deal_id, self.app.now()
        return {
            "deal-activities": paged(db, lambda s, **k: activities.timeline(s, deal_id=did, **k)),
            "deal-tasks": paged(db, lambda s, **k: tasks.list_tasks(s, status="open", deal_id=did, now=now, **k)),
            "deal-history": paged(db, lambda s, **k: audit.list_events(s, entity="deal", entity_id=did, **k)),
            **self.items_fetchers(),
            **deal_quotes.fetchers(db, did),
        }

    def read_card(self, session) -> tuple[DealRead, list[board.StageStay], int | None]:
        deal = deals.get_deal(session, deal_id=self.deal_id)
        stays = board.stage_history(session, deal_id=self.deal_id, now=self.app.now())
        rotting = pipelines.resolve_stage(session, deal.pipeline_id, deal.stage_id).rotting_days
        return deal, stays, rotting

    def show_card(self, d: DealRead, stays: list[board.StageStay], rotting: int | None) -> None:
        self.deal = d
        now, zone = self.app.now(), get_zone(self.app.actor.timezone)
        days = board.days_in_stage(d.stage_entered_at, now)
        stale = d.status == "open" and board.is_stale(d.stage_entered_at, rotting, now)
        status = {"won": "[b $success]won[/]", "lost": "[b $error]lost[/]"}.get(d.status, "open")
        in_stage = f"{days}d in stage" + (f" [b $error]stale[/] [dim]>{rotting}d[/dim]" if stale else "")
        # the markup is ours; each $value goes in as plain text, never read as markup
        lines = [
            f"[b]$title[/b]  {status}" + (" — $reason" if d.lost_reason else "")
            + ("  [reverse] archived [/]" if d.archived else ""),
            f"[dim]Amount[/dim] $amount   [dim]Stage[/dim] $pipeline › $stage ({d.probability}%)   {in_stage}",
            "[dim]Company[/dim] $company [dim](o)[/dim]   [dim]Contact[/dim] $contact [dim](c)[/dim]",
            "[dim]Owner[/dim] $owner   [dim]Close by[/dim] $close"
            + ("   [dim]closed[/dim] $closed" if d.closed_at else "")
            + "   [dim]created[/dim] $created",
        ]
        card = Content.from_markup(
            "\n".join(lines), title=d.title, reason=d.lost_reason or "", amount=fmt.money(d.amount_minor, d.currency),
            pipeline=d.pipeline_name or "", stage=d.stage_name or "", company=d.company_name or "—",
            contact=d.contact_name or "—", owner=d.owner_login or "—", close=d.expected_close or "—",
            closed=fmt.stamp(d.closed_at, zone) if d.closed_at else "", created=fmt.stamp(d.created_at, zone))
        self.query_one("#deal-card", Static).update(card)
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold dim")
        table.add_column("Stage", ratio=2)
        table.add_column("Entered", ratio=2)
        table.add_column("Left", ratio=2)
        table.add_column("Days", justify="right", ratio=1)
        for stay in stays:
            table.add_row(plain_cell(stay.stage_name), fmt.stamp(stay.entered_at, zone),
                          fmt.stamp(stay.left_at, zone) if stay.left_at else "[i]now[/i]", str(stay.days))
        self.query_one("#deal-stages", Static).update(table)

    # --- actions ---------------------------------------------------------------------------------

    def action_edit(self) -> None:
        if self.deal is not None:
            self.app.push_screen(DealEditForm(self.deal), self._saved)

    def action_log(self) -> None:
        d = self.deal
        if d is not None:
            self.app.push_screen(LogActivityForm(contact_id=d.contact_id, company_id=d.company_id, deal_id=d.id),
                                 self._saved)

    def action_add_task(self) -> None:
        d = self.deal
        if d is not None:
            self.app.push_screen(TaskForm(contact_id=d.contact_id, company_id=d.company_id, deal_id=d.id),
                                 self._saved)

    def _saved(self, result: Any) -> None:
        if result is not None:
            self.app.data_changed()

    def action_open_contact(self) -> None:
        if self.deal is None or self.deal.contact_id is None:
            self.notify("This deal has no contact.", severity="warning")
            return
        self.app.open_record("contact", self.deal.contact_id)

    def action_open_company(self) -> None:
        if self.deal is None or self.deal.company_id is None:
            self.notify("This deal has no company.", severity="warning")
            return
        self.app.open_record("company", self.deal.company_id)

    def action_won(self) -> None:
        d = self.deal
        if d is not None:
            self._close(d, "won", None)

    def action_lost(self) -> None:
        d = self.deal
        if d is not None:
            self._close(d, "lost", None)

    def action_move_stage(self) -> None:
        """Pick any other stage of the deal's pipeline: open ones move (or reopen) it, Won and
        Lost close it."""
        d = self.deal
        if d is None:
            return

        def picked(stage: StageRead | None) -> None:
            if stage is None:
                return
            if stage.kind != "open":
                self._close(d, stage.kind, stage.id)
                return
            self._write(lambda s, actor, now: deals.move_deal(s, deal_id=d.id, stage_id=stage.id, actor=actor,
                                                              version=d.version, now=now))

        self.app.push_screen(StagePickerScreen(d, open_only=False), picked)

    def action_reopen(self) -> None:
        d = self.deal
        if d is None:
            return
        if d.status == "open":
            self.notify("This deal is open; s moves it to another stage.", severity="warning")
            return

        def picked(stage: StageRead | None) -> None:
            if stage is not None:
                self._write(lambda s, actor, now: deals.reopen_deal(s, deal_id=d.id, stage_id=stage.id, actor=actor,
                                                                    version=d.version, now=now))

        self.app.push_screen(StagePickerScreen(d, open_only=True), picked)

    def _close(self, d: DealRead, kind: str, stage_id: int | None) -> None:
        """Mark the deal won or lost; a lost deal won (or a won one lost) is asked about first, and
        a lost one asks why."""
        if d.status == kind:
            self.notify(f"This deal is already {kind}.", severity="warning")
            return

        def write(reason: str | None = None) -> None:
            overturn = deals.overturns(d.status, kind)
            if kind == "won":
                self._write(lambda s, actor, now: deals.mark_won(s, deal_id=d.id, actor=actor, version=d.version,
                                                                 now=now, overturn=overturn))
            elif reason:
                self._write(lambda s, actor, now: deals.mark_lost(s, deal_id=d.id, reason=reason, actor=actor,
                                                                  version=d.version, now=now, overturn=overturn))

        def go(confirmed: bool = True) -> None:
            if not confirmed:
                return
            if kind == "lost":
                self.app.push_screen(LostReasonScreen(d.title), write)
            else:
                write()

        if deals.overturns(d.status, kind):
            question = f"{d.title} was {d.status}. Mark it {kind} instead?"
            self.app.push_screen(ConfirmScreen(question, f"Mark {kind}"), go)
        else:
            go()

    @work(thread=True, exclusive=True, group="deal-write", exit_on_error=False)
    def _write(self, change) -> Outcome:
        with self.app.db.write() as session:
            change(session, self.app.actor, self.app.now())
        return Outcome(self.app.data_changed)

    def action_archive(self) -> None:
        """a archives the deal (asked first; it leaves the board and the lists) or brings an
        archived one back; u undoes it."""
        d = self.deal
        if d is None:
            return
        if d.archived:
            self._set_archived(d.id, False, d.version)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._set_archived(d.id, True, d.version)

        self.app.push_screen(ConfirmScreen(f"Archive {d.title}? It leaves the board and the lists "
                                           "(nothing is deleted); u undoes it.", "Archive"), answer)

    @work(thread=True, exclusive=True, group="deal-write", exit_on_error=False)
    def _set_archived(self, deal_id: int, archived: bool, version: int | None) -> Outcome:
        with self.app.db.write() as session:
            deal = deals.set_deal_archived(session, deal_id=deal_id, archived=archived, actor=self.app.actor,
                                           version=version, now=self.app.now())
        return Outcome(self._archived, deal)

    def _archived(self, deal: DealRead) -> None:
        self._undo = "archive" if deal.archived else None
        if deal.archived:
            self.notify(f"Archived {deal.title}. Press u to undo.")
        else:
            self.notify(f"{deal.title} is back on the board.")
        self.app.data_changed()

    def _activity_closed(self, result) -> None:
        super()._activity_closed(result)
        if result is not None and result[0] == "deleted":
            self._undo = "activity"

    def action_undo(self) -> None:
        """u undoes the last archive or activity delete done here."""
        undo, self._undo = self._undo, None
        if undo == "archive" and self.deal is not None:
            self._set_archived(self.deal.id, False, None)
        elif undo == "activity" and self.undo_activity_delete():
            pass
        else:
            self.notify("Nothing to undo here.", severity="warning")



# --- editing a deal ---------------------------------------------------------------------------------


def _amount_text(amount_minor: int, currency: str, locale: str | None) -> str:
    """The amount as the form holds it: written the way the user's locale reads it back."""
    return money.input_text(amount_minor, currency, locale=locale)


DEAL_FIELDS = {"title": "Title", "amount": "Amount", "currency": "Currency", "expected_close": "Close by",
               "company": "Company", "contact": "Contact", "owner_id": "Owner"}


def _deal_values(d: DealRead, locale: str | None) -> dict[str, Any]:
    """A stored deal as the edit form holds it (the shape the three-way compare works on)."""
    return {"title": d.title, "amount": _amount_text(d.amount_minor, d.currency, locale), "currency": d.currency,
            "expected_close": str(d.expected_close or ""), "company": d.company_name or "",
            "contact": d.contact_name or "", "owner_id": d.owner_id}


class DealEditForm(FormConflicts, FormScreen[DealRead | None]):
    """Edit a deal's fields. It saves only what changed, with the version it was opened at; when a
    teammate saved the deal meanwhile, different fields merge and the same field asks (conflict.py)."""

    CONFLICT_FIELDS = DEAL_FIELDS

    def __init__(self, deal: DealRead) -> None:
        super().__init__()
        self.deal = deal

    def form_title(self) -> str:
        return f"Edit deal · {self.deal.title}"

    def compose_fields(self) -> ComposeResult:
        d = self.deal
        yield _field("Title", _input("title", d.title))
        yield _field("Amount", _input("amount", _amount_text(d.amount_minor, d.currency, self.app.actor.locale)))
        yield _field("Currency", _input("currency", d.currency, max_length=3))
        yield _field("Close by", _input("expected_close", str(d.expected_close or ""),
                                        placeholder="e.g. 2026-12-31, end of month, +30d"))
        company = Choice("company", d.company_id, d.company_name or f"#{d.company_id}") if d.company_id else None
        contact = Choice("contact", d.contact_id, d.contact_name or f"#{d.contact_id}") if d.contact_id else None
        yield _field("Company", Picker("company", id="company", choice=company,
                                       placeholder="type to find; a new name asks to add it"))
        yield _field("Contact", Picker("contact", id="contact", choice=contact))
        yield _field("Owner", user_picker("owner", d.owner_id, d.owner_login))

    def form_values(self) -> dict[str, Any]:
        text = {id_: self.query_one(f"#{id_}", Input).value.strip()
                for id_ in ("title", "amount", "currency", "expected_close", "company", "contact")}
        return {**text, "owner_id": picked(self, "owner")}

    def values(self) -> dict[str, Any]:
        before = _deal_values(self.deal, self.app.actor.locale)
        changed = {k: v for k, v in self.form_values().items() if v != before[k]}
        picks = {kind: self.query_one(f"#{kind}-picker", Picker).chosen_id for kind in ("company", "contact")}
        return {"changes": changed, "deal_id": self.deal.id, "version": self.deal.version,
                "create_company": self.create_company, "picks": picks}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> DealRead:
        changes, picks, deal = dict(values["changes"]), values["picks"], self.deal
        if "owner_id" in changes:
            changes["owner_id"] = pick_id(session, "user", changes["owner_id"])
        if picks["company"] is not None and picks["company"] != deal.company_id:
            changes.pop("company", None)
            changes["company_id"] = picks["company"]
        elif "company" in changes:
            changes["company_id"] = _company_id(session, changes.pop("company"), actor, now,
                                                create=values["create_company"])
        if picks["contact"] is not None and picks["contact"] != deal.contact_id:
            changes.pop("contact", None)
            changes["contact_id"] = picks["contact"]
        elif "contact" in changes:
            found = lookup.resolve(session, kind="contact", text=changes.pop("contact"), now=now)
            changes["contact_id"] = found.id if found else None
        if "expected_close" in changes and not changes["expected_close"]:
            changes["expected_close"] = None
        return deals.update_deal(session, deal_id=values["deal_id"], changes=changes, actor=actor,
                                 version=values["version"], now=now)

    # -- conflicts (screens/conflict.py)

    def opened_record(self) -> DealRead:
        return self.deal

    def record_values(self, record: DealRead) -> dict[str, Any]:
        return _deal_values(record, self.app.actor.locale)

    def put_values(self, values: dict[str, Any], record: DealRead) -> None:
        for id_ in ("title", "amount", "currency", "expected_close", "company", "contact"):
            self.query_one(f"#{id_}", Input).value = values[id_]
        put_pick(self.query_one("#owner-picker", Picker), values["owner_id"], record.owner_login)

    def fetch_current(self, session) -> DealRead:
        return deals.get_deal(session, deal_id=self.deal.id)

    def rebase(self, record: DealRead) -> None:
        self.deal = record
        self.query_one("#form-title", Label).update(self.form_title())



# --- why a deal was lost --------------------------------------------------------------------------


class LostReasonScreen(ReportsWorkerErrors, ModalScreen[str | None]):
    """Pick one of the team's lost reasons, or type another."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#lost-reasons"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="lost.cancel")]

    def __init__(self, deal_title: str) -> None:
        super().__init__()
        self.deal_title = deal_title

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label(Content.from_markup("Why was [b]$title[/b] lost?", title=self.deal_title), id="picker-title")
            yield OptionList(id="lost-reasons")
            yield Input(placeholder="or type another reason, then enter", id="lost-other", compact=True)
            yield Label("[dim]enter chooses · tab to type · esc cancels[/dim]", id="picker-hint")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="lost-reasons", exit_on_error=False)
    def load(self) -> Outcome:
        try:
            with self.app.db.read() as session:
                reasons = pipelines.list_lost_reasons(session)
        except CrmError:
            reasons = []
        return Outcome(self._show, reasons)

    def _show(self, reasons: list[str]) -> None:
        options = self.query_one("#lost-reasons", OptionList)
        options.add_options([Option(Content(r), id=str(i)) for i, r in enumerate(reasons)])
        self.reasons = reasons
        if reasons:
            options.highlighted = 0
        else:
            self.query_one("#lost-other", Input).focus()

    @on(OptionList.OptionSelected, "#lost-reasons")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.reasons[int(event.option.id)])

    @on(Input.Submitted, "#lost-other")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- which stage ----------------------------------------------------------------------------------


class StagePickerScreen(ReportsWorkerErrors, ModalScreen[StageRead | None]):
    """Pick a stage of the deal's pipeline other than its own (only open ones, to reopen it)."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#stages"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="stage.cancel")]

    def __init__(self, deal: DealRead, *, open_only: bool) -> None:
        super().__init__()
        self.deal, self.open_only = deal, open_only
        self.stages: list[StageRead] = []

    def compose(self) -> ComposeResult:
        verb = "Reopen" if self.open_only else "Move"
        with Vertical(id="picker"):
            yield Label(Content.from_markup(f"{verb} [b]$title[/b] to", title=self.deal.title), id="picker-title")
            yield OptionList(id="stages")
            yield Label("[dim]enter chooses · esc cancels[/dim]", id="picker-hint")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="deal-stages", exit_on_error=False)
    def load(self) -> Outcome:
        with self.app.db.read() as session:
            pipeline = pipelines.get_pipeline(session, pipeline_id=self.deal.pipeline_id)
        return Outcome(self._show, pipeline.stages)

    def _show(self, stages: list[StageRead]) -> None:
        self.stages = [s for s in stages if s.id != self.deal.stage_id and (s.kind == "open" or not self.open_only)]
        options = self.query_one("#stages", OptionList)
        options.add_options([Option(Content(f"{s.name}  ({s.probability}%)" if s.kind == "open" else s.name), id=str(i))
                             for i, s in enumerate(self.stages)])
        if self.stages:
            options.highlighted = 0

    @on(OptionList.OptionSelected, "#stages")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.stages[int(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)
