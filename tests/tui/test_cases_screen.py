"""The Cases area and the case detail, driven through the real app with a pilot (issue 23): the
queues and their counts, paging, search and filters, a new case, the detail's keys checked in the
database afterwards, the empty state, the accounts' Cases tabs, and a sales user's refused write."""

from __future__ import annotations

from sqlalchemy import func, select
from textual.widgets import Input, Select, Static, TextArea

from crm_tui.models.case import Case, CaseEntry
from crm_tui.screens.cases.detail import CaseDetailScreen
from crm_tui.screens.cases.forms import (
    AssignForm, CaseFilterForm, MergeForm, NewCaseForm, NoteForm, PriorityForm, ReplyForm, StatusForm,
)
from crm_tui.screens.cases.screen import CasesScreen, QueueBar
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.services import cases, companies, contacts, users
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


def _seed(db, ann, now, *, many: int = 0) -> dict:
    """sue (support, team Support) and sal (sales); Acme with Ada (who has an email); Ada's cases:
    "Printer on fire" (assigned to ann), "Invoice twice" (waiting, team Billing), "Login loop"
    (unassigned, team Support), a closed one; and `many` more unassigned in Support."""
    with db.write() as s:
        for login, role, team in (("sue", "support", "Support"), ("sal", "sales", None)):
            users.create_user(s, data={"login": login, "name": login.title(), "role": role, "team": team,
                                       "email": f"{login}@example.com"}, actor=ann, now=now)
        users.update_user(s, user_id=ann.user_id, changes={"email": "ann@example.com"}, actor=ann, now=now)
        sal = users.actor_for(s, login="sal", now=now)
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme", "owner_id": sal.user_id}, actor=ann, now=now)  # sal's account
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "emails": ["ada@example.org"],
                                               "company_id": acme.id}, actor=ann, now=now)
        made = {}
        for key, subject, extra in (
                ("printer", "Printer on fire", {"assignee_id": ann.user_id, "priority": "high", "team": "Support"}),
                ("invoice", "Invoice twice", {"team": "Billing", "category": "billing"}),
                ("login", "Login loop", {"team": "Support"}),
                ("old", "Old question", {"team": "Support"})):
            made[key] = cases.create_case(s, actor=ann, subject=subject, contact_id=ada.id, company_id=acme.id,
                                          now=now, **extra).id
        cases.set_status(s, made["invoice"], "waiting", actor=ann, now=now)
        cases.close(s, made["old"], actor=ann, now=now)
        for i in range(many):
            cases.create_case(s, actor=ann, subject=f"Bulk question {i:03}", team="Support", now=now)
    with db.write() as s:
        people = {login: users.actor_for(s, login=login, now=now) for login in ("sue", "sal")}
    return {"company": acme.id, "contact": ada.id, **made, **people}


def _list(app) -> KeysetTable:
    return app.screen.query_one("#case-list", KeysetTable)


def _subjects(app) -> list[str]:
    return [row.subject for row in _list(app).visible_rows()]


async def _to_cases(app, pilot) -> CasesScreen:
    await settle(app, pilot)
    await pilot.press("7")
    await settle(app, pilot)
    assert isinstance(app.screen, CasesScreen)
    return app.screen


