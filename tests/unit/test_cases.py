"""The case service (issue 23): opening and reading cases, queues and their live counts, keyset
pages, the thread (replies through the outbox threaded on the case's last email, notes, inbound
mail), statuses with their timestamps, assignment, priority, merging two cases, who may see and
change what (sales sees its accounts' cases), stale versions and the audit trail. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Case, CaseEntry, EmailMessage, Survey
from crm_tui.models.case import CLOSED, NEW, OPEN, RESOLVED, WAITING
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import cases, companies, contacts, deals, email_templates, mail_store, merge, sla, surveys, users
from crm_tui.services.common import system_actor
from tests.conftest import seeded_fixtures

LOGINS = {"manager": "mia", "sales": "sam", "support": "sue", "marketing": "max"}


def _team(db, actor, now):
    """ann (admin) and a user per other role; sam (sales) owns Acme and its contact Ada; Bob at
    Globex is nobody's; sue and sid are in the Support team."""
    out = {"admin": actor}
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"email": "ann@ours.example.com"}, actor=actor, now=now)
        for role, login in LOGINS.items():
            users.create_user(s, data={"login": login, "role": role, "email": f"{login}@ours.example.com",
                                       "team": "Support" if role == "support" else None}, actor=actor, now=now)
        users.create_user(s, data={"login": "sid", "role": "support", "team": "Support"}, actor=actor, now=now)
    with db.write() as s:
        for role, login in LOGINS.items():
            out[role] = users.actor_for(s, login=login, now=now)
        out["sid"] = users.actor_for(s, login="sid", now=now)
        acme = companies.create_company(s, data={"name": "Acme", "owner_id": out["sales"].user_id}, actor=actor,
                                        now=now)
        globex = companies.create_company(s, data={"name": "Globex"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "emails": ["ada@acme.example.com"],
                                               "company_id": acme.id, "owner_id": out["sales"].user_id},
                                      actor=actor, now=now)
        bob = contacts.create_contact(s, data={"first_name": "Bob", "last_name": "Stone", "emails": ["bob@globex.example.com"],
                                               "company_id": globex.id}, actor=actor, now=now)
        out.update(acme=acme.id, globex=globex.id, ada=ada.id, bob=bob.id)
    return out


seeded_rows, db_url, team = seeded_fixtures(_team, "team")


def _open(s, t, now, subject="Printer on fire", **kw):
    kw.setdefault("contact_id", t["ada"])
    return cases.create_case(s, actor=kw.pop("actor", t["support"]), subject=subject, now=now, **kw)


def _audit(s, case_id):
    return s.execute(select(AuditEvent.action, AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value)
                     .where(AuditEvent.entity == "case", AuditEvent.entity_id == case_id)
                     .order_by(AuditEvent.id)).all()


# --- opening and reading ---------------------------------------------------------------------------


def test_a_case_takes_its_contacts_company_and_is_new_and_audited(db, team, now):
    with db.write() as s:
        case = _open(s, team, now, description="Smoke everywhere", priority="High", channel="email",
                     category="Hardware", team="support")
        case_id = case.id
        assert (case.status, case.priority, case.channel, case.company_id, case.team) == (
            NEW, "high", "email", team["acme"], "Support")  # spelled as the users' team
        assert case.version == 1 and case.created_by == team["support"].user_id
    with db.read() as s:
        got = cases.get_case(s, case_id, actor=team["manager"])
        assert got.subject == "Printer on fire"
        assert cases.find_case(s, f"[#{case_id}]", actor=team["admin"]).id == case_id
        assert [(a.action, a.new_value) for a in _audit(s, case_id)] == [
            ("create", f"#{case_id} Printer on fire (high, email)")]


@pytest.mark.parametrize("kwargs, message", [
    ({"priority": "critical"}, "invalid priority 'critical': choose one of low, normal, high, urgent"),
    ({"channel": "pigeon"}, "invalid channel 'pigeon'"),
    ({"subject": "  "}, "subject is required"),
    ({"contact_id": 99999}, "no contact with id 99999"),
    ({"company_id": 99999}, "no company with id 99999"),
    ({"deal_id": 99999}, "no deal with id 99999"),
    ({"product_id": 99999}, "no product with id 99999"),
    ({"assignee_id": 99999}, "no user with id 99999"),
])
def test_bad_input_is_one_line_and_writes_nothing(db, team, now, kwargs, message):
    with db.write() as s:
        with pytest.raises((InvalidInput, NotFound), match=message) as caught:
            _open(s, team, now, **kwargs)
        assert "\n" not in str(caught.value)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "case")) == 0


