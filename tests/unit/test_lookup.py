"""Search covers what people write (issue 17 #19): a phrase from a call's notes, a word of a
meeting's subject and a deal's title are found, through the activity index, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_tui.services import activities, contacts, deals, lookup
from tests.conftest import seeded_fixtures

NOTES = "She asked about the Zanzibar rollout and the per-seat pricing."


def _written(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Quokka expansion", "contact_id": ada.id}, actor=actor, now=now)
        activities.log_activity(s, data={"kind": "call", "contact_id": ada.id, "subject": "Intro call",
                                         "body": NOTES, "occurred_at": now - timedelta(days=2)}, actor=actor, now=now)
        activities.log_activity(s, data={"kind": "meeting", "deal_id": deal.id, "subject": "Pricing workshop",
                                         "occurred_at": now - timedelta(days=1)}, actor=actor, now=now)
        activities.log_activity(s, data={"kind": "note", "contact_id": ada.id, "subject": "Zürich office",
                                         "occurred_at": now - timedelta(days=3)}, actor=actor, now=now)
    return ada, deal


seeded_rows, db_url, written = seeded_fixtures(_written, "written", only_when_asked=True)


CASES = [  # (query, the (kind, label) found, newest first within a kind)
    ("zanzibar rollout", [("activity", "Intro call")]),  # a phrase from the notes
    ("ZANZIBAR", [("activity", "Intro call")]),  # any case
    ("per-seat", [("activity", "Intro call")]),
    ("pricing", [("activity", "Pricing workshop"), ("activity", "Intro call")]),  # subject and notes
    ("quokka", [("deal", "Quokka expansion")]),  # a deal's title
    ("lovelace", [("contact", "Ada Lovelace")]),
    ("zürich", [("activity", "Zürich office")]),
    ("nowhere-to-be-found", []),
    ("zz", []),  # too short to look for in notes
    ("100%", []),  # LIKE's wildcards are text
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_search_finds_what_people_wrote(db, written, now, query, expected):
    with db.read() as s:
        hits = lookup.find(s, query=query, limit=6, now=now)
    assert [(h.kind, h.label) for h in hits] == expected


def test_an_activity_opens_on_its_contact_or_its_deal(db, written, now):
    ada, deal = written
    with db.read() as s:
        hits = {h.label: h for h in lookup.find(s, query="pricing", limit=6, now=now)}
    assert (hits["Intro call"].opens, hits["Intro call"].opens_id) == ("contact", ada.id)
    assert (hits["Pricing workshop"].opens, hits["Pricing workshop"].opens_id) == ("deal", deal.id)
    assert "Call · Ada Lovelace" in hits["Intro call"].detail


def test_an_edited_note_is_found_by_its_new_words(db, actor, now, written):
    with db.read() as s:
        [hit] = lookup.find(s, query="zanzibar", now=now)
    with db.write() as s:
        activities.update_activity(s, activity_id=hit.id, body="Moved to the Kilimanjaro plan.", actor=actor, now=now)
    with db.read() as s:
        assert lookup.find(s, query="zanzibar", now=now) == []
        assert [h.id for h in lookup.find(s, query="kilimanjaro", now=now)] == [hit.id]


def test_crm_search_prints_the_hits(db_url, written):
    from typer.testing import CliRunner

    from crm_tui.cli.main import app

    result = CliRunner().invoke(app, ["--db", db_url, "--user", "ann", "search", "zanzibar"])
    assert result.exit_code == 0, result.output
    assert "Intro call" in result.stdout and "crm contact show" in result.stdout
    result = CliRunner().invoke(app, ["--db", db_url, "--user", "ann", "search", "zanzibar", "--json"])
    import json

    [item] = json.loads(result.stdout)["items"]
    assert (item["kind"], item["label"], item["opens"]) == ("activity", "Intro call", "contact")


# --- pickers (issue 20) ------------------------------------------------------------------------


def test_a_picker_finds_each_kind_through_its_index(db, written, actor, now):
    from crm_tui.services import companies, pipelines

    with db.write() as s:
        companies.create_company(s, data={"name": "Acme Corp", "domain": "acme.example"}, actor=actor, now=now)
    with db.read() as s:
        assert [c.label for c in lookup.pick(s, kind="contact", query="love", now=now)] == ["Ada Lovelace"]
        assert [c.label for c in lookup.pick(s, kind="company", query="acme", now=now)] == ["Acme Corp"]
        assert [c.label for c in lookup.pick(s, kind="deal", query="quokka", now=now)] == ["Quokka expansion"]
        assert [c.label for c in lookup.pick(s, kind="user", query="an", now=now)] == ["ann"]
        default = pipelines.default_pipeline(s)
        assert [c.label for c in lookup.pick(s, kind="pipeline", query="", now=now)] == [default.name]
        first = default.stages[0]
        assert [c.id for c in lookup.pick(s, kind="stage", query=first.name, within=default.id)] == [first.id]


def test_typed_text_resolves_only_to_one_record(db, written, actor, now):
    from crm_tui.errors import InvalidInput, NotFound

    ada, _deal = written
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Adam", "last_name": "Smith"}, actor=actor, now=now)
    with db.read() as s:
        assert lookup.resolve(s, kind="contact", text="lovelace", now=now).id == ada.id
        assert lookup.resolve(s, kind="contact", text="", now=now) is None
        with pytest.raises(InvalidInput, match="matches several: Ada Lovelace, Adam Smith"):
            lookup.resolve(s, kind="contact", text="ad", now=now)
        with pytest.raises(NotFound, match="no contact matches 'nobody'"):
            lookup.resolve(s, kind="contact", text="nobody", now=now)
        with pytest.raises(InvalidInput, match="no picker"):
            lookup.pick(s, kind="planet", query="x")


def test_the_small_pickers_offer_what_may_be_chosen_now(db, actor, now):
    """Users by login, name or email (active ones); pipelines not archived; stages of one pipeline,
    or of every pipeline (named in the detail) when none is given; open stages only when asked."""
    from crm_tui.errors import InvalidInput, NotFound
    from crm_tui.services import pipelines, users

    with db.write() as s:
        users.create_user(s, data={"login": "bob", "name": "Bob Stone", "email": "bstone@example.com",
                                   "role": "sales"}, actor=actor, now=now)
        old = users.create_user(s, data={"login": "olga", "name": "Olga Stone", "role": "sales"}, actor=actor, now=now)
        users.update_user(s, user_id=old.id, changes={"active": False}, actor=actor, version=old.version, now=now)
        projects = pipelines.create_pipeline(s, name="Projects", actor=actor, now=now, stages=[
            {"name": "Proposal"}, {"name": "Done", "kind": "won"}, {"name": "Dropped", "kind": "lost"}])
        retired = pipelines.create_pipeline(s, name="Retired", actor=actor, now=now)
        pipelines.set_pipeline_archived(s, pipeline_id=retired.id, archived=True, actor=actor, now=now)
    with db.read() as s:
        def labels(kind: str, query: str, **kw) -> list[str]:
            return [c.label for c in lookup.pick(s, kind=kind, query=query, limit=10, **kw)]

        assert labels("user", "stone") == ["bob"]  # olga has left
        assert labels("user", "bstone@") == ["bob"]
        assert labels("user", "") == ["ann", "bob"]
        assert lookup.label(s, kind="user", record_id=old.id).label == "olga"  # a stored value still shows
        assert labels("pipeline", "") == ["Sales", "Projects"]
        assert labels("pipeline", "pro") == ["Projects"]
        assert labels("stage", "", within=projects.id) == ["Proposal", "Done", "Dropped"]
        assert labels("stage", "", within=projects.id, open_only=True) == ["Proposal"]
        assert labels("stage", "d", within=projects.id) == ["Done", "Dropped"]  # names that start so come first
        details = [c.detail for c in lookup.pick(s, kind="stage", query="proposal")]
        assert details == ["Sales · open", "Projects · open"]
        with pytest.raises(InvalidInput, match=r"matches several: Proposal \(Sales · open\), Proposal \(Projects"):
            lookup.resolve(s, kind="stage", text="proposal")
        assert lookup.resolve(s, kind="stage", text="proposal", within=projects.id).id == projects.stages[0].id
        with pytest.raises(NotFound, match="no pipeline matches 'retired'"):
            lookup.resolve(s, kind="pipeline", text="retired")