async def test_queues_counts_paging_search_filter_and_a_new_case(db, actor, now):
    seeded = _seed(db, actor, now, many=60)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _to_cases(app, pilot)
        # the counts, each its queue's (counted in SQL, in a worker)
        assert screen.counts["mine"] == 1 and screen.counts["unassigned"] == 62
        assert screen.counts["waiting"] == 1 and screen.counts["open"] == 63 and screen.counts["all"] == 64
        assert screen.counts["team:Support"] == 62 and screen.counts["team:Billing"] == 1
        bar = screen.query_one(QueueBar).text().plain
        assert "All open 63" in bar and "Support 62" in bar and "Billing 1" in bar
        # "All open" first, newest first: a window of pages, never the whole queue
        table = _list(app)
        assert table.total == 63 and len(table.window.rows) < 63
        assert table.current_row.subject == "Bulk question 059"
        await pilot.press("end")
        await settle(app, pilot)
        assert table.current_row.subject == "Printer on fire"

        await pilot.press("left_square_bracket")  # Waiting
        await settle(app, pilot)
        assert screen.queue == "waiting" and _subjects(app) == ["Invoice twice"]
        for _ in range(4):  # All open → All → Billing → Support → Mine (round the end)
            await pilot.press("right_square_bracket")
            await settle(app, pilot)
        assert screen.queue == "team:Support" and table.total == 62
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert screen.queue == "mine" and _subjects(app) == ["Printer on fire"]

        # search as you type, within the queue shown; then the other queues
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket",
                          "right_square_bracket")  # All open
        await pilot.press("slash", *"login", "enter")
        await settle(app, pilot)
        assert screen.queue == "open" and _subjects(app) == ["Login loop"]
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"nothing like it", "enter")
        await settle(app, pilot)
        assert _subjects(app) == [] and "No cases match" in table.empty_text
        await pilot.press("x")
        await settle(app, pilot)
        assert table.total == 63

        # a filter: priority high
        await pilot.press("f")
        await settle(app, pilot)
        assert isinstance(app.screen, CaseFilterForm)
        app.screen.query_one("#filter-priority", Select).value = "high"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert _subjects(app) == ["Printer on fire"]
        assert "priority high" in screen.query_one("#case-filter-line").text().plain
        await pilot.press("x")
        await settle(app, pilot)

        # a new case, for Ada, urgent, to sue
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, NewCaseForm)
        await pilot.press("ctrl+s")  # no subject: refused in one line, nothing written
        await settle(app, pilot)
        assert isinstance(app.screen, NewCaseForm) and "subject" in str(form.query_one("#form-error").render())
        form.query_one("#case-subject", Input).value = "Cannot print labels"
        form.query_one("#case-description", TextArea).text = "Since the update."
        form.query_one("#case-contact", Input).value = "Ada Lovelace"
        form.query_one("#case-priority", Select).value = "urgent"
        form.query_one("#case-assignee", Input).value = "sue"
        form.query_one("#case-channel", Select).value = "email"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CasesScreen)
        with db.read() as s:
            made = s.execute(select(Case.contact_id, Case.priority, Case.assignee_id, Case.channel, Case.description)
                             .where(Case.subject == "Cannot print labels")).one()
        assert tuple(made) == (seeded["contact"], "urgent", seeded["sue"].user_id, "email", "Since the update.")
        assert screen.counts["open"] == 64  # counted again after the change


async def test_the_detail_keys_write_through_the_service(db, actor, now):
    seeded = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await _to_cases(app, pilot)
        app.open_record("case", seeded["login"])
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CaseDetailScreen)
        card = str(screen.query_one("#case-card", Static).render())
        assert f"#{seeded['login']} Login loop" in card and "Ada Lovelace · Acme" in card and "unassigned" in card

        # N: an internal note
        await pilot.press("N")
        await settle(app, pilot)
        assert isinstance(app.screen, NoteForm)
        app.screen.query_one("#case-note", TextArea).text = "Checked the logs: SSO misconfigured."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # r: a reply to the customer
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, ReplyForm)
        app.screen.query_one("#reply-body", TextArea).text = "We are on it."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        with db.read() as s:
            thread = s.execute(select(CaseEntry.visibility, CaseEntry.body).where(CaseEntry.case_id == seeded["login"])
                               .order_by(CaseEntry.id)).all()
        assert [tuple(row) for row in thread][-2:] == [("internal", "Checked the logs: SSO misconfigured."),
                                                       ("public", "We are on it.")]
        rows = screen.query_one("#case-thread", KeysetTable).visible_rows()
        assert [r.body for r in rows][-2:] == ["Checked the logs: SSO misconfigured.", "We are on it."]

        # a: assign to sue
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, AssignForm)
        assign = app.screen
        assign.query_one("#case-assignee", Input).value = "sue"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # p: priority urgent
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, PriorityForm)
        app.screen.query_one("#case-priority", Select).value = "urgent"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        # s: resolved
        await pilot.press("s")
        await settle(app, pilot)
        assert isinstance(app.screen, StatusForm)
        app.screen.query_one("#case-status", Select).value = "resolved"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        with db.read() as s:
            case = s.execute(select(Case.assignee_id, Case.priority, Case.status).where(Case.id == seeded["login"])).one()
        assert tuple(case) == (seeded["sue"].user_id, "urgent", "resolved")
        assert "resolved" in str(screen.query_one("#case-card", Static).render()).lower()

        # M: merge "Printer on fire" into this case, after a yes
        await pilot.press("M")
        await settle(app, pilot)
        assert isinstance(app.screen, MergeForm)
        app.screen.query_one("#merge-case", Input).value = f"#{seeded['printer']}"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert app.screen is screen
        with db.read() as s:
            merged = s.execute(select(Case.merged_into_id, Case.status).where(Case.id == seeded["printer"])).one()
        assert tuple(merged) == (seeded["login"], "closed")


