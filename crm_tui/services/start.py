"""The app's start without the ORM: who is acting, the contact list's first page, the pipeline
board's first columns, the Inbox's first overdue tasks and the Cases area's first open cases, read on the start's plain DB-API connection (Database.quick_read: sqlite3, or psycopg), so that the first frame
is painted while SQLAlchemy, the models and the other services load after it.

Each function covers the common case only and returns None for anything else; the caller then goes
the services' way (users.resolve_actor, contacts.list_contacts), which gives the same result, or
refuses with its own error. The SQL is the services' own statement as SQLAlchemy compiles it, and
tests/unit/test_start.py checks each answer against theirs, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
import threading
from datetime import date, datetime, timezone

from crm_tui.config import LoginRequest, Settings, team_timezone
from crm_tui.services.grants import ALL, DEFAULTS, NONE, OWN
from crm_tui.services.sections import related_label
from crm_tui.shapes import OPEN_STATUSES, Actor, CaseRow, Card, ContactRow, Cursor, Page, PipelineRow, StageRow, TaskRow

_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")  # users._login's rule

_USERS = "SELECT id, login, role, timezone, active, os_login FROM users WHERE os_login = {p} OR login = {p}"
# contacts.list_contacts(sort="name") with no search and no filters, as SQLAlchemy writes it
_FIRST_CONTACTS = (
    "SELECT contacts.id, contacts.full_name, list_company.name AS company_name, contacts.email, contacts.phone, "
    "contacts.lifecycle, list_owner.login AS owner_login, contacts.last_contacted_at, contacts.created_at, "
    "contacts.sort_name AS sort_value "
    "FROM contacts LEFT OUTER JOIN companies AS list_company ON list_company.id = contacts.company_id "
    "LEFT OUTER JOIN users AS list_owner ON list_owner.id = contacts.owner_id "
    "WHERE contacts.archived IS {false} ORDER BY contacts.sort_name ASC, contacts.id ASC LIMIT {p}"
)
# pipelines.default_pipeline: the default pipeline (else the first one not archived) and its stages
_DEFAULT_PIPELINE = (
    "SELECT pipelines.id, pipelines.name, pipelines.position, pipelines.is_default, pipelines.archived, "
    "pipelines.version, stages.id, stages.pipeline_id, stages.name, stages.position, stages.probability, "
    "stages.rotting_days, stages.kind, stages.version "
    "FROM pipelines LEFT OUTER JOIN stages ON stages.pipeline_id = pipelines.id "
    "WHERE pipelines.id = (SELECT pipelines.id FROM pipelines WHERE pipelines.archived IS {false} "
    "ORDER BY pipelines.is_default DESC, pipelines.position, pipelines.id LIMIT 1) "
    "ORDER BY pipelines.id, stages.position, stages.id"
)
# board.first_pages with no filter, one open stage's part of its UNION ALL (board._CARDS, the
# deal's next open task by the same correlated subquery, oldest in the stage first)
_STAGE_CARDS = (
    "SELECT * FROM (SELECT deals.id, deals.title, companies.name, users.login, deals.amount_minor, deals.currency, "
    "deals.expected_close, deals.stage_id, deals.stage_entered_at, deals.status, deals.version, "
    "next_task.title, next_task.due_at "
    "FROM deals LEFT OUTER JOIN companies ON companies.id = deals.company_id "
    "LEFT OUTER JOIN users ON users.id = deals.owner_id "
    "LEFT OUTER JOIN tasks AS next_task ON next_task.id = (SELECT tasks.id FROM tasks "
    "WHERE tasks.deal_id = deals.id "
    "ORDER BY tasks.done_at IS NOT NULL, tasks.due_at IS NULL, tasks.due_at, tasks.id LIMIT 1) "
    "AND next_task.done_at IS NULL "
    "WHERE deals.stage_id = {p} AND deals.archived IS {false} "
    "ORDER BY deals.stage_entered_at ASC, deals.id ASC LIMIT {p}) AS stage_{i}"
)


# tasks.inbox_page(section="overdue") of one assignee: tasks._LABELLED under the section's condition,
# by due time (never NULL in this section)
_OVERDUE_TASKS = (
    "SELECT tasks.id, tasks.title, tasks.notes, tasks.due_at, tasks.assignee_id, assignee.login, tasks.contact_id, "
    "tasks.company_id, tasks.deal_id, tasks.done_at, tasks.snoozed_until, tasks.recurrence, tasks.origin, "
    "tasks.rule_name, tasks.version, deals.title, contacts.full_name, companies.name "
    "FROM tasks LEFT OUTER JOIN users AS assignee ON assignee.id = tasks.assignee_id "
    "LEFT OUTER JOIN deals ON deals.id = tasks.deal_id LEFT OUTER JOIN contacts ON contacts.id = tasks.contact_id "
    "LEFT OUTER JOIN companies ON companies.id = tasks.company_id "
    "WHERE tasks.done_at IS NULL AND (tasks.snoozed_until IS NULL OR tasks.snoozed_until <= {p}) "
    "AND tasks.due_at < {p} AND tasks.assignee_id = {p} "
    "ORDER BY tasks.due_at ASC, tasks.id ASC LIMIT {p}"
)


# permissions.current_role and scope_of: the role as stored now, and an admin's change to its scope
_ROLE = "SELECT users.role, users.active FROM users WHERE users.id = {p}"
_SCOPE = "SELECT role_permissions.scope FROM role_permissions WHERE role_permissions.role = {p} " \
         "AND role_permissions.action = {p}"
# cases.list_cases(queue="open") with no search and no filters, newest first, under its
# visible_condition: every case ({visible} empty), or an "own" scope's (_OWN_CASES)
_OPEN_CASES = (
    "SELECT cases.id, cases.subject, cases.status, cases.priority, "
    "coalesce(nullif(contacts_1.full_name, {p}), contacts_1.email) AS contact_name, companies_1.name AS company_name, "
    "users_1.login AS assignee_login, cases.team, cases.created_at, cases.sla_next_at, cases.version, "
    "cases.category, cases.channel, cases.contact_id, cases.company_id, cases.assignee_id "
    "FROM cases LEFT OUTER JOIN contacts AS contacts_1 ON contacts_1.id = cases.contact_id "
    "LEFT OUTER JOIN companies AS companies_1 ON companies_1.id = cases.company_id "
    "LEFT OUTER JOIN users AS users_1 ON users_1.id = cases.assignee_id "
    "WHERE {visible}(cases.status || {p}) IN ({p}, {p}, {p}) ORDER BY cases.id DESC, cases.id DESC LIMIT {p}"
)
_OWN_CASES = (
    "cases.id IN (SELECT anon_1.id FROM (SELECT cases.id AS id FROM cases WHERE cases.assignee_id = {p} "
    "UNION SELECT cases.id AS id FROM cases WHERE cases.company_id IN "
    "(SELECT companies.id FROM companies WHERE companies.owner_id = {p}) "
    "UNION SELECT cases.id AS id FROM cases WHERE cases.contact_id IN "
    "(SELECT contacts.id FROM contacts WHERE contacts.owner_id = {p})) AS anon_1) AND "
)

# SQLAlchemy's package imports itself in cycles: imported from two threads at once, one of them can
# be handed the other's half-made module ("cannot import name ... from partially initialized
# module"). After the first frame the app's workers and the main thread all want it at once, so
# it loads in one thread at a time, through load_orm.
_ORM_MODULES = ("sqlalchemy", "sqlalchemy.orm", "sqlmodel", "crm_tui.models", "crm_tui.services.common")
_orm_lock = threading.Lock()
_orm_loaded = False


# Screens whose first frame is being made (hold_orm .. release_orm): a worker's load_orm waits
# for them (at most PAINT_WAIT_S), since importing the ORM alongside shares the interpreter with
# the paint and slows it down: a person who presses 3 as the app starts sees the board sooner.
PAINT_WAIT_S = 1.0
_painting = threading.Condition()
_holds = 0


def hold_orm() -> None:
    """A screen is making its first frame: loading the ORM from a worker's thread waits for it."""
    global _holds
    with _painting:
        _holds += 1


