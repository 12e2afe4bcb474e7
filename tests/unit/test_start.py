"""The app's start without the ORM (services/start.py): each answer read on the start's plain
connection is the services' own answer, and anything but the everyday case is left to them."""

from __future__ import annotations

import dataclasses

import pytest

from crm_tui.config import LoginRequest, Settings
from crm_tui.db import open_database
from crm_tui.models import Contact
from crm_tui.services import companies, contacts, start, users


@pytest.fixture
def quick(db_url, db):
    """The same database opened as the app opens it: checked, and read, on a plain connection."""
    opened = open_database(db_url, quick_reads=True)
    yield opened
    opened.dispose()


def _contacts(db, actor, now):
    with db.write() as s:
        company_id = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
    made = []
    for first, last in (("Zoe", "Adams"), ("Al", "Brown"), ("Bea", "Brown"), ("", ""), ("Cy", "Dunn"),
                        ("Di", "Evans"), ("Ed", "Ford")):
        with db.write() as s:
            data = {"first_name": first, "last_name": last, "company_id": company_id if len(made) % 2 else None}
            if not first:
                data["emails"] = ["nameless@example.com"]
            made.append(contacts.create_contact(s, data=data, actor=actor, now=now).id)
    with db.write() as s:
        s.get(Contact, made[1]).last_contacted_at = now
        contacts.set_contact_archived(s, contact_id=made[4], archived=True, actor=actor, now=now)


@pytest.mark.parametrize("limit", [1, 3, 6, 50])
def test_first_contacts_is_the_services_first_page(db, quick, actor, now, limit):
    _contacts(db, actor, now)
    page = start.first_contacts(quick, limit=limit)
    with db.read() as s:
        expected = contacts.list_contacts(s, limit=limit, now=now)
    assert page.items == expected.items
    assert (page.next_cursor, page.prev_cursor, page.total) == (expected.next_cursor, expected.prev_cursor, None)
    # the page after it, asked for the services' way from the quick page's cursor, follows on
    if page.next_cursor is not None:
        with db.read() as s:
            after = contacts.list_contacts(s, limit=limit, after=page.next_cursor, now=now)
        assert after.items and after.items[0].id not in {row.id for row in page.items}


def test_without_a_plain_connection_the_services_answer(db, quick, actor, now):
    _contacts(db, actor, now)
    assert start.first_contacts(db, limit=5) is None  # opened for a command: no plain connection
    quick.end_quick_reads()  # the app's first frame is drawn
    assert start.first_contacts(quick, limit=5) is None
    assert start.quick_actor(quick, request=LoginRequest(os_login="ann"), settings=Settings()) is None


def test_quick_actor_is_the_sign_in_of_the_everyday_case(db, quick, actor, now):
    with db.write() as s:
        me = users.identity(s, os_login="zed").name  # the OS login on SQLite, the database login on PostgreSQL
        bob = users.create_user(s, data={"login": "bob", "os_login": me, "timezone": "Europe/Paris"},
                                actor=actor, now=now)
    settings = Settings(timezone="America/New_York", locale="de_DE", phone_country="DE")

    def both(request: LoginRequest, settings: Settings = settings):
        found = start.quick_actor(quick, request=request, settings=settings)
        if found is None:
            return None, None
        with db.write() as s:
            return found, users.resolve_actor(s, request=request, settings=settings, now=now)

    for request in (LoginRequest(os_login="zed"), LoginRequest(os_login="zed", login=" BOB ", source="--user")):
        found, expected = both(request)
        assert found is not None and found == expected, request
        assert (found.user_id, found.login, found.timezone) == (bob.id, "bob", "Europe/Paris")
    found, expected = both(LoginRequest(os_login="zed"), Settings())
    assert found == expected
    # acting as another, an unknown login, a bad login: the services decide (and refuse, or not)
    for request in (LoginRequest(os_login="zed", login="ann", source="--user"),
                    LoginRequest(os_login="zed", login="nobody", source="--user"),
                    LoginRequest(os_login="zed", login="bad login!", source="--user")):
        assert start.quick_actor(quick, request=request, settings=settings) is None, request
    with db.write() as s:
        users.update_user(s, user_id=bob.id, changes={"active": False}, actor=actor, now=now)
    assert start.quick_actor(quick, request=LoginRequest(os_login="zed"), settings=settings) is None