async def test_a_stale_change_asks_through_the_conflict_screen(db, actor, now):
    from crm_tui.screens.conflict import FieldConflictScreen

    seeded = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.open_record("case", seeded["login"])
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        form = app.screen
        with db.write() as s:  # a teammate sets it meanwhile
            cases.set_priority(s, seeded["login"], "low", actor=seeded["sue"], now=now)
        form.query_one("#case-priority", Select).value = "urgent"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        await pilot.press("y")  # keep mine
        await settle(app, pilot)
        with db.read() as s:
            assert s.get(Case, seeded["login"]).priority == "urgent"


async def test_empty_state_and_the_accounts_cases_tabs(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _to_cases(app, pilot)
        assert _subjects(app) == [] and "No open cases. Press n" in _list(app).empty_text
        assert screen.counts["open"] == 0
    seeded = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.open_record("company", seeded["company"])
        await settle(app, pilot)
        tabs = [p.id for p in app.screen.query("TabPane")]
        assert tabs[-2:] == ["company-tab-cases", "company-tab-history"]
        table = app.screen.query_one("#company-cases", KeysetTable)
        assert sorted(r.subject for r in table.window.rows) == ["Invoice twice", "Login loop", "Old question",
                                                                    "Printer on fire"]
        app.screen.query_one("TabbedContent").active = "company-tab-cases"
        await settle(app, pilot)
        table.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, CaseDetailScreen) and app.screen.case_id == table.current_row.id
        app.open_record("contact", seeded["contact"])
        await settle(app, pilot)
        tabs = [p.id for p in app.screen.query("TabPane")]
        assert tabs[-2:] == ["tab-cases", "tab-history"]
        assert len(app.screen.query_one("#contact-cases", KeysetTable).window.rows) == 4


async def test_a_sales_user_reads_and_may_not_write(db, actor, now):
    seeded = _seed(db, actor, now)
    app = make_app(db, seeded["sal"], now)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _to_cases(app, pilot)
        await pilot.press("n")  # no case.edit: the key does nothing
        await settle(app, pilot)
        assert app.screen is screen
        app.open_record("case", seeded["login"])
        await settle(app, pilot)
        detail = app.screen
        for key in ("p", "s", "a", "r", "N", "M"):
            await pilot.press(key)
            await settle(app, pilot)
            assert app.screen is detail, key
        with db.read() as s:
            case = s.get(Case, seeded["login"])
            assert (case.priority, case.status) == ("normal", "new")
            assert s.scalar(select(func.count()).select_from(CaseEntry).where(CaseEntry.case_id == seeded["login"])) == 0
        # the service refuses too, in one line, whatever the keys show
        app.push_screen(PriorityForm(detail.card))
        await settle(app, pilot)
        app.screen.query_one("#case-priority", Select).value = "urgent"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, PriorityForm)
        error = str(app.screen.query_one("#form-error").render())
        assert error and "\n" not in error.strip()
        with db.read() as s:
            assert s.get(Case, seeded["login"]).priority == "normal"


async def test_a_saved_case_list_keeps_its_queue_and_filters(db, actor, now):
    from textual.widgets import OptionList

    from crm_tui.screens.cases.screen import CaseListsPicker
    from crm_tui.screens.saved_lists import SaveViewForm
    from crm_tui.services import views

    _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _to_cases(app, pilot)
        screen.show_queue("team:Support")
        screen.filters = {"priority": "high"}
        screen.reload()
        await settle(app, pilot)
        assert _subjects(app) == ["Printer on fire"]
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, SaveViewForm)
        app.screen.query_one("#name", Input).value = "Hot in Support"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        with db.read() as s:
            saved = views.find_view(s, name="hot in support", actor=actor, entity="case")
        assert saved.filters == {"priority": "high", "queue": "team", "team": "Support"}

        await pilot.press("x", "right_square_bracket")  # cleared, and another queue
        await settle(app, pilot)
        assert screen.queue != "team:Support" and not screen.filters
        await pilot.press("l")
        await settle(app, pilot)
        picker = app.screen
        assert isinstance(picker, CaseListsPicker)
        options = picker.query_one(OptionList)
        options.highlighted = next(i for i in range(options.option_count)
                                   if options.get_option_at_index(i).id == f"v:{saved.id}")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen and screen.queue == "team:Support" and screen.filters == {"priority": "high"}
        assert _subjects(app) == ["Printer on fire"]
        assert screen.query_one("#case-filter-line").text().plain.startswith("Hot in Support · priority high")