def release_orm() -> None:
    """The screen's first frame is drawn (or it is gone): hold_orm's wait is over."""
    global _holds
    with _painting:
        _holds = max(0, _holds - 1)
        if not _holds:
            _painting.notify_all()


def orm_loaded() -> bool:
    """Whether load_orm has nothing left to do (the last of its modules is wholly imported)."""
    global _orm_loaded
    if not _orm_loaded:
        last = sys.modules.get(_ORM_MODULES[-1])
        _orm_loaded = last is not None and not getattr(last.__spec__, "_initializing", False)
    return _orm_loaded


def load_orm() -> None:
    """SQLAlchemy, SQLModel, the models and what every service shares, imported (in one thread at a
    time; the others wait here). Call it before importing a service or a screen that uses one, from
    any thread, once the app's first frame is drawn; it returns at once when they are loaded. A
    worker's thread first waits for the screens making their first frame (hold_orm)."""
    global _orm_loaded
    if orm_loaded():
        return
    if threading.current_thread() is not threading.main_thread():
        with _painting:
            _painting.wait_for(lambda: not _holds, timeout=PAINT_WAIT_S)
    with _orm_lock:
        if not _orm_loaded:
            for name in _ORM_MODULES:
                importlib.import_module(name)
            _orm_loaded = True


