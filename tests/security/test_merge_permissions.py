"""Merges need the permissions of every record they change (issue 16, item 2), and audit each change.

`crm company merge A B` re-points B's contacts, deals, tasks and activities at A, and `crm contact
merge` does the same for a contact's. Each re-pointed record is a change of that record: it needs
the permission its own command needs (deal.edit on the deal's owner, task.edit on the task's
assignee, ...) and gets its own audit event. A refused merge writes nothing.

CASES is the table: (kind, who merges, what is linked to B, the refusal's subject or None, a
permission an admin took from the role first). A link is (record kind, the role owning it).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_tui.errors import Forbidden
from crm_tui.models import Activity, AuditEvent, Case, Contact, Deal, Stage, Task
from crm_tui.services import activities, cases, companies, contacts, deals, merge, permissions, pipelines, tasks, users
from crm_tui.services.common import system_actor

from .conftest import row_counts

LOGINS = {"admin": "ann", "manager": "mia", "sales": "sam", "marketing": "max", "support": "sue"}
MODELS = {"deal": Deal, "task": Task, "contact": Contact, "activity": Activity, "case": Case}

CASES = [
    # the reproduction: support may merge companies, not move a colleague's deals
    ("company", "support", [("deal", "sales")], "deal", None),
    ("company", "support", [("contact", "sales"), ("activity", "sales")], None, None),
    ("company", "support", [("task", "support")], None, None),
    ("company", "sales", [("deal", "sales")], None, None),
    ("company", "sales", [("deal", "sales"), ("deal", "manager")], "deal", None),
    ("company", "sales", [("task", "manager")], "task", None),
    ("company", "marketing", [("deal", "marketing")], "deal", None),
    ("company", "manager", [("deal", "sales"), ("task", "support"), ("contact", "sales")], None, None),
    ("company", "support", [("contact", "sales")], "contact", ("support", "contact.edit")),
    ("contact", "support", [("deal", "sales")], "deal", None),
    ("contact", "marketing", [("task", "marketing"), ("activity", "admin")], None, None),
    ("contact", "sales", [("task", None)], "task", None),  # nobody's task is not sam's own
    ("contact", "support", [("activity", "admin")], "activit", ("support", "activity.log")),
    ("contact", "system", [("deal", "sales"), ("task", "manager"), ("activity", "admin")], None, None),
    ("company", "admin", [("deal", "sales"), ("task", None), ("contact", "manager"), ("activity", "sales")],
     None, None),
    # support cases (issue 23): moving one needs case.edit, which sales and marketing lack
    ("contact", "sales", [("case", "sales")], "case", None),
    ("company", "marketing", [("case", None)], "case", None),
    ("contact", "support", [("case", "sales"), ("case", None)], None, None),
    ("company", "manager", [("case", "support"), ("deal", "sales")], None, None),
    ("contact", "support", [("case", "support")], "case", ("support", "case.edit")),
]


@pytest.fixture
def team(db, actor, now):
    """An actor per role (ann is the admin); the system actor as "system"."""
    out = {"admin": actor, "system": system_actor("test")}
    with db.write() as s:
        for role, login in LOGINS.items():
            if role != "admin":
                users.create_user(s, data={"login": login, "role": role}, actor=actor, now=now)
    with db.write() as s:
        for role, login in LOGINS.items():
            out[role] = users.actor_for(s, login=login, now=now)
    return out


def _pair(s, kind, admin, now) -> tuple[int, int]:
    if kind == "company":
        return tuple(companies.create_company(s, data={"name": n}, actor=admin, now=now).id for n in ("Alpha", "Beta"))
    return tuple(contacts.create_contact(s, data={"first_name": n}, actor=admin, now=now).id for n in ("Alpha", "Beta"))


def _link(s, record, owner, link, admin, now) -> int:
    """A record of kind `record` linked to B, owned by (or assigned to, or logged by) `owner`."""
    if record == "deal":
        return deals.create_deal(s, data={"title": "Deal", "owner_id": owner, **link}, actor=admin, now=now).id
    if record == "task":
        made = tasks.create_task(s, data={"title": "Task", "assignee_id": owner, **link}, actor=admin, now=now).id
        s.get(Task, made).assignee_id = owner  # None: nobody's
        return made
    if record == "case":
        return cases.create_case(s, actor=admin, subject="Case", assignee_id=owner, **link, now=now).id
    if record == "contact":
        return contacts.create_contact(s, data={"first_name": "Linked", "owner_id": owner, **link},
                                       actor=admin, now=now).id
    return activities.log_activity(s, data={"kind": "note", "subject": "note", **link}, actor=admin, now=now)[0].id


@pytest.mark.parametrize(("kind", "who", "links", "refused", "revoke"), CASES,
                         ids=[f"{c[1]}-{c[0]}-{'+'.join(f'{r}:{o}' for r, o in c[2])}" for c in CASES])
def test_a_merge_needs_the_permission_of_every_record_it_changes(db, db_url, team, now, kind, who, links,
                                                                 refused, revoke):
    admin = team["admin"]
    with db.write() as s:
        if revoke:
            permissions.revoke(s, role=revoke[0], action=revoke[1], actor=admin, now=now)
        a, b = _pair(s, kind, admin, now)
        column = f"{kind}_id"
        made = [(record, _link(s, record, team[owner].user_id if owner else None, {column: b}, admin, now))
                for record, owner in links]
    before = row_counts(db_url)

    if refused:
        refusal = rf"merging {kind} #{b} into #{a} would change \d+ {refused}"
        with pytest.raises(Forbidden, match=refusal), db.write() as s:
            merge.merge_records(s, kind=kind, a_id=a, b_id=b, actor=team[who], now=now)
        assert row_counts(db_url) == before  # nothing moved, nothing audited, B still there
        return

    with db.write() as s:
        merge.merge_records(s, kind=kind, a_id=a, b_id=b, actor=team[who], now=now)
    with db.read() as s:
        for record, id_ in made:
            assert getattr(s.get(MODELS[record], id_), column) == a
            trail = s.execute(select(AuditEvent.actor, AuditEvent.old_value, AuditEvent.new_value).where(
                AuditEvent.entity == record, AuditEvent.entity_id == id_, AuditEvent.action == "merge",
                AuditEvent.field == column)).all()
            assert [tuple(t) for t in trail] == [(team[who].login, str(b), str(a))], (record, id_)


def test_every_table_a_merge_moves_has_its_permission_named():
    """A table added later that points at contacts or companies must say what moving its rows needs."""
    for model, skip in ((Contact, merge._CONTACT_POINTS), (merge.Company, set())):
        for table, _ in merge._references(model, skip=skip):
            assert table.name in merge.MOVED, f"{table.name} points at {model.__tablename__}: add it to merge.MOVED"


def test_the_cli_refuses_the_reported_merge_and_writes_nothing(db, db_url, team, now, crm):
    """The report: `crm --user sue company merge 3 2` re-pointed a colleague's deals."""
    with db.write() as s:
        a, b = _pair(s, "company", team["admin"], now)
        _link(s, "deal", team["sales"].user_id, {"company_id": b}, team["admin"], now)
    before = row_counts(db_url)
    result = crm.fails("company", "merge", str(a), str(b), "--yes", "--no-ask", user="sue")
    assert "deal" in result.stderr and "sue (support)" in result.stderr
    assert row_counts(db_url) == before


