"""Each user sends with their own SMTP login (issue 21): [smtp.users.<login>] names it (its password
from its variable or the keyring), or a password stored for the user's own address makes their
address their login; everyone else, and a rule's email, go under the [smtp] login. Real SMTP with
AUTH: aiosmtpd on loopback, which records who logged in for each message."""

from __future__ import annotations

import email

import keyring
import pytest
from sqlalchemy import select

from crm_tui.config import SmtpUserConfig, parse_settings
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import mail_send, users
from crm_tui.workflows.email import SmtpSettings, send_queued, smtp_settings, user_env, user_login
from tests.unit import test_email_templates
from tests.unit.test_secrets import MemoryKeyring
from tests.unit.test_workflow_email import _free_port

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402 - after the skip

ann_lee = test_email_templates.ann_lee  # the fixture: Ann (ann@team.example), Acme, Lee Park and a deal

TEAM = ("crm", "team-pw")
PASSWORDS = {"crm": "team-pw", "ann-login": "ann-pw", "bob@team.example": "bob-pw"}


class AuthInbox:
    """Accepts the logins in PASSWORDS; keeps each message with the login that sent it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str | None, email.message.Message]] = []
        self.refused: list[str] = []

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if PASSWORDS.get(login) == password:
            return AuthResult(success=True, auth_data=auth_data)
        self.refused.append(login)
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        who = session.auth_data.login.decode() if session.auth_data else None  # None: no AUTH
        self.sent.append((who, email.message_from_bytes(envelope.content)))
        return "250 OK"

    def by_login(self) -> set[tuple[str | None, str]]:
        return {(who, msg["From"]) for who, msg in self.sent}


@pytest.fixture
def ring(monkeypatch):
    for name in ("CRM_SMTP_PASSWORD", "ANN_PW", user_env("bob"), user_env("cat"), user_env("dee")):
        monkeypatch.delenv(name, raising=False)
    original = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(original)


@pytest.fixture
def auth_server():
    inbox, port = AuthInbox(), _free_port()
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                                 auth_require_tls=False)
    server.start()
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender="CRM <crm@team.example>", username=TEAM[0],
                        password=TEAM[1], starttls=False, timeout=5,
                        users=(SmtpUserConfig("ann", "ann-login", "ANN_PW"), SmtpUserConfig("dee")))
    yield inbox, smtp
    server.stop()


def _team(db, actor, now) -> dict[str, object]:
    """Bob and Cat (sales, with addresses), Dee (her own login in the config, no password here)."""
    made = {}
    with db.write() as s:
        for login in ("bob", "cat", "dee"):
            users.create_user(s, data={"login": login, "name": login.title(), "role": "sales",
                                       "email": f"{login}@team.example"}, actor=actor, now=now)
            made[login] = users.actor_for(s, login=login, now=now)
    return made


def _queue(db, who, now, lee, subject: str) -> int:
    with db.write() as s:
        draft = mail_send.Draft(to=["lee@acme.com"], subject=subject, body="Hello.", contact_id=lee.id)
        return mail_send.send(s, draft=draft, actor=who, now=now).outbox_id


def _rule_email(db, actor, now, lee) -> int:
    with db.write() as s:
        draft = mail_send.Draft(to=["lee@acme.com"], subject="From a rule", body="Automatic.", contact_id=lee.id)
        return mail_send.send(s, draft=draft, actor=actor, now=now, source="workflow", rule="r",
                              id_from="crm@team.example").outbox_id


def _status(db) -> dict[str, str]:
    with db.read() as s:
        return dict(s.execute(select(EmailOutbox.subject, EmailOutbox.status)).all())


def test_each_users_email_goes_out_under_their_own_login_and_from_address(db, actor, now, ann_lee, auth_server,
                                                                        ring, monkeypatch):
    lee, _acme, _deal = ann_lee
    inbox, smtp = auth_server
    team = _team(db, actor, now)
    monkeypatch.setenv("ANN_PW", "ann-pw")  # Ann: [smtp.users.ann] username ann-login, password_env ANN_PW
    ring.set_password("crm-tui", "smtp:bob@team.example@127.0.0.1", "bob-pw")  # Bob: `crm secret set smtp --mine`
    _queue(db, actor, now, lee, "From Ann")
    _queue(db, team["bob"], now, lee, "From Bob")
    _queue(db, team["cat"], now, lee, "From Cat")  # no login of her own: the team's
    _queue(db, actor, now, lee, "Ann again")
    _rule_email(db, actor, now, lee)

    report = send_queued(db, smtp, now=now)
    assert len(report.sent) == 5 and report.error is None and not inbox.refused
    assert inbox.by_login() == {("ann-login", "Ann Admin <ann@team.example>"),
                                ("bob@team.example", "Bob <bob@team.example>"),
                                ("crm", "Cat <cat@team.example>"),
                                ("crm", "CRM <crm@team.example>")}
    assert [msg["Subject"] for who, msg in inbox.sent if who == "ann-login"] == ["From Ann", "Ann again"]
    assert send_queued(db, smtp, now=now).sent == []  # never twice


def test_a_user_whose_own_login_has_no_password_here_waits_and_holds_nobody_up(db, actor, now, ann_lee,
                                                                              auth_server, ring, monkeypatch):
    lee, _acme, _deal = ann_lee
    inbox, smtp = auth_server
    team = _team(db, actor, now)
    for n in range(3):
        _queue(db, team["dee"], now, lee, f"Dee {n}")  # [smtp.users.dee], CRM_SMTP_PASSWORD_DEE unset
    _queue(db, team["cat"], now, lee, "From Cat")
    report = send_queued(db, smtp, now=now, limit=2)  # Dee's three come first in the queue
    assert [msg["Subject"] for _, msg in inbox.sent] == ["From Cat"]
    assert report.deferred == 3 and "dee's email waits" in report.error and user_env("dee") in report.error
    assert "Dee <dee@team.example>" not in {msg["From"] for _, msg in inbox.sent}  # never under another login
    assert _status(db)["Dee 0"] == "queued"

    monkeypatch.setenv(user_env("dee"), "wrong")
    report = send_queued(db, smtp, now=now)
    assert report.deferred == 3 and "refused the login dee@team.example (dee)" in report.error
    assert "wrong" not in report.error and _status(db)["Dee 0"] == "queued"

    PASSWORDS["dee@team.example"] = "dee-pw"
    try:
        monkeypatch.setenv(user_env("dee"), "dee-pw")
        assert len(send_queued(db, smtp, now=now).sent) == 3
    finally:
        del PASSWORDS["dee@team.example"]
    assert {who for who, msg in inbox.sent if msg["Subject"].startswith("Dee")} == {"dee@team.example"}


def test_a_users_login_comes_from_the_config_or_their_address(monkeypatch):
    settings = parse_settings({"smtp": {"host": "mail.example.com", "from": "crm@example.com", "username": "crm",
                                        "users": {"Ann": {"username": "ann.smtp", "password_env": "ANN_PW"},
                                                  "bob": {}, "junk": "not a table"}}})
    smtp = smtp_settings(settings)
    assert [u.login for u in smtp.users] == ["ann", "bob"]
    ann = user_login(settings, login="ann", email="ann@example.com")
    assert (ann.username, ann.env, ann.own, ann.secret_name) == ("ann.smtp", "ANN_PW", True,
                                                                "smtp:ann.smtp@mail.example.com")
    bob = user_login(settings, login="bob", email="bob@example.com")
    assert (bob.username, bob.env, bob.own) == ("bob@example.com", "CRM_SMTP_PASSWORD_BOB", True)
    cat = user_login(settings, login="c.at", email="cat@example.com")
    assert (cat.username, cat.env, cat.own) == ("cat@example.com", "CRM_SMTP_PASSWORD_C_AT", False)
    assert user_login(settings, login="nobody", email=None) is None
    assert user_login(parse_settings({}), login="ann", email="ann@example.com") is None


def test_a_waiting_users_keyring_entry_is_read_once_until_crm_secret_set_changes_it(db, actor, now, ann_lee,
                                                                                    auth_server, ring, monkeypatch):
    """The engine sends the outbox every tick: a user whose own login has no password here costs
    one keyring read per process, not one a tick; storing it (`crm secret set smtp --mine`, in
    another process: its stamp in the config dir) is seen by the next tick."""
    from crm_tui import secrets

    lee, _acme, _deal = ann_lee
    inbox, smtp = auth_server
    team = _team(db, actor, now)
    _queue(db, team["dee"], now, lee, "Dee 0")
    reads = []
    real = ring.get_password
    monkeypatch.setattr(ring, "get_password", lambda service, name: reads.append(name) or real(service, name))
    for _tick in range(3):
        assert send_queued(db, smtp, now=now).deferred == 1
    assert reads.count("smtp:dee@team.example@127.0.0.1") == 1
    PASSWORDS["dee@team.example"] = "dee-pw"
    try:
        ring.set_password(secrets.SERVICE, "smtp:dee@team.example@127.0.0.1", "dee-pw")
        secrets._stamp().parent.mkdir(parents=True, exist_ok=True)
        secrets._stamp().touch()  # what `crm secret set` leaves behind (secrets.set_secret)
        assert len(send_queued(db, smtp, now=now).sent) == 1
    finally:
        del PASSWORDS["dee@team.example"]
    assert {who for who, msg in inbox.sent} == {"dee@team.example"}
