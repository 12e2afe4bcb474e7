"""`crm serve`'s public survey pages over real HTTP on loopback: a customer's link records the
answer without the serve token, once; a forged, used or expired link gets a clear page; the comment
form and the unsubscribe work; nothing else opens without the token, a HEAD (a mail scanner) records
nothing, and a large body is refused. On SQLite and PostgreSQL (the server runs as a subprocess)."""

from __future__ import annotations

import http.client
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from crm_tui.clock import resolve_now
from crm_tui.config import Settings, SupportConfig
from crm_tui.db import open_database
from crm_tui.models import Contact
from crm_tui.models.case import RESOLVED, Case, Survey
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import contacts, surveys, users
from tests.cli.test_serve import LOGIN, _free_port, _stop, start_serve
from tests.conftest import BACKENDS, shared_database

pytestmark = pytest.mark.slow

KEY_ENV = "CRM_TEST_SURVEY_KEY"
LINK = re.compile(r"/survey/([^?\s]+)\?score=(\d+)")


class _Server:
    """One `crm serve` for the module's tests on one backend: its process, port, URL and settings."""

    def __init__(self, served, port: int, url: str, settings: Settings) -> None:
        self.served, self.port, self.url, self.settings = served, port, url, settings
        self.tests = 0


@pytest.fixture(scope="module", params=BACKENDS)
def server(request):
    """`crm serve` started once per backend for the module (a process's start is most of a test's
    time), with [support] survey_url pointing at itself. Each test seeds surveys of its own (`site`)
    and talks from a loopback address of its own, so the server's per-address rate limit counts
    each test's requests apart, as it did when each test had a server."""
    with shared_database(request) as database, pytest.MonkeyPatch.context() as monkeypatch:
        url = database.url
        database.dispose()
        port = _free_port()
        monkeypatch.setenv(KEY_ENV, "s" * 40)
        base = f"http://127.0.0.1:{port}"
        config = Path(os.environ["CRM_CONFIG_DIR"])
        config.mkdir(exist_ok=True)
        (config / "config.toml").write_text(
            f'[support]\nsurvey_url = "{base}"\nsecret_env = "{KEY_ENV}"\naddresses = ["help@acme.example"]\n')
        settings = Settings(support=SupportConfig(survey_url=base, secret_env=KEY_ENV,
                                                  addresses=("help@acme.example",)))
        served = start_serve(url, port)
        try:
            yield _Server(served, port, url, settings)
        finally:
            _stop(served.proc)


@pytest.fixture
def db_url(server):
    """The module's database (this module's tests share `server`'s)."""
    return server.url


@pytest.fixture
def site(server, monkeypatch):
    """Two resolved cases' CSAT surveys of this test's own (one sent long ago) in the served
    database; yields (served, (port, the test's loopback address), tokens, ids)."""
    monkeypatch.setenv(KEY_ENV, "s" * 40)
    server.tests += 1
    mark = server.tests
    now = resolve_now(None)
    db = open_database(server.url)
    tokens, ids = {}, {}
    try:
        with db.write() as s:
            actor = users.actor_for(s, login=LOGIN, now=now)
            for name, sent in (("fresh", now), ("old", now - timedelta(days=surveys.VALID_DAYS + 5))):
                contact = contacts.create_contact(s, data={"first_name": f"{name}{mark}", "last_name": "Customer",
                                                           "emails": [f"{name}{mark}@acme.example"]},
                                                  actor=actor, now=now)
                case = Case(subject=f"{name} case {mark}", contact_id=contact.id, status=RESOLVED, created_at=sent,
                            updated_at=sent)
                s.add(case)
                s.flush()
                survey = surveys.on_resolved(s, case, actor=actor, settings=server.settings, now=sent)
                body = s.scalar(select(EmailOutbox.body).where(EmailOutbox.email_id == survey.email_id))
                tokens[name] = LINK.search(body).group(1)
                ids[name] = survey.id
                ids[f"contact:{name}"] = contact.id
    finally:
        db.dispose()
    assert server.served.proc.poll() is None, server.served.output
    yield server.served, (server.port, f"127.0.0.{1 + mark}"), tokens, ids


def _http(at, method, path, body: bytes | None = None, headers: dict | None = None):
    port, source = at
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
    finally:
        conn.close()


def _form(at, path, fields: dict):
    return _http(at, "POST", path, urlencode(fields).encode(),
                 {"Content-Type": "application/x-www-form-urlencoded"})


def _survey(db_url, survey_id):
    db = open_database(db_url)
    try:
        with db.read() as s:
            x = s.get(Survey, survey_id)
            return x.score, x.comment, x.via
    finally:
        db.dispose()