def test_quick_actor_leaves_a_new_database_to_the_services(db, quick):
    # no users yet: the first one becomes the admin, which only the services do
    assert start.quick_actor(quick, request=LoginRequest(os_login="ann"), settings=Settings()) is None


def test_with_settings_is_the_users_service_one():
    assert users.with_settings is start.with_settings
    actor = dataclasses.replace(start.Actor(user_id=1, login="ann"), timezone=None)
    changed = start.with_settings(actor, Settings(timezone="Europe/Paris", locale="fr_FR"))
    assert (changed.timezone, changed.locale) == ("Europe/Paris", "fr_FR")


def test_the_orm_loads_in_one_thread_at_a_time(tmp_path):
    """SQLAlchemy imported from several threads at once could hand one of them a half-made module;
    load_orm lets one thread import it and the others wait (each returns with it whole)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys, threading
        from crm_tui.services import start
        assert "sqlalchemy" not in sys.modules and not start.orm_loaded()
        errors = []

        def load():
            try:
                start.load_orm()
                from crm_tui.services import contacts, permissions, tasks, users, views  # noqa: F401
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=load) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert start.orm_loaded()
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _deals(db, actor, now):
    """Deals in two open stages (one with an open and a done task, one archived, one won), and a
    second pipeline that is not the default."""
    from datetime import timedelta

    from crm_tui.services import deals, pipelines, tasks

    with db.write() as s:
        stages = {st.name: st.id for st in pipelines.default_pipeline(s).stages}
        company_id = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
        made = []
        for i, title in enumerate(("Anvils", "Bolts", "Cogs", "Dynamo", "Engines", "Flanges")):
            made.append(deals.create_deal(s, data={"title": title, "amount": str(100 * (i + 1)),
                                                   "expected_close": "2026-12-0%d" % (i + 1) if i % 2 == 0 else None,
                                                   "company_id": company_id if i % 3 else None,
                                                   "stage_id": stages["Proposal"] if i >= 4 else None},
                                          actor=actor, now=now - timedelta(days=10 - i)))
        tasks.create_task(s, data={"title": "Call", "due_at": "2026-12-01 09:00", "deal_id": made[0].id},
                          actor=actor, now=now)
        done = tasks.create_task(s, data={"title": "Done", "due_at": "2026-11-20 09:00", "deal_id": made[1].id},
                                 actor=actor, now=now)
        tasks.complete_task(s, task_id=done.id, actor=actor, now=now)
        deals.set_deal_archived(s, deal_id=made[2].id, archived=True, actor=actor, now=now)
        deals.mark_won(s, deal_id=made[3].id, actor=actor, now=now)
        pipelines.create_pipeline(s, name="Other", actor=actor, now=now)


@pytest.mark.parametrize("limit", [1, 2, 50])
def test_first_board_is_the_services_first_board(db, quick, actor, now, limit):
    from datetime import timezone

    from crm_tui.services import board, pipelines

    _deals(db, actor, now)
    pipeline, pages = start.first_board(quick, limit=limit)
    with db.read() as s:
        expected = pipelines.default_pipeline(s)
        shown = [stage for stage in expected.stages if stage.kind == "open"]
        expected_pages = board.first_pages(s, stages=shown, now=now, zone=timezone.utc, limit=limit)
    assert dataclasses.asdict(pipeline) == expected.model_dump()
    assert [(p.items, p.next_cursor, p.prev_cursor) for p in pages] == [
        (p.items, p.next_cursor, p.prev_cursor) for p in expected_pages]
    assert any(card.next_task == "Call" for page in pages for card in page.items)
    assert any(card.expected_close is not None for page in pages for card in page.items)
    quick.end_quick_reads()
    assert start.first_board(quick, limit=limit) is None


@pytest.mark.parametrize("limit", [1, 2, 50])
def test_first_overdue_is_the_services_first_inbox_page(db, quick, actor, now, limit):
    from datetime import timedelta, timezone

    from crm_tui.services import deals, tasks

    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Anvils"}, actor=actor, now=now)
        company_id = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
        made = []
        for i, about in enumerate(({"deal_id": deal.id}, {"company_id": company_id}, {}, {}, {}, {})):
            made.append(tasks.create_task(s, data={"title": f"Task {i}", "due_at": now - timedelta(hours=3 - i % 2),
                                                   "assignee_id": actor.user_id, **about}, actor=actor, now=now))
        tasks.complete_task(s, task_id=made[2].id, actor=actor, now=now)
        tasks.snooze_task(s, task_id=made[3].id, until=now + timedelta(hours=2), actor=actor, now=now)
        tasks.create_task(s, data={"title": "Later", "due_at": now + timedelta(days=1), "assignee_id": actor.user_id},
                          actor=actor, now=now)
    page = start.first_overdue(quick, assignee_id=actor.user_id, now=now, limit=limit)
    with db.read() as s:
        expected = tasks.inbox_page(s, section="overdue", assignee_id=actor.user_id, zone=timezone.utc, now=now,
                                    limit=limit)
    assert [dataclasses.asdict(t) for t in page.items] == [t.model_dump() for t in expected.items]
    assert (page.next_cursor, page.prev_cursor) == (expected.next_cursor, expected.prev_cursor)
    assert any(t.related for t in page.items)
    assert start.first_overdue(quick, assignee_id=actor.user_id + 1, now=now, limit=limit).items == []


def _cases(db, actor, now):
    """Cases of every status; a seller who owns one account and is assigned one case; a seller
    with no case of theirs; a support agent."""
    from crm_tui.services import cases

    with db.write() as s:
        seller = users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor, now=now)
        other = users.create_user(s, data={"login": "sid", "role": "sales"}, actor=actor, now=now)
        agent = users.create_user(s, data={"login": "ada", "role": "support", "team": "Support"}, actor=actor, now=now)
        mine = companies.create_company(s, data={"name": "Acme", "owner_id": seller.id}, actor=actor, now=now).id
        theirs = companies.create_company(s, data={"name": "Bolt"}, actor=actor, now=now).id
        person = contacts.create_contact(s, data={"first_name": "Zoe", "company_id": theirs}, actor=actor, now=now).id
        nameless = contacts.create_contact(s, data={"emails": ["x@example.com"]}, actor=actor, now=now).id
    for i, (status, about, assignee) in enumerate((
            ("new", {"company_id": mine}, None), ("open", {"contact_id": person}, agent.id),
            ("waiting", {"contact_id": nameless}, seller.id), ("resolved", {"company_id": mine}, None),
            ("closed", {}, agent.id), ("open", {"company_id": theirs}, None), ("new", {}, seller.id))):
        with db.write() as s:
            case = cases.create_case(s, actor=actor, subject=f"Case {i}", assignee_id=assignee, team="Support",
                                     now=now, **about)
            if status != "new":
                cases.set_status(s, case.id, status, actor=actor, now=now)
    return seller, other, agent


@pytest.mark.parametrize("limit", [1, 2, 50])
def test_first_cases_is_the_services_first_open_queue(db, quick, actor, now, limit):
    from crm_tui.services import cases, permissions

    seller, other, agent = _cases(db, actor, now)
    as_ = {u.login: dataclasses.replace(actor, user_id=u.id, login=u.login, role=u.role) for u in (seller, other, agent)}
    for who in (actor, as_["sam"], as_["sid"], as_["ada"]):
        page = start.first_cases(quick, actor=who, limit=limit)
        with db.read() as s:
            expected = cases.list_cases(s, actor=who, queue="open", limit=limit, now=now)
        assert page.items == expected.items, who.login
        assert (page.next_cursor, page.prev_cursor, page.total) == (expected.next_cursor, None, None)
    assert {c.subject for c in start.first_cases(quick, actor=as_["sam"], limit=50).items} == {
        "Case 0", "Case 2", "Case 6"}  # the seller's own: their account's, and those assigned to them
    assert start.first_cases(quick, actor=as_["sid"], limit=50).items == []
    # an admin's change of the role's scope is read: support sees its own only, sales none
    with db.write() as s:
        permissions.set_scope(s, role="support", action="case.view", scope="own", actor=actor, now=now)
        permissions.set_scope(s, role="sales", action="case.view", scope="none", actor=actor, now=now)
    page = start.first_cases(quick, actor=as_["ada"], limit=limit)
    with db.read() as s:
        assert page.items == cases.list_cases(s, actor=as_["ada"], queue="open", limit=limit, now=now).items
    assert {c.assignee_login for c in page.items} == {"ada"}
    assert start.first_cases(quick, actor=as_["sam"], limit=limit) is None  # refused: the services say why
    with db.write() as s:
        users.update_user(s, user_id=agent.id, changes={"active": False}, actor=actor, now=now)
    assert start.first_cases(quick, actor=as_["ada"], limit=limit) is None
    quick.end_quick_reads()
    assert start.first_cases(quick, actor=actor, limit=limit) is None