def test_a_deactivated_user_cannot_be_given_a_case(db, team, now):
    with db.write() as s:
        users.update_user(s, user_id=team["sid"].user_id, changes={"active": False}, actor=team["admin"], now=now)
    with db.write() as s:
        with pytest.raises(InvalidInput, match="user sid is deactivated"):
            _open(s, team, now, assignee_id=team["sid"].user_id)


# --- queues, counts, pages -------------------------------------------------------------------------


def test_queues_and_their_counts_agree(db, team, now):
    sue, sid = team["support"], team["sid"]
    with db.write() as s:
        mine = _open(s, team, now, "Mine", assignee_id=sue.user_id, team="Support").id
        theirs = _open(s, team, now, "Sid's", assignee_id=sid.user_id, team="Support").id
        nobody = _open(s, team, now, "Nobody's", contact_id=team["bob"]).id
        waiting = _open(s, team, now, "Waiting", assignee_id=sue.user_id).id
        done = _open(s, team, now, "Done", team="Billing").id
        soon = _open(s, team, now, "Soon", team="Billing").id
    with db.write() as s:
        cases.set_status(s, waiting, WAITING, actor=sue, now=now)
        cases.resolve(s, done, actor=sue, now=now)
        # the SLA helper stamps due times; the queue reads sla_next_at, set here by hand
        s.get(Case, soon).sla_next_at = now + timedelta(minutes=30)
        s.get(Case, nobody).sla_next_at = now + timedelta(hours=5)

    def ids(queue, **kw):
        with db.read() as s:
            return [r.id for r in cases.list_cases(s, actor=sue, queue=queue, now=now, **kw).items]

    assert ids("mine") == [waiting, mine]  # newest first
    assert ids("unassigned") == [soon, nobody]
    assert ids("waiting") == [waiting]
    assert ids("open") == [soon, waiting, nobody, theirs, mine]
    assert ids("all") == [soon, done, waiting, nobody, theirs, mine]
    assert ids("team", team="support") == [theirs, mine]
    assert ids("soon") == [soon]
    assert ids("soon", soon_minutes=6 * 60) == [soon, nobody]  # soonest first
    assert ids("all", status="resolved") == [done]
    assert ids("all", search="globex") == [nobody]
    assert ids("all", search="lovelace") == [soon, done, waiting, theirs, mine]
    assert ids("all", search=f"#{theirs}") == [theirs]
    assert ids("all", search="sid's") == [theirs]
    assert ids("all", search="100%") == []
    with db.read() as s:
        counts = cases.queue_counts(s, actor=sue, now=now)
    assert counts == {"mine": 2, "unassigned": 2, "soon": 1, "waiting": 1, "open": 5, "all": 6,
                      "team:Support": 2, "team:Billing": 1}
    with db.read() as s:
        with pytest.raises(InvalidInput, match="no queue 'later'"):
            cases.list_cases(s, actor=sue, queue="later")
        with pytest.raises(InvalidInput, match="the team queue needs a team"):
            cases.list_cases(s, actor=sue, queue="team")


def test_a_queue_pages_by_keyset_without_gaps_or_repeats(db, team, now):
    with db.write() as s:
        made = [_open(s, team, now + timedelta(seconds=i), f"Case {i}").id for i in range(23)]
    seen, after = [], None
    with db.read() as s:
        while True:
            page = cases.list_cases(s, actor=team["support"], queue="all", after=after, limit=5, with_total=True)
            assert page.total == 23
            seen += [r.id for r in page.items]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        back = cases.list_cases(s, actor=team["support"], queue="all", before=after, limit=5)
    assert seen == sorted(made, reverse=True)
    assert [r.id for r in back.items] == seen[14:19]  # the five before the fourth page's last


