"""The Cases area (issue 23) at 80x24 and 120x36, on fixed data and a frozen clock: the queues and
the list, the empty area, the case detail (card and thread), its Customer tab, the new-case form
and the reply dialog; each also checked to fit at 80x24 (tests/tui/fit.py). Review every changed
SVG before accepting it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_tui.app import CrmApp
from crm_tui.services import cases, companies, contacts, deals, sla, users
from tests.snapshots.test_snapshots import settle
from tests.snapshots.fits import opened_and_fits

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


@pytest.fixture(autouse=True)
def steady_text_cursor(monkeypatch):
    """The reply's and the note's text box drawn with a solid cursor, never blinking (as the
    snapshots' conftest does for inputs): a frame taken in the blink's off phase differs."""
    from textual.widgets import TextArea

    real = TextArea.__init__

    def steady(self, *args, **kwargs) -> None:
        real(self, *args, **kwargs)
        self.cursor_blink = False

    monkeypatch.setattr(TextArea, "__init__", steady)


@pytest.fixture
def case_app(sqlite_db, actor_sqlite, now):
    return CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)


def _seed(app) -> int:
    """An SLA policy (business hours Monday to Friday 9-17 UTC; the clock is Monday 10:00), two teams,
    two customers, eight cases in every state, "Printer on fire" (its number is returned) opened an
    hour ago, urgent, so its first response is late; its thread has a note and the customer's mail."""
    ann, now, db = app.actor, app.now(), app.db
    with db.write() as s:
        users.update_user(s, user_id=ann.user_id, changes={"email": "ann@example.com", "team": "Support"},
                          actor=ann, now=now)
        for login, team in (("sue", "Support"), ("bill", "Billing")):
            users.create_user(s, data={"login": login, "role": "support", "team": team,
                                       "email": f"{login}@example.com"}, actor=ann, now=now)
    with db.write() as s:
        sla.add_policy(s, name="Standard", actor=ann, now=now,
                       targets=sla.parse_targets(["urgent=30m/4h", "high=1h/8h", "normal=4h/3d", "low=1d/5d"]))
    with db.write() as s:
        sue = users.actor_for(s, login="sue", now=now)
        acme = companies.create_company(s, data={"name": "Acme Labs"}, actor=ann, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "company_id": acme.id,
                                               "emails": ["ada@example.org"]}, actor=ann, now=now)
        grace = contacts.create_contact(s, data={"first_name": "Grace", "last_name": "Hopper",
                                                 "emails": ["grace@example.org"]}, actor=ann, now=now)
        deals.create_deal(s, data={"title": "Acme renewal", "amount": "12000", "contact_id": ada.id,
                                   "company_id": acme.id}, actor=ann, now=now)
        made = {}
        for key, subject, who, extra in (
                ("printer", "Printer on fire", ada, {"priority": "urgent", "assignee_id": ann.user_id,
                                                     "team": "Support", "channel": "email", "category": "hardware"}),
                ("invoice", "Invoice sent twice", ada, {"team": "Billing", "category": "billing"}),
                ("login", "Cannot log in after the update", grace, {"team": "Support", "priority": "high"}),
                ("export", "Export to CSV drops accents", grace, {"assignee_id": sue.user_id, "team": "Support"}),
                ("refund", "Refund for the May invoice", ada, {"team": "Billing", "priority": "low"}),
                ("api", "API rate limit too low", grace, {"team": "Support"}),
                ("done", "How do I add a user?", ada, {"team": "Support"}),
                ("closed", "Password reset mail", grace, {"team": "Support"})):
            opened = now - timedelta(hours=1) if key == "printer" else now
            made[key] = cases.create_case(s, actor=ann, subject=subject, contact_id=who.id, now=opened, **extra).id
        cases.set_status(s, made["invoice"], "waiting", actor=ann, now=now)
        cases.resolve(s, made["done"], actor=ann, now=now)
        cases.close(s, made["closed"], actor=ann, now=now)
        cases.note(s, made["printer"], actor=ann, now=now,
                   body="Called Ada: the fuser unit overheats. Ordered a replacement.")
        cases.add_entry(s, made["printer"], actor=ann, body="Smoke coming out of the printer in room 4.",
                        direction="in", contact_id=ada.id, now=now)
    return made["printer"]


def _area(seeded: bool = True, *keys: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        if seeded:
            _seed(app)
        await pilot.press("7")
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
    return run_before


def _detail(*keys: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        printer = _seed(app)
        await pilot.press("7")
        await settle(app, pilot)
        app.open_record("case", printer)
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
    return run_before


SCREENS = {
    "cases_list": (_area(), "CasesScreen"),
    "cases_team_queue": (_area(True, "left_square_bracket", "left_square_bracket", "left_square_bracket",
                               "left_square_bracket", "left_square_bracket", "left_square_bracket"), "CasesScreen"),
    "cases_empty": (_area(False), "CasesScreen"),
    "case_detail": (_detail(), "CaseDetailScreen"),
    "case_customer_tab": (_detail("right_square_bracket"), "CaseDetailScreen"),
    "case_new_form": (_area(True, "n"), "NewCaseForm"),
    "case_reply": (_detail("r"), "ReplyForm"),
    "case_queues_picker": (_area(True, "l"), "CaseListsPicker"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", list(SCREENS))
def test_cases_snapshots(snap_compare, case_app, name, size):
    """The screen's snapshot; at 80x24 after the checks that it is the screen named and that it fits."""
    opened, screen = SCREENS[name]
    run_before = opened_and_fits(opened, screen) if size == (80, 24) else opened
    assert snap_compare(case_app, terminal_size=size, run_before=run_before)