def test_a_customer_answers_by_the_link_once_and_adds_a_comment(site, db_url):
    served, at, tokens, ids = site
    token = tokens["fresh"]
    assert _http(at, "HEAD", f"/survey/{token}?score=1")[0] in (403, 405)  # a scanner's HEAD records nothing
    status, text, headers = _http(at, "GET", f"/survey/{token}?score=4")
    assert status == 200 and "Thank you!" in text and "4 out of 5" in text and "<textarea" in text
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert _survey(db_url, ids["fresh"]) == (4, None, "link")
    status, text, _ = _http(at, "GET", f"/survey/{token}?score=1")
    assert status == 409 and "Already answered" in text
    status, text, _ = _form(at, f"/survey/{token}", {"comment": "Fast & <friendly>"})
    assert status == 200 and "your comment" in text
    assert _survey(db_url, ids["fresh"]) == (4, "Fast & <friendly>", "link")
    assert _form(at, f"/survey/{token}", {"comment": "again"})[0] == 409


def test_forged_expired_and_bad_scores_get_clear_pages(site, db_url):
    served, at, tokens, ids = site
    token = tokens["fresh"]
    sid, nonce, mac = token.split(".")
    status, text, _ = _http(at, "GET", f"/survey/{sid}.{nonce}.{mac[::-1]}?score=5")
    assert status == 404 and "not valid" in text
    status, text, _ = _http(at, "GET", f"/survey/{tokens['old']}?score=5")
    assert status == 410 and "expired" in text
    status, text, _ = _http(at, "GET", f"/survey/{token}?score=9")
    assert status == 400 and "from 1 to 5" in text and "<button name=score value=5>" in text
    status, text, _ = _http(at, "GET", f"/survey/{token}")  # no score: the choice
    assert status == 200 and "<button name=score value=1>" in text
    assert _survey(db_url, ids["fresh"]) == (None, None, None)
    status, text, _ = _form(at, f"/survey/{token}", {"score": "2", "comment": "meh"})
    assert status == 200 and "2 out of 5" in text
    assert _survey(db_url, ids["fresh"]) == (2, "meh", "link")
    assert served.proc.poll() is None
    assert "/survey/" in served.output and token not in served.output  # logged, without the survey's token


def test_nothing_else_opens_without_the_serve_token(site):
    served, at, tokens, _ = site
    token = tokens["fresh"]
    for path in ("/", "/ws", f"/survey/{token}/../../", "/survey/", f"/survey/{token}/other",
                 f"/static/../survey/{token}", "/download/x"):
        status, text, _ = _http(at, "GET", path)
        assert status in (403, 404), (path, status)
        assert "crm-tui" not in text and "xterm" not in text.lower(), path
    # the survey pages take no cookie and set none
    _, _, headers = _http(at, "GET", f"/survey/{token}")
    assert "Set-Cookie" not in headers


def test_a_large_or_foreign_body_is_refused(site, db_url):
    served, at, tokens, ids = site
    big = urlencode({"score": "5", "comment": "x" * 20_000}).encode()
    status, _, _ = _http(at, "POST", f"/survey/{tokens['fresh']}", big,
                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413
    status, _, _ = _http(at, "POST", f"/survey/{tokens['fresh']}", b'{"score": 5}',
                         {"Content-Type": "application/json"})
    assert status == 415
    assert _survey(db_url, ids["fresh"]) == (None, None, None)


def test_the_unsubscribe_link_asks_then_unsubscribes(site, db_url):
    served, at, tokens, ids = site
    path = f"/survey/{tokens['fresh']}/unsubscribe"
    status, text, _ = _http(at, "GET", path)
    assert status == 200 and "<form method=post" in text

    def dne():
        db = open_database(db_url)
        try:
            with db.read() as s:
                return s.scalar(select(Contact.do_not_email).where(Contact.id == ids["contact:fresh"]))
        finally:
            db.dispose()

    assert dne() is False  # opening the link changed nothing
    status, text, _ = _form(at, path, {})
    assert status == 200 and "unsubscribed" in text
    assert dne() is True
    assert _form(at, "/survey/1.AAAAAAAAAAAAAAAA.x/unsubscribe", {})[0] == 404


def test_rate_limit_per_address_and_overall():
    from crm_tui.cli.survey_web import RateLimit

    limit = RateLimit(per_address=3, overall=5)
    assert [limit.allow("a", now=100.0) for _ in range(4)] == [True, True, True, False]
    assert [limit.allow("b", now=100.0) for _ in range(3)] == [True, True, False]  # 5 in all
    assert limit.allow("a", now=161.0) is True  # a minute later