def test_an_own_scopes_counts_are_its_queues_totals(db, team, now):
    """queue_counts for sales (own scope) is, queue by queue and team by team, the total of the list
    the queue shows: over a backlog and a history, cases of its company, of its contact, assigned to
    it (some of those its accounts' too: counted once), and the cases it may not see."""
    sam = team["sales"]
    with db.write() as s:
        made = []
        for i, (about, status, extra) in enumerate((
                ({}, NEW, {"team": "Support"}),                                         # Ada's (sam's contact)
                ({"contact_id": None, "company_id": team["acme"]}, OPEN, {"priority": "urgent"}),
                ({"contact_id": team["bob"]}, WAITING, {"assignee_id": sam.user_id, "team": "Billing"}),
                ({}, OPEN, {"assignee_id": sam.user_id, "team": "Support"}),            # theirs twice over
                ({}, RESOLVED, {"team": "Support"}), ({}, CLOSED, {}),
                ({"contact_id": team["bob"]}, OPEN, {"team": "Support"}),               # not sam's
                ({"contact_id": team["bob"]}, NEW, {}), ({}, NEW, {"priority": "low"}))):
            case = _open(s, team, now + timedelta(seconds=i), f"Case {i}", **about, **extra)
            if status != NEW:
                cases.set_status(s, case.id, status, actor=team["admin"], now=now)
            made.append(case.id)
        for i, minutes in ((1, 30), (3, 20), (7, 10), (8, 600)):  # due soon (one not sam's), and one later
            s.get(Case, made[i]).sla_next_at = now + timedelta(minutes=minutes)
    later = now
    with db.read() as s:
        counts = cases.queue_counts(s, actor=sam, now=later)
        expected = {}
        for queue in ("mine", "unassigned", "soon", "waiting", "open", "all"):
            expected[queue] = cases.list_cases(s, actor=sam, queue=queue, now=later, with_total=True).total
        for name in ("Support", "Billing"):
            expected[f"team:{name}"] = cases.list_cases(s, actor=sam, queue="team", team=name, now=later,
                                                        with_total=True).total
    assert counts == expected
    assert expected == {"mine": 2, "unassigned": 3, "soon": 2, "waiting": 1, "open": 5, "all": 7,
                        "team:Support": 2, "team:Billing": 1}


# --- who may see and change what -------------------------------------------------------------------


def test_sales_sees_the_cases_of_its_accounts_and_those_assigned_to_it(db, team, now):
    sam = team["sales"]
    with db.write() as s:
        of_ada = _open(s, team, now, "Ada's").id                     # sam owns Ada (and Acme)
        of_acme = _open(s, team, now, "Acme's", contact_id=None, company_id=team["acme"]).id
        of_bob = _open(s, team, now, "Bob's", contact_id=team["bob"]).id
        given = _open(s, team, now, "Given to sam", contact_id=team["bob"], assignee_id=sam.user_id).id
    with db.read() as s:
        assert [r.id for r in cases.list_cases(s, actor=sam, queue="all").items] == [given, of_acme, of_ada]
        assert cases.queue_counts(s, actor=sam, now=now) == {"mine": 1, "unassigned": 2, "soon": 0, "waiting": 0,
                                                             "open": 3, "all": 3}
        assert cases.get_case(s, of_ada, actor=sam).id == of_ada
        with pytest.raises(Forbidden, match=r"sam \(sales\) may not see the cases of other people's accounts"):
            cases.get_case(s, of_bob, actor=sam)
        with pytest.raises(Forbidden, match="sam"):
            cases.entries(s, of_bob, actor=sam)
        assert [r.id for r in cases.cases_for(s, actor=sam, contact_id=team["bob"]).items] == [given]
        with pytest.raises(Forbidden):
            cases.list_cases(s, actor=team["marketing"])
    with db.write() as s:
        # reading is not working: sales may not reply, note, assign or resolve
        with pytest.raises(Forbidden, match=r"sam \(sales\) may not add, reply to"):
            cases.note(s, of_ada, actor=sam, body="I know them", now=now)
        with pytest.raises(Forbidden):
            cases.create_case(s, actor=sam, subject="x", now=now)


@pytest.mark.parametrize("role, may", [("admin", True), ("manager", True), ("support", True), ("sales", False),
                                       ("marketing", False)])
