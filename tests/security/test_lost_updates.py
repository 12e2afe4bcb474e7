"""Lost updates (issue 16, item 9): several OS processes each change a different part of one
contact at once, through every path that merges a change into what is stored (the CLI's --field,
the service, tags, the workflow action set_field). Afterwards every change is there, and every
writer was told it succeeded; on a SQLite file and on PostgreSQL.

A case is one row of CASES (its name, and what the contact keeps of each write) and one entry of
EDITS: `edit(db, url, contact_id, key, actor, now, stale)`, run in a child process after it read the
contact (`stale`) and waited for its siblings. Each case gets its own contact.
"""

from __future__ import annotations

import pytest

from crm_tui.errors import Conflict, InvalidInput
from crm_tui.services import contacts
from tests.unit import proc_workers

WRITERS = 4
ROUNDS = 2  # each writer writes this many keys, one unit of work each, so the writers overlap


# --- the edits, run in the child processes (module level: a spawned child imports them) -------------


def _cli(db, url, contact_id, key, actor, now, stale):
    from typer.testing import CliRunner

    from crm_tui.cli.main import app

    result = CliRunner().invoke(app, ["--db", url, "--user", actor.login, "contact", "edit", str(contact_id),
                                      "--field", f"{key}=v"])
    if result.exit_code != 0:
        raise RuntimeError(result.output.strip())


def _service(db, url, contact_id, key, actor, now, stale):
    with db.write() as s:
        contacts.update_contact(s, contact_id=contact_id, changes={}, custom_set={key: "v"}, actor=actor, now=now)


def _tags(db, url, contact_id, key, actor, now, stale):
    with db.write() as s:
        contacts.change_tags(s, contact_id=contact_id, add=[key], actor=actor, now=now)


def _workflow(db, url, contact_id, key, actor, now, stale):
    """The set_field action, given a firing whose copy of the contact was read before the others wrote."""
    from types import SimpleNamespace

    from crm_tui.workflows.actions import RUNNERS, Action, Env
    from crm_tui.workflows.runner import system_actor

    firing = SimpleNamespace(contact=stale, render=lambda text: text, now=now, rule="r",
                             trigger=SimpleNamespace(entity="contact"))
    with db.write() as s:
        RUNNERS["set_field"](Action("set_field", {"field": f"custom.{key}", "value": "v"}), s, firing,
                             Env(actor=system_actor("r")))


def edit_many(url: str, ids: dict[str, int], worker: int, actor, now, barrier, queue) -> None:
    """For each case in turn: read its contact, wait for the siblings, then write ROUNDS keys.
    Reports (worker, {case: errors}). One set of processes runs every case: spawning is the slow part."""
    from crm_tui.db import open_database

    errors: dict[str, list[str]] = {case: [] for case in ids}
    try:
        db = open_database(url, migrate=False)
        for case, contact_id in ids.items():
            with db.read() as s:
                stale = contacts.get_contact(s, contact_id=contact_id)
            barrier.wait(timeout=60)
            for i in range(ROUNDS):
                try:
                    EDITS[case](db, url, contact_id, f"k{worker}-{i}", actor, now, stale)
                except Exception as exc:  # noqa: BLE001 - every failure is reported, none hidden
                    errors[case].append(f"{exc.__class__.__name__}: {exc}")
        db.dispose()
    except BaseException as exc:  # noqa: BLE001
        errors.setdefault("worker", []).append(f"{exc.__class__.__name__}: {exc}")
    queue.put((worker, errors))


EDITS = {"cli --field": _cli, "service custom_set": _service, "tags": _tags, "workflow set_field": _workflow}


# --- the cases ---------------------------------------------------------------------------------------

CASES = [  # (case, what the contact keeps of each write)
    ("cli --field", lambda read: set(read.custom)),
    ("service custom_set", lambda read: set(read.custom)),
    ("tags", lambda read: set(read.tags)),
    ("workflow set_field", lambda read: set(read.custom)),
]


@pytest.mark.slow
def test_concurrent_edits_of_different_fields_all_stay(db, db_url, actor, now):
    ids = {}
    with db.write() as s:
        for case, _ in CASES:
            ids[case] = contacts.create_contact(s, data={"first_name": case, "custom": {"kept": "yes"}},
                                                actor=actor, now=now).id

    reports = proc_workers.run_in_processes(edit_many, [(db_url, ids, worker, actor, now) for worker in range(WRITERS)])

    wanted = {f"k{w}-{i}" for w in range(WRITERS) for i in range(ROUNDS)}
    failures = []
    for case, stored in CASES:
        errors = [e for _, errs in reports for e in errs.get(case, [])]
        with db.read() as s:
            read = contacts.get_contact(s, contact_id=ids[case])
        lost = sorted(wanted - stored(read))
        if errors or lost or read.custom.get("kept") != "yes":
            failures.append(f"{case}: {len(errors)} refused (e.g. {errors[:1]}), lost {lost}, custom {read.custom}")
    failures += [e for _, errs in reports for e in errs.get("worker", [])]
    assert failures == []


# --- the partial change itself: (custom fields stored, custom_set, custom_remove, other args, result) ----
PARTIAL_CASES = [
    ({"a": "1"}, {"b": "2"}, [], {}, {"a": "1", "b": "2"}),
    ({"a": "1", "b": "2"}, {}, ["a"], {}, {"b": "2"}),
    ({"a": "1"}, {}, ["missing"], {}, {"a": "1"}),
    ({"a": "1"}, {"a": "x"}, ["a"], {}, {"a": "x"}),  # what is set stays
    ({"a": "1"}, {"b": "2"}, [], {"changes": {"custom": {}}}, InvalidInput),  # a whole dict and a change
    ({"a": "1"}, {"": "2"}, [], {}, InvalidInput),
    ({"a": "1"}, {"b": ["x"]}, [], {}, InvalidInput),
    ({"a": "1"}, {"b": "2"}, [], {"version": 0}, Conflict),  # a stale version is still refused
]


@pytest.mark.parametrize(("stored", "set_", "remove", "extra", "expected"), PARTIAL_CASES)
def test_a_partial_custom_field_change(db, actor, now, stored, set_, remove, extra, expected):
    with db.write() as s:
        contact = contacts.create_contact(s, data={"first_name": "P", "custom": stored}, actor=actor, now=now)
    kwargs = {"changes": {}, **extra}
    if isinstance(expected, type):
        with pytest.raises(expected), db.write() as s:
            contacts.update_contact(s, contact_id=contact.id, custom_set=set_, custom_remove=remove, actor=actor,
                                    now=now, **kwargs)
        expected = stored
    else:
        with db.write() as s:
            contacts.update_contact(s, contact_id=contact.id, custom_set=set_, custom_remove=remove, actor=actor,
                                    now=now, **kwargs)
    with db.read() as s:
        assert contacts.get_contact(s, contact_id=contact.id).custom == expected