def with_settings(actor: Actor, settings: Settings) -> Actor:
    """`actor` with the settings' defaults for how they read and write times, amounts and phones."""
    changes: dict = {"team_timezone": team_timezone(settings), "date_order": settings.date_order}
    if actor.timezone is None and settings.timezone:
        changes["timezone"] = settings.timezone
    if settings.locale:
        changes["locale"] = settings.locale
    if settings.phone_country:  # phones typed without +code are read in this country
        changes["phone_country"] = settings.phone_country
    return dataclasses.replace(actor, **changes)


def _rows(conn, sql: str, *params) -> list[tuple]:
    sqlite = _is_sqlite(conn)
    cur = conn.cursor()
    try:
        cur.execute(sql.format(p="?" if sqlite else "%s", false="0" if sqlite else "false"), params)
        return cur.fetchall()
    finally:
        cur.close()  # a SQLite statement left open would hold its read snapshot


def _is_sqlite(conn) -> bool:
    return type(conn).__module__.startswith("sqlite3")


def quick_actor(db, *, request: LoginRequest, settings: Settings) -> Actor | None:
    """users.resolve_actor when the identity signs in as its own active user (the everyday case);
    None for anything else (a first user to make, acting as another, a deactivated user, no user,
    no plain connection): the caller resolves the actor the services' way."""
    with db.quick_read() as conn:
        if conn is None:
            return None
        if _is_sqlite(conn):
            name = request.os_login  # users.identity: the OS login on SQLite
        else:
            name = str(_rows(conn, "SELECT current_user")[0][0]).lower()  # the database login
        found = _rows(conn, _USERS, name, name)
    # users._mapped_user: the user mapped to the identity, else the one whose login it is (unmapped)
    mine = next((u for u in found if u[5] == name), None) or next(
        (u for u in found if u[1] == name and u[5] is None), None)
    if mine is None:
        return None
    if request.login:
        wanted = (request.login or "").strip().lower()
        if not _LOGIN.match(wanted) or wanted != mine[1]:
            return None
    user_id, login, role, zone, active, _ = mine
    if not active:
        return None
    return with_settings(Actor(user_id=user_id, login=login, role=role, timezone=zone), settings)


def _utc(value) -> datetime | None:
    """A timestamp as models.base.UTCDateTime reads it: an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: naive UTC text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def first_contacts(db, *, limit: int) -> Page[ContactRow] | None:
    """contacts.list_contacts(sort="name", limit=limit) with no search and no filters: the contact
    list's first page as the app opens; None when there is no plain connection (any more)."""
    with db.quick_read() as conn:
        if conn is None:
            return None
        rows = _rows(conn, _FIRST_CONTACTS, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [ContactRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _utc(r[7]), _utc(r[8])) for r in rows]
    next_ = Cursor(rows[-1][9], rows[-1][0]).encode() if rows and more else None
    return Page(items, next_, None, None)