# --- other writes that change records of another kind ------------------------------------------------
# (name, who, grants an admin gave the role first, the deals' owners, refused?) for deleting a stage
# whose deals move to the next stage; and who may load the demo data (users and everyone's records).

STAGE_CASES = [
    ("pipeline admin of sales moves a colleague's deal", "sales", ["pipeline.admin"], ["sales", "manager"], True),
    ("pipeline admin of sales moves its own deals", "sales", ["pipeline.admin"], ["sales", "sales"], False),
    ("pipeline admin of support moves any deal", "support", ["pipeline.admin"], ["sales"], True),
    ("admin", "admin", [], ["sales", "manager", "marketing"], False),
]


@pytest.mark.parametrize(("who", "grants", "owners", "refused"), [c[1:] for c in STAGE_CASES],
                         ids=[c[0] for c in STAGE_CASES])
def test_deleting_a_stage_needs_deal_edit_on_the_deals_it_moves(db, db_url, team, now, who, grants, owners,
                                                               refused):
    admin = team["admin"]
    with db.write() as s:
        for action in grants:
            permissions.grant(s, role=team[who].role, action=action, actor=admin, now=now)
        stages = [st for st in pipelines.default_pipeline(s).stages if st.kind == "open"]
        doomed, target = stages[0].id, stages[1].id
        moved = [deals.create_deal(s, data={"title": f"Deal of {o}", "owner_id": team[o].user_id,
                                            "stage_id": doomed}, actor=admin, now=now).id for o in owners]
    before = row_counts(db_url)
    if refused:
        with pytest.raises(Forbidden, match=r"deal.*deleting stage .* would move its \d+ deal"), db.write() as s:
            pipelines.delete_stage(s, stage_id=doomed, move_to_stage_id=target, actor=team[who], now=now)
        assert row_counts(db_url) == before
        return
    with db.write() as s:
        pipelines.delete_stage(s, stage_id=doomed, move_to_stage_id=target, actor=team[who], now=now)
    with db.read() as s:
        assert s.get(Stage, doomed) is None
        assert {s.get(Deal, d).stage_id for d in moved} == {target}
        audited = set(s.scalars(select(AuditEvent.entity_id).where(AuditEvent.entity == "deal",
                                                                   AuditEvent.action == "move")))
        assert audited == set(moved)


DEMO_CASES = [  # who loads the demo (it adds users and records owned by them), refused?
    ("support", True),
    ("manager", True),  # may edit everyone's records, not add users
    ("sales", True),
    ("admin", False),
]


@pytest.mark.parametrize(("who", "refused"), DEMO_CASES, ids=[c[0] for c in DEMO_CASES])
def test_loading_the_demo_needs_the_permissions_of_what_it_adds(db, db_url, team, now, who, refused):
    from crm_tui.services import demo

    before = row_counts(db_url)
    if refused:
        with pytest.raises(Forbidden), db.write() as s:
            demo.load_demo(s, contacts=3, seed=1, actor=team[who], now=now)
        assert row_counts(db_url) == before
        return
    with db.write() as s:
        demo.load_demo(s, contacts=3, seed=1, actor=team[who], now=now)
    assert row_counts(db_url)["contacts"] == 3
