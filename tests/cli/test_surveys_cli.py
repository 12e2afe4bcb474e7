"""`crm survey list|show|answer` and `crm survey nps send`, and `crm secret` for the survey key:
through the CLI on SQLite and PostgreSQL, errors as one line."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm_tui.config import Settings, SupportConfig
from crm_tui.db import open_database
from crm_tui.models import Contact
from crm_tui.models.case import RESOLVED, Case, Survey
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import contacts, surveys, users
from tests.cli.conftest import row_counts

KEY_ENV = "CRM_TEST_SURVEY_KEY"
URL = "https://crm.example.com"
LINK = re.compile(r"/survey/([^?\s]+)\?score=(\d+)")


@pytest.fixture
def desk(db_url, tmp_path, monkeypatch, now):
    """[support] set up; Lee and Kim (customers with addresses), Dee (do not email); Lee's case
    resolved and its CSAT sent. Returns {name: id, "token": Lee's CSAT token, "csat": its id}."""
    monkeypatch.setenv(KEY_ENV, "q" * 32)
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "config.toml").write_text(
        f'[support]\nsurvey_url = "{URL}"\nsecret_env = "{KEY_ENV}"\n')
    settings = Settings(support=SupportConfig(survey_url=URL, secret_env=KEY_ENV))
    db = open_database(db_url)
    made = {}
    try:
        with db.write() as s:
            actor = users.actor_for(s, login="ann", now=now)
            users.create_user(s, data={"login": "sue", "name": "Sue", "role": "sales"}, actor=actor, now=now)
            for first in ("Lee", "Kim", "Dee"):
                made[first] = contacts.create_contact(s, data={
                    "first_name": first, "last_name": "Park", "lifecycle": "customer",
                    "emails": [f"{first.lower()}@acme.example"]}, actor=actor, now=now).id
            s.execute(Contact.__table__.update().where(Contact.id == made["Dee"]).values(do_not_email=True))
            case = Case(subject="Broken", contact_id=made["Lee"], status=RESOLVED, created_at=now, updated_at=now)
            s.add(case)
            s.flush()
            survey = surveys.on_resolved(s, case, actor=actor, settings=settings, now=now)
            body = s.scalar(select(EmailOutbox.body).where(EmailOutbox.email_id == survey.email_id))
            made["token"], made["csat"], made["case"] = LINK.search(body).group(1), survey.id, case.id
    finally:
        db.dispose()
    return made


def _count(db_url, *conditions) -> int:
    db = open_database(db_url)
    try:
        with db.read() as s:
            return s.scalar(select(func.count()).select_from(Survey).where(*conditions))
    finally:
        db.dispose()


def test_list_show_and_answer(crm, desk, db_url):
    listed = crm.json("survey", "list")
    assert [(x["id"], x["kind"], x["case"], x["score"]) for x in listed["items"]] == [
        (desk["csat"], "csat", desk["case"], None)]
    assert "CSAT" in crm.ok("survey", "list").stdout
    done = crm.ok("survey", "answer", desk["token"], "4", "--comment", "on the phone")
    assert f"CSAT 4/5 for case #{desk['case']}" in done.stdout
    shown = crm.json("survey", "show", str(desk["csat"]))
    assert (shown["score"], shown["comment"], shown["via"], shown["contact"]) == (4, "on the phone", "manual",
                                                                                  "Lee Park")
    assert "answered already" in crm.fails("survey", "answer", desk["token"], "5").stderr
    assert crm.json("survey", "list", "--unanswered")["items"] == []


def test_bad_answers_are_one_line_and_write_nothing(crm, desk, db_url):
    before = row_counts(db_url)
    assert "from 1 to 5" in crm.fails("survey", "answer", desk["token"], "9").stderr
    assert "not valid" in crm.fails("survey", "answer", desk["token"][:-1] + "x", "4").stderr
    assert "no survey" in crm.fails("survey", "show", "999").stderr
    assert "csat or nps" in crm.fails("survey", "list", "--kind", "poll").stderr
    assert row_counts(db_url) == before


def test_sales_may_not_list_send_or_answer(crm, desk):
    for args in (("survey", "list"), ("survey", "answer", desk["token"], "4"),
                 ("survey", "nps", "send", "--run", "r1", "--lifecycle", "customer")):
        assert "may not" in crm.fails(*args, user="sue", code=4).stderr


def test_nps_send_once_per_contact_and_run(crm, desk, db_url):
    planned = crm.json("survey", "nps", "send", "--run", "nps-test", "--lifecycle", "customer", "--dry-run")
    assert (planned["would_send"], planned["do_not_email"], planned["already_in_run"]) == (2, 1, 0)
    assert _count(db_url, Survey.kind == "nps") == 0
    sent = crm.json("survey", "nps", "send", "--run", "nps-test", "--lifecycle", "customer", "--batch", "1")
    assert (sent["sent"], sent["errors"]) == (2, [])
    again = crm.ok("survey", "nps", "send", "--run", "nps-test", "--view", "Customers")
    assert "0 NPS survey(s) queued" in again.stdout and "2 already in the run" in again.stdout
    assert _count(db_url, Survey.run_key == "nps-test") == 2
    assert [x["run"] for x in crm.json("survey", "list", "--run", "nps-test")["items"]] == ["nps-test"] * 2


def test_nps_every_quarter_names_the_run_by_the_period(crm, desk, db_url):
    first = crm.json("survey", "nps", "send", "--every", "quarter", "--lifecycle", "customer")
    assert re.fullmatch(r"nps-\d{4}-q[1-4]", first["run"]) and first["sent"] == 2
    assert crm.json("survey", "nps", "send", "--every", "quarter", "--lifecycle", "customer")["sent"] == 0


@pytest.mark.parametrize("args, message", [
    (("--lifecycle", "customer"), "give the run"),
    (("--run", "a", "--every", "month", "--lifecycle", "customer"), "give the run"),
    (("--run", "r1"), "whom to survey"),
    (("--every", "week", "--lifecycle", "customer"), "--every is one of"),
    (("--run", "bad key", "--lifecycle", "customer"), "run key"),
    (("--run", "r1", "--view", "No such list"), "no saved contact list"),
    (("--run", "r1", "--lifecycle", "client"), "lifecycle"),
])
def test_nps_send_refuses_bad_input_in_one_line(crm, desk, db_url, args, message):
    before = row_counts(db_url)
    assert message in crm.fails("survey", "nps", "send", *args).stderr
    assert row_counts(db_url) == before


def test_nps_send_says_when_surveys_are_not_set_up(crm, desk, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    assert "signing key" in crm.fails("survey", "nps", "send", "--run", "r1", "--lifecycle", "customer").stderr


def test_secret_status_names_the_survey_key(crm, desk):
    status = crm.ok("secret", "status").stdout
    assert f"survey signing key for the survey links at {URL}: from the environment variable {KEY_ENV}" in status
    from crm_tui.cli.main import app

    short = crm.runner.invoke(app, ["--db", crm.db_url, "--user", "ann", "secret", "set", "--survey", "--stdin"],
                              input="short\n")
    assert short.exit_code == 2 and "at least 16" in short.stderr
