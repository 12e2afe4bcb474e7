"""Bad input: one line on stderr, a non-zero exit code, no traceback, and nothing written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from crm_tui import __version__
from crm_tui.cli.main import app
from tests.cli.conftest import row_counts


@pytest.fixture
def seeded(crm):
    """A database with one contact and one company, and the counts of every table."""
    crm.ok("company", "add", "Acme")
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com")
    return crm


BAD_INPUTS = {
    "invalid email": (["contact", "add", "--first", "Bob", "--email", "bob@"], 2, "invalid email"),
    "invalid email on edit": (["contact", "edit", "ann@example.com", "--email", "nope"], 2, "invalid email"),
    "unparseable due date": (["task", "add", "Call", "--due", "someday maybe"], 2, "someday maybe"),
    "unparseable activity time": (["log", "call", "--contact", "ann@example.com", "--at", "someday maybe"], 2,
                                  "someday maybe"),
    "unparseable follow-up": (["log", "call", "--contact", "ann@example.com", "--follow-up", "whenever"], 2,
                              "whenever"),
    "negative amount": (["deal", "add", "Refund", "--amount", "-5"], 2, "negative"),
    "missing contact id": (["log", "call", "--contact", "999999"], 1, "999999"),
    "missing contact for a task": (["task", "add", "Call", "--contact", "999999"], 1, "999999"),
    "missing company": (["contact", "add", "--first", "Cy", "--company", "Initech"], 1, "Initech"),
    "unknown lifecycle": (["contact", "add", "--first", "Cy", "--lifecycle", "vip"], 2, "lifecycle"),
    "unknown currency": (["deal", "add", "Odd", "--currency", "XXY"], 2, "currency"),
    "bad page cursor": (["contact", "list", "--after", "not-a-cursor"], 2, "cursor"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_and_writes_nothing(seeded, db_url, case):
    args, code, mentioned = BAD_INPUTS[case]
    before = row_counts(db_url)
    result = seeded.fails(*args, code=code)
    assert mentioned in result.stderr
    assert result.stdout == ""
    assert row_counts(db_url) == before


def test_usage_errors_keep_exit_code_2(crm):
    result = crm("deal", "show", "not-a-number")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert crm("no-such-command").exit_code == 2


def test_an_unexpected_error_is_one_line_with_exit_70(crm, monkeypatch):
    from crm_tui.services import contacts

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(contacts, "list_contacts", broken)
    result = crm("contact", "list")
    assert result.exit_code == 70
    assert result.stderr == "internal error: RuntimeError: disk on fire (set CRM_DEBUG=1 for the traceback)\n"

    debug = crm("contact", "list", env={"CRM_DEBUG": "1"})
    assert isinstance(debug.exception, RuntimeError)  # re-raised for the developer


def test_unreachable_database_is_a_storage_error(tmp_path):
    from tests.cli.conftest import Crm

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = Crm(f"sqlite:///{blocker}/crm.db").fails("init")  # the one command that creates a database
    assert result.exit_code == 6
    # any other command names the path instead of trying to make it (issue 17 #17)
    assert "no database at" in Crm(f"sqlite:///{blocker}/crm.db").fails("contact", "list").stderr


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"crm-tui {__version__}\n"