def test_every_write_is_gated_by_case_edit_and_audited(db, team, now, role, may):
    who = team[role]
    with db.write() as s:
        a = _open(s, team, now, "One", assignee_id=who.user_id if role == "sales" else None).id
        b = _open(s, team, now, "Two", assignee_id=who.user_id if role == "sales" else None).id
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "10"}, actor=team["admin"], now=now).id
    writes = {
        "create": lambda s: cases.create_case(s, actor=who, subject="New one", now=now),
        "note": lambda s: cases.note(s, a, actor=who, body="psst", now=now),
        "entry": lambda s: cases.add_entry(s, a, actor=who, body="called them", now=now),
        "reply": lambda s: cases.reply(s, a, actor=who, body="Hello", now=now),
        "assign": lambda s: cases.assign(s, a, actor=who, team="Billing", now=now),
        "status": lambda s: cases.set_status(s, a, "waiting", actor=who, now=now),
        "resolve": lambda s: cases.resolve(s, a, actor=who, now=now),
        "close": lambda s: cases.close(s, b, actor=who, now=now),
        "priority": lambda s: cases.set_priority(s, a, "urgent", actor=who, now=now),
        "link": lambda s: cases.link_deal(s, a, deal, actor=who, now=now),
        "merge": lambda s: cases.merge_cases(s, keep_id=a, merge_id=b, actor=who, now=now),
    }
    for name, write in writes.items():
        with db.write() as s:
            before = s.scalar(select(func.count()).select_from(AuditEvent))
            if may:
                write(s)
                assert s.scalar(select(func.count()).select_from(AuditEvent)) > before, name
            else:
                with pytest.raises(Forbidden):
                    write(s)
                assert s.scalar(select(func.count()).select_from(AuditEvent)) == before, name
    if may:
        with db.write() as s:
            cases.reopen(s, a, actor=who, now=now)


def test_a_stale_version_is_refused_and_nothing_is_written(db, team, now):
    sue = team["support"]
    with db.write() as s:
        case_id = _open(s, team, now).id
    with db.write() as s:
        cases.set_priority(s, case_id, "high", actor=sue, version=1, now=now)
    for write in (lambda s: cases.set_priority(s, case_id, "low", actor=sue, version=1, now=now),
                  lambda s: cases.assign(s, case_id, actor=sue, assignee_id=sue.user_id, version=1, now=now),
                  lambda s: cases.resolve(s, case_id, actor=sue, version=1, now=now),
                  lambda s: cases.reply(s, case_id, actor=sue, body="hi", version=1, now=now),
                  lambda s: cases.link_deal(s, case_id, None, actor=sue, version=1, now=now)):
        with db.write() as s:
            with pytest.raises(Conflict, match=r"case #\d+ was changed by sue .* \(you have version 1, it is now "
                                               r"version 2\); reload it"):
                write(s)
    with db.read() as s:
        case = s.get(Case, case_id)
        assert (case.priority, case.status, case.version) == ("high", NEW, 2)
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 0


# --- the thread ------------------------------------------------------------------------------------


def test_a_reply_is_queued_threaded_on_the_last_email_and_is_the_first_response(db, team, now):
    sue = team["support"]
    later = now + timedelta(minutes=42)
    with db.write() as s:
        case_id = _open(s, team, now, "Printer on fire", channel="email").id
        # the customer's email that opened the case, stored by mail capture
        stored = mail_store.store_messages(s, [mail_store.MailMessage(
            message_id="m1@acme.example.com", sent_at=now, subject="Printer on fire", from_addr="ada@acme.example.com",
            to_addrs=("help@ours.example.com",), body="It burns", references=("m0@acme.example.com",),
            direction="inbound")], actor=system_actor("mail"), source="sync", now=now)
        cases.add_entry(s, case_id, actor=system_actor("mail"), body="It burns", direction="in",
                        email_id=stored.email_ids["m1@acme.example.com"], now=now)
        assert s.get(Case, case_id).first_response_at is None  # the customer's own mail is no response
    with db.write() as s:
        entry = cases.reply(s, case_id, actor=sue, body="Pull the plug.", cc=["boss@acme.example.com"], now=later)
        entry_id = entry.id
    with db.read() as s:
        out = s.scalars(select(EmailOutbox)).one()
        assert out.to_addrs == ["ada@acme.example.com"] and out.cc_addrs == ["boss@acme.example.com"]
        assert out.subject == f"Re: Printer on fire [#{case_id}]"
        assert out.in_reply_to == "m1@acme.example.com"
        assert out.references == "m0@acme.example.com m1@acme.example.com"
        assert out.from_addr == "sue <sue@ours.example.com>"
        email = s.get(EmailMessage, out.email_id)
        assert email.direction == "out" and email.body == "Pull the plug."
        entry = s.get(CaseEntry, entry_id)
        assert (entry.email_id, entry.visibility, entry.direction, entry.author_id) == (
            out.email_id, "public", "out", sue.user_id)
        case = s.get(Case, case_id)
        assert (case.first_response_at, case.status) == (later, OPEN)
        thread = cases.entries(s, case_id, actor=sue).items
        assert [(e.direction, e.body, e.author_login) for e in thread] == [
            ("in", "It burns", None), ("out", "Pull the plug.", "sue")]
        assert thread[0].contact_name == "Ada Lovelace"
        assert ("update", "first_response_at", None, later.isoformat()) in _audit(s, case_id)