def _day(value) -> date | None:
    """A date as the ORM reads it (SQLite holds it as text)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def first_board(db, *, limit: int) -> tuple[PipelineRow, list[Page[Card]]] | None:
    """The board as it opens: pipelines.default_pipeline, then board.first_pages of its open stages
    with no filter (the same pages, in one query); None when there is no plain connection (any
    more) or no pipeline (the caller goes the services' way, which says so)."""
    with db.quick_read() as conn:
        if conn is None:
            return None
        found = _rows(conn, _DEFAULT_PIPELINE)
        if not found:
            return None
        first = found[0]
        stages = [StageRow(*r[6:14]) for r in found if r[6] is not None]
        pipeline = PipelineRow(first[0], first[1], first[2], bool(first[3]), bool(first[4]), first[5], stages)
        shown = [stage for stage in stages if stage.kind == "open"]
        rows = []
        if shown:
            sql = " UNION ALL ".join(_STAGE_CARDS.replace("{i}", str(i)) for i in range(len(shown)))
            rows = _rows(conn, sql, *(value for stage in shown for value in (stage.id, limit + 1)))
    by_stage: dict[int, list[Card]] = {stage.id: [] for stage in shown}
    for r in rows:
        by_stage[r[7]].append(Card(r[0], r[1], r[2], r[3], r[4], r[5], _day(r[6]), r[7], _utc(r[8]), r[9], r[10],
                                   r[11], _utc(r[12])))
    pages = []
    for stage in shown:
        cards = sorted(by_stage[stage.id], key=lambda c: (c.stage_entered_at, c.id))  # a UNION keeps no order
        more = len(cards) > limit
        cards = cards[:limit]
        next_ = Cursor(cards[-1].stage_entered_at, cards[-1].id).encode() if cards and more else None
        pages.append(Page(cards, next_))
    return pipeline, pages


def _moment(conn, value: datetime):
    """A time as models.base.UTCDateTime binds it: naive UTC text in its fixed format on SQLite."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if _is_sqlite(conn) else value


def first_overdue(db, *, assignee_id: int, now: datetime, limit: int) -> Page[TaskRow] | None:
    """tasks.inbox_page(section="overdue", assignee_id=...) from the start: the Inbox's first page as
    it opens; None when there is no plain connection (any more)."""
    with db.quick_read() as conn:
        if conn is None:
            return None
        moment = _moment(conn, now)
        rows = _rows(conn, _OVERDUE_TASKS, moment, moment, assignee_id, limit + 1)
    more = len(rows) > limit
    items = []
    for r in rows[:limit]:
        about = {"deal_id": r[8], "deal_title": r[15], "contact_id": r[6], "contact_name": r[16],
                 "company_id": r[7], "company_name": r[17]}
        items.append(TaskRow(r[0], r[1], r[2], _utc(r[3]), r[4], r[5], r[6], r[7], r[8], related_label(about),
                             _utc(r[9]), _utc(r[10]), r[11], r[12], r[13], r[14]))
    next_ = Cursor(items[-1].due_at, items[-1].id).encode() if items and more else None
    return Page(items, next_, None, None)


def _case_view_scope(conn, actor: Actor) -> str | None:
    """permissions.scope_of(current_role(actor), "case.view"); None for a user deactivated since
    the sign-in (the services refuse them)."""
    found = _rows(conn, _ROLE, actor.user_id)
    if found and not found[0][1]:
        return None
    role = found[0][0] if found else actor.role
    changed = _rows(conn, _SCOPE, role, "case.view")
    return changed[0][0] if changed else DEFAULTS.get(role, {}).get("case.view", NONE)


def first_cases(db, *, actor: Actor, limit: int) -> Page[CaseRow] | None:
    """cases.list_cases(queue="open", limit=limit) with no search and no filters: the Cases area's
    first page as the app opens, the cases the actor may see (case.view's scope: all, or their own);
    None when there is no plain connection (any more), or for anyone the services must answer (the
    system, a role without case.view, a deactivated user: they refuse)."""
    if actor.user_id is None:
        return None
    with db.quick_read() as conn:
        if conn is None:
            return None
        scope = _case_view_scope(conn, actor)
        if scope not in (ALL, OWN):
            return None
        own = scope == OWN
        sql = _OPEN_CASES.replace("{visible}", _OWN_CASES if own else "")
        mine = (actor.user_id,) * 3 if own else ()
        rows = _rows(conn, sql, "", *mine, "", *OPEN_STATUSES, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [CaseRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _utc(r[8]), _utc(r[9]), r[10], r[11], r[12],
                     r[13], r[14], r[15]) for r in rows]
    next_ = Cursor(rows[-1][0], rows[-1][0]).encode() if rows and more else None
    return Page(items, next_, None, None)
