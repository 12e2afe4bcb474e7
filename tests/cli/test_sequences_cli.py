"""`crm sequence` and `crm contact unsubscribe` (issue 21): a sequence added, its steps, a list
enrolled, the funnel; `crm workflows run` sends its email through a real SMTP server on loopback
(aiosmtpd) and reports the counts; bad input is one line and writes nothing."""

from __future__ import annotations

import pytest

from tests.cli.conftest import row_counts
from tests.cli.test_email_cli import smtp_config  # noqa: F401 - the fixture


def _setup(crm) -> None:
    crm.ok("user", "edit", "ann", "--email", "ann@team.example", "--name", "Ann Admin")
    crm.ok("contact", "add", "--first", "Lee", "--last", "Park", "--email", "lee@acme.com", "--lifecycle", "lead")
    crm.ok("contact", "add", "--first", "Bo", "--last", "Kim", "--lifecycle", "lead")
    crm.ok("template", "add", "Intro", "--subject", "Hello {{ contact.first_name }}", "--body", "Hi from {{ me.name }}")
    crm.ok("sequence", "add", "Welcome", "--window", "00:00-24:00", "--cap", "10")
    crm.ok("sequence", "step", "add", "welcome", "--email", "Intro", "--after", "0")
    crm.ok("sequence", "step", "add", "Welcome", "--task", "Call them", "--after", "3")


def test_sequence_commands(crm):
    _setup(crm)
    out = crm.ok("sequence", "enroll", "Welcome", "--list", "New leads").stdout
    assert "enrolled 1" in out and "1 without an email address" in out
    assert crm.json("sequence", "enroll", "Welcome", "--contact", "lee@acme.com")["already_active"] == 1
    shown = crm.json("sequence", "show", "welcome")
    assert [(s["position"], s["kind"], s["after_days"]) for s in shown["steps"]] == [(1, "email", 0), (2, "task", 3)]
    assert shown["funnel"]["enrolled"] == shown["funnel"]["active"] == 1
    [listed] = crm.json("sequence", "list")
    assert (listed["name"], listed["steps"], listed["funnel"]["active"]) == ("Welcome", 2, 1)
    [status] = crm.json("sequence", "status", "--contact", "lee@acme.com")
    assert (status["sequence"], status["status"], status["next_position"]) == ("Welcome", "active", 1)
    crm.ok("sequence", "step", "edit", "Welcome", "2", "--after", "4")
    assert crm.json("sequence", "show", "Welcome")["steps"][1]["after_days"] == 4
    crm.ok("sequence", "edit", "Welcome", "--cap", "5")
    assert "stopped Lee Park" in crm.ok("sequence", "stop", "Welcome", "--contact", "lee@acme.com").stdout
    assert crm.json("sequence", "status", "--contact", "lee@acme.com")[0]["stop_reason"] == "manual"
    crm.ok("sequence", "enroll", "Welcome", "--contact", "lee@acme.com")
    assert "1 sequence(s) stopped" in crm.ok("contact", "unsubscribe", "lee@acme.com").stdout
    assert crm.json("sequence", "enroll", "Welcome", "--contact", "lee@acme.com")["do_not_email"] == 1
    crm.ok("sequence", "step", "remove", "Welcome", "2")
    crm.ok("sequence", "archive", "Welcome")
    assert crm.json("sequence", "list") == []


@pytest.mark.parametrize("args", [
    ("sequence", "add", "Other", "--window", "17:00-09:00"),
    ("sequence", "add", "Other", "--cap", "0"),
    ("sequence", "add", "welcome"),
    ("sequence", "step", "add", "Welcome", "--email", "Nope", "--after", "1"),
    ("sequence", "step", "add", "Welcome", "--email", "Intro", "--task", "x", "--after", "1"),
    ("sequence", "step", "add", "Welcome", "--task", "x", "--after", "-2"),
    ("sequence", "step", "add", "Nope", "--task", "x", "--after", "1"),
    ("sequence", "enroll", "Welcome", "--list", "No such list"),
    ("sequence", "enroll", "Welcome"),
    ("sequence", "enroll", "Empty", "--contact", "lee@acme.com"),
    ("sequence", "stop", "Welcome", "--contact", "lee@acme.com"),
    ("sequence", "step", "remove", "Welcome", "9"),
])
def test_bad_input_is_one_line_and_writes_nothing(crm, db_url, args):
    _setup(crm)
    crm.ok("sequence", "add", "Empty")
    before = row_counts(db_url)
    crm.fails(*args)
    assert row_counts(db_url) == before


def test_workflows_run_sends_the_sequence_email_over_smtp(crm, smtp_config):  # noqa: F811
    inbox = smtp_config
    _setup(crm)
    crm.ok("sequence", "enroll", "Welcome", "--contact", "lee@acme.com")
    out = crm.ok("workflows", "run").stdout
    assert "sequences: 1 email(s) queued" in out and "email: sent 1" in out
    [msg] = inbox.messages
    assert (msg["From"], msg["To"], msg["Subject"]) == ("Ann Admin <ann@team.example>", "lee@acme.com", "Hello Lee")
    assert "sequences" not in crm.ok("workflows", "run").stdout  # nothing due: nothing said, nothing sent again
    assert len(inbox.messages) == 1
    assert crm.json("sequence", "show", "Welcome")["funnel"]["sent"] == 1