def test_a_reply_goes_from_the_support_address_and_can_be_a_canned_template(db, team, now):
    from crm_tui.config import Settings, SupportConfig

    sue = team["support"]
    settings = Settings(support=SupportConfig(addresses=("help@ours.example.com",)))
    with db.write() as s:
        case_id = _open(s, team, now, "Refund").id
        tpl = email_templates.add_template(s, name="Refund done", subject="Your refund",
                                           body="Dear {{ contact.first_name }}, it is done.", shared=True,
                                           actor=team["admin"], now=now)
    with db.write() as s:
        cases.reply(s, case_id, actor=sue, template_id=tpl.id, settings=settings, now=now)
    with db.read() as s:
        out = s.scalars(select(EmailOutbox)).one()
        assert out.subject == f"Your refund [#{case_id}]" and out.body == "Dear Ada, it is done."
        assert out.from_addr == "sue <help@ours.example.com>" and out.in_reply_to is None
        assert out.to_addrs == ["ada@acme.example.com"]
    with db.write() as s:
        with pytest.raises(InvalidInput, match="the reply is empty"):
            cases.reply(s, case_id, actor=sue, body="  ", now=now)
        bare = _open(s, team, now, "No address", contact_id=None).id
        with pytest.raises(InvalidInput, match=f"case #{bare} has no customer address"):
            cases.reply(s, bare, actor=sue, body="hello?", now=now)


def test_a_note_is_internal_and_no_response(db, team, now):
    with db.write() as s:
        case_id = _open(s, team, now).id
        cases.note(s, case_id, actor=team["support"], body="They called twice", now=now)
    with db.read() as s:
        case = s.get(Case, case_id)
        assert (case.first_response_at, case.status) == (None, NEW)
        [entry] = cases.entries(s, case_id, actor=team["manager"]).items
        assert entry.internal and entry.author_login == "sue"
        assert ("note", None, None, f"entry {entry.id}: They called twice") in _audit(s, case_id)
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 0


def test_waiting_pauses_and_an_inbound_entry_reopens_the_case(db, team, now, monkeypatch):
    calls = []
    for name in ("pause", "resume", "stamp"):
        real = getattr(sla, name)
        monkeypatch.setattr(sla, name, lambda s, c, *, now, _n=name, _r=real: (calls.append((_n, c.status)),
                                                                                _r(s, c, now=now)))
    sue = team["support"]
    with db.write() as s:
        case_id = _open(s, team, now).id
    with db.write() as s:
        cases.set_status(s, case_id, "waiting on customer", actor=sue, now=now + timedelta(hours=1))
        assert s.get(Case, case_id).paused_at == now + timedelta(hours=1)
    with db.write() as s:
        cases.add_entry(s, case_id, actor=system_actor("mail"), body="Here are the logs", direction="in",
                        now=now + timedelta(hours=2))
    with db.read() as s:
        case = s.get(Case, case_id)
        assert (case.status, case.paused_at) == (OPEN, None)
        [entry] = cases.entries(s, case_id, actor=sue).items
        assert entry.contact_id == team["ada"]  # the case's customer
    assert calls[0] == ("stamp", NEW)  # on opening
    # (the SLA's own resume may stamp the targets again, with the wait added)
    assert [c for c in calls if c[0] != "stamp"] == [("pause", WAITING), ("resume", OPEN)]


