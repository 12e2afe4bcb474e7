"""Issue 17 #14, the hostile cases: correcting or removing a record one may not, one that is history,
one that changed since, or with a value the rules refuse. Each case is one line on stderr and
nothing written. Add a row to extend it."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Crm, row_counts
from tests.conftest import BACKENDS, shared_database

LONG = "x" * 301

# (case, user, command, what the error says)
CASES = [
    ("a seller archives someone else's deal", "bob", ["deal", "archive", "{deal}"], "may not"),
    ("a deal named by anything but its id", "ann", ["deal", "archive", "1; DROP TABLE deals"], "give the deal's id"),
    ("a stale archive", "ann", ["deal", "archive", "{deal}", "--version", "9"], "was changed"),
    ("a seller deletes someone else's shared list", "bob", ["view", "delete", "Team list", "--yes"], "may not"),
    ("a seller renames someone else's shared list", "bob", ["view", "rename", "Team list", "Mine"], "may not"),
    ("someone else's private list is not there", "bob", ["view", "delete", "Ann's own", "--yes"],
     "no saved contact list named"),
    ("a list renamed to a taken name", "ann", ["view", "rename", "Team list", "ann's OWN"], "already exists"),
    ("a list renamed to nothing", "ann", ["view", "rename", "Team list", "   "], "view name is required"),
    ("a list renamed too long", "ann", ["view", "rename", "Team list", "y" * 101], "view name"),
    ("a list sorted by a column that is not one", "ann", ["view", "update", "Team list", "--sort", "x; --"],
     "invalid sort"),
    ("a list filtered by a user who is not one", "ann", ["view", "update", "Team list", "--owner", "mallory"],
     "mallory"),
    ("a list deleted without --yes and no terminal", "ann", ["view", "delete", "Team list"], "--yes"),
    ("a stage change edited", "ann", ["activity", "edit", "{stage_change}", "--subject", "rewritten"],
     "stage change"),
    ("a stage change deleted", "ann", ["activity", "delete", "{stage_change}", "--yes"], "stage change"),
    ("a stale activity edit", "ann", ["activity", "edit", "{call}", "--notes", "x", "--version", "5"], "was changed"),
    ("a stale activity delete", "ann", ["activity", "delete", "{call}", "--version", "5", "--yes"], "was changed"),
    ("an activity subject too long", "ann", ["activity", "edit", "{call}", "--subject", LONG], "subject"),
    ("an activity that is not there", "ann", ["activity", "delete", "424242", "--yes"], "no activity"),
    ("an activity deleted without --yes and no terminal", "ann", ["activity", "delete", "{call}"], "--yes"),
]


@pytest.fixture(scope="module", params=BACKENDS)
def records(request):
    """The records the cases name, made once per backend for the module: every case is refused and
    writes nothing (each asserts so), so they share one database."""
    from crm_tui.services import users, views

    with shared_database(request) as db:
        crm = Crm(db.url)
        crm.ok("user", "add", "bob", "--role", "sales")
        crm.ok("contact", "add", "--first", "Ada", "--email", "ada@example.com")
        call = crm.json("log", "call", "--contact", "ada@example.com", "--subject", "Intro")["activity"]
        deal = crm.json("deal", "add", "Anvils")
        crm.ok("deal", "step", str(deal["id"]))
        stage_change = next(a for a in crm.json("deal", "show", str(deal["id"]))["recent_activities"]
                            if a["kind"] == "stage_change")
        with db.write() as s:
            ann = users.actor_for(s, login="ann")
            views.create_view(s, data={"name": "Team list", "filters": {"tag": "hot"}}, actor=ann)
            views.create_view(s, data={"name": "Ann's own", "shared": False}, actor=ann)
        yield {"url": db.url, "deal": deal["id"], "call": call["id"], "stage_change": stage_change["id"]}


@pytest.mark.parametrize(("case", "user", "command", "says"), CASES, ids=[c[0] for c in CASES])
def test_refused_and_nothing_written(records, case, user, command, says):
    crm, db_url = Crm(records["url"]), records["url"]
    args = [part.format(**records) for part in command]
    before = row_counts(db_url)
    result = crm.fails(*args, user=user)
    assert says.lower() in result.stderr.lower(), (case, result.stderr)
    assert row_counts(db_url) == before, case