def test_resolve_close_reopen_keep_their_times_and_resolve_sends_the_survey(db, team, now, monkeypatch):
    sent = []
    monkeypatch.setattr(surveys, "on_resolved", lambda s, case, *, actor, settings, now: sent.append(
        (case.id, actor.login, settings, now)))
    sue = team["support"]
    t1, t2, t3 = (now + timedelta(hours=h) for h in (1, 2, 3))
    with db.write() as s:
        case_id = _open(s, team, now).id
    with db.write() as s:
        cases.resolve(s, case_id, actor=sue, settings="SETTINGS", now=t1)
    assert sent == [(case_id, "sue", "SETTINGS", t1)]
    with db.write() as s:
        cases.close(s, case_id, actor=sue, now=t2)
        case = s.get(Case, case_id)
        assert (case.status, case.resolved_at, case.closed_at, case.sla_next_at) == (CLOSED, t1, t2, None)
    with db.write() as s:
        cases.reopen(s, case_id, actor=sue, now=t3)
        case = s.get(Case, case_id)
        assert (case.status, case.resolved_at, case.closed_at) == (OPEN, None, None)
        with pytest.raises(InvalidInput, match="is open, not resolved or closed"):
            cases.reopen(s, case_id, actor=sue, now=t3)
        with pytest.raises(InvalidInput, match="invalid status 'done'"):
            cases.set_status(s, case_id, "done", actor=sue, now=t3)
    with db.read() as s:
        statuses = [(a.old_value, a.new_value) for a in _audit(s, case_id) if a.field == "status"]
    assert statuses == [(NEW, RESOLVED), (RESOLVED, CLOSED), (CLOSED, OPEN)]
    assert len(sent) == 1  # closing and reopening send no survey


def test_assign_priority_and_link(db, team, now):
    sue, sid = team["support"], team["sid"]
    with db.write() as s:
        case_id = _open(s, team, now).id
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "10", "contact_id": team["ada"]},
                                 actor=team["admin"], now=now).id
    with db.write() as s:
        cases.assign(s, case_id, actor=sue, assignee_id=sid.user_id, team="SUPPORT", now=now)
        cases.set_priority(s, case_id, "Urgent", actor=sue, now=now)
        cases.link_deal(s, case_id, deal, actor=sue, now=now)
        with pytest.raises(InvalidInput, match="give an assignee or a team"):
            cases.assign(s, case_id, actor=sue, now=now)
    with db.read() as s:
        case = s.get(Case, case_id)
        assert (case.assignee_id, case.team, case.priority, case.deal_id) == (sid.user_id, "Support", "urgent", deal)
        trail = _audit(s, case_id)
        assert ("assign", "assignee_id", None, str(sid.user_id)) in trail
        assert ("update", "priority", "normal", "urgent") in trail
        assert ("link", "deal_id", None, str(deal)) in trail
        others, open_deals = cases.customer_context(s, case_id, actor=sue)
        assert others == [] and [d.title for d in open_deals] == ["Anvils"]


def test_merging_moves_the_thread_and_surveys_and_closes_the_merged_case(db, team, now):
    sue = team["support"]
    with db.write() as s:
        keep = _open(s, team, now, "Printer on fire").id
        dup = _open(s, team, now, "Printer still on fire").id
        cases.note(s, keep, actor=sue, body="first", now=now)
        cases.note(s, dup, actor=sue, body="second", now=now + timedelta(minutes=1))
        s.add(Survey(kind="csat", case_id=dup, contact_id=team["ada"], token_hash="x" * 64, sent_at=now))
    with db.write() as s:
        cases.merge_cases(s, keep_id=keep, merge_id=dup, actor=sue, now=now + timedelta(hours=1))
    with db.read() as s:
        gone = s.get(Case, dup)
        assert (gone.status, gone.merged_into_id, gone.closed_at) == (CLOSED, keep, now + timedelta(hours=1))
        assert gone.resolved_at is None  # merged, not resolved: no resolution time to report
        assert [e.body for e in cases.entries(s, keep, actor=sue).items] == ["first", "second"]
        assert cases.entries(s, dup, actor=sue).items == []
        assert s.scalar(select(Survey.case_id)) == keep
        assert ("merge", None, None, f"case #{dup} merged in: 1 entries, 1 surveys moved") in _audit(s, keep)
        assert ("merge", "merged_into_id", None, str(keep)) in _audit(s, dup)
        others, _ = cases.customer_context(s, keep, actor=sue)
        assert [c.id for c in others] == [dup]
    with db.write() as s:
        with pytest.raises(InvalidInput, match=f"case #{dup} was already merged into #{keep}"):
            cases.merge_cases(s, keep_id=keep, merge_id=dup, actor=sue, now=now)
        with pytest.raises(InvalidInput, match="with itself"):
            cases.merge_cases(s, keep_id=keep, merge_id=keep, actor=sue, now=now)
        with pytest.raises(InvalidInput, match=f"merged into #{keep}; reply there"):
            cases.reply(s, dup, actor=sue, body="hi", now=now)


def test_merging_two_contacts_takes_their_cases_along(db, team, now):
    with db.write() as s:
        case_id = _open(s, team, now, contact_id=team["bob"]).id
        cases.add_entry(s, case_id, actor=system_actor("mail"), body="hi", direction="in", now=now)
        s.add(Survey(kind="csat", case_id=case_id, contact_id=team["bob"], token_hash="y" * 64, sent_at=now))
    with db.write() as s:
        merge.merge_records(s, kind="contact", a_id=team["ada"], b_id=team["bob"], keep={}, actor=team["admin"],
                            now=now)
    with db.read() as s:
        assert s.get(Case, case_id).contact_id == team["ada"]
        assert s.scalar(select(CaseEntry.contact_id)) == team["ada"]
        assert s.scalar(select(Survey.contact_id)) == team["ada"]
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "case", AuditEvent.entity_id == case_id, AuditEvent.field == "contact_id")) == 1


def test_merging_two_contacts_of_one_nps_run_keeps_the_answered_survey(db, team, now):
    with db.write() as s:
        s.add(Survey(kind="nps", run_key="nps-2026-11", contact_id=team["ada"], token_hash="a" * 64, sent_at=now))
        s.add(Survey(kind="nps", run_key="nps-2026-11", contact_id=team["bob"], token_hash="b" * 64, sent_at=now,
                     responded_at=now, score=9))
        s.add(Survey(kind="nps", run_key="nps-2026-10", contact_id=team["bob"], token_hash="c" * 64, sent_at=now))
    with db.write() as s:
        merge.merge_records(s, kind="contact", a_id=team["ada"], b_id=team["bob"], keep={}, actor=team["admin"],
                            now=now)
    with db.read() as s:
        assert sorted(s.execute(select(Survey.run_key, Survey.contact_id, Survey.score)).all()) == [
            ("nps-2026-10", team["ada"], None), ("nps-2026-11", team["ada"], 9)]


def test_a_contact_brings_its_company_unless_one_is_given(db, team, now):
    """(Was update_case's test, which only the tests used: a new contact brings its company.)"""
    with db.write() as s:
        bobs = _open(s, team, now, contact_id=team["bob"]).id
        given = _open(s, team, now, contact_id=team["bob"], company_id=team["acme"]).id
    with db.read() as s:
        assert (s.get(Case, bobs).contact_id, s.get(Case, bobs).company_id) == (team["bob"], team["globex"])
        assert s.get(Case, given).company_id == team["acme"]


def test_the_names_a_case_points_to_come_in_one_query(db, team, now):
    from sqlalchemy import event

    from crm_tui.services import products

    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "10"}, actor=team["admin"], now=now).id
        product = products.create_product(s, sku="AN-1", name="Anvil", actor=team["admin"], now=now).id
        full = _open(s, team, now, deal_id=deal, product_id=product, assignee_id=team["support"].user_id).id
        bare = _open(s, team, now, contact_id=None).id
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with db.read() as s:
        full_case, bare_case = s.get(Case, full), s.get(Case, bare)
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            named, none = cases.names(s, full_case), cases.names(s, bare_case)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert named == {"contact": "Ada Lovelace", "company": "Acme", "deal": "Anvils", "product": "Anvil",
                     "assignee": "sue"}
    assert none == dict.fromkeys(("contact", "company", "deal", "product", "assignee"))
    assert len(statements) == 1
