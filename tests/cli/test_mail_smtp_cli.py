"""Each user sends under their own SMTP login (issue 21), end to end on the CLI: `crm secret set smtp
--mine` keeps Bob's password in the keyring under his address; Ann's login is [smtp.users.ann] with
its password in her variable; `crm email send` as each goes out under that login (AUTH on a real
aiosmtpd server on loopback) from their own address, and `crm secret status` says where each
password comes from, never showing one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_tui.cli.main import app
from tests.unit import test_mail_smtp_logins
from tests.unit.test_mail_smtp_logins import PASSWORDS, AuthInbox
from tests.unit.test_workflow_email import _free_port

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
ring = test_mail_smtp_logins.ring  # the fixture: an in-memory keyring, no SMTP password variables


@pytest.fixture
def auth_config():
    """A mail server on loopback that wants AUTH, and config.toml naming it with Ann's own login."""
    inbox, port = AuthInbox(), _free_port()
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                                 auth_require_tls=False)
    server.start()
    config = Path(os.environ["CRM_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "CRM <crm@team.example>"\n'
                      'username = "crm"\n\n[smtp.users.ann]\nusername = "ann-login"\npassword_env = "ANN_PW"\n',
                      encoding="utf-8")
    yield inbox
    server.stop()
    config.unlink()


def _set_secret(crm, user: str, *flags: str, password: str):
    result = crm.runner.invoke(app, ["--db", crm.db_url, "--user", user, "secret", "set", "smtp", *flags, "--stdin"],
                               input=f"{password}\n")
    assert result.exit_code == 0, result.output
    assert password not in result.output
    return result


def test_each_user_sends_under_their_own_login(crm, auth_config, ring):
    crm.ok("contact", "add", "--first", "Lee", "--last", "Park", "--email", "lee@acme.com")
    crm.ok("user", "edit", "ann", "--email", "ann@team.example", "--name", "Ann Admin")
    crm.ok("user", "add", "bob", "--email", "bob@team.example", "--name", "Bob Stone")
    crm.ok("user", "add", "cat", "--email", "cat@team.example", "--name", "Cat Ng")

    stored = _set_secret(crm, "bob", "--mine", password=PASSWORDS["bob@team.example"])
    assert "stored the personal SMTP password for bob@team.example at 127.0.0.1" in stored.stdout
    _set_secret(crm, "ann", password=PASSWORDS["crm"])  # the [smtp] login's, as before
    assert ring.entries == {("crm-tui", "smtp:bob@team.example@127.0.0.1"): PASSWORDS["bob@team.example"],
                            ("crm-tui", "smtp:crm@127.0.0.1"): PASSWORDS["crm"]}

    env = {"ANN_PW": PASSWORDS["ann-login"]}
    status = crm.json("secret", "status", env=env)
    assert (status["mine"]["login"], status["mine"]["source"]) == ("ann-login at 127.0.0.1", "env")
    assert status["smtp"]["source"] == "keyring"
    assert "personal SMTP password for bob@team.example at 127.0.0.1: from the system keyring" in \
        crm.ok("secret", "status", user="bob", env=env).stdout
    assert all(p not in crm.ok("secret", "status", env=env).output for p in PASSWORDS.values())
    assert "until then your email goes under the [smtp] login" in crm.ok("secret", "status", user="cat",
                                                                         env=env).stdout

    for who in ("ann", "bob", "cat"):
        sent = crm.json("email", "send", "--contact", "lee@acme.com", "--subject", f"From {who}", "--body", "Hi.",
                        user=who, env=env)
        assert sent["state"] == "sent", sent
    assert [(login, msg["From"], msg["Subject"]) for login, msg in auth_config.sent] == [
        ("ann-login", "Ann Admin <ann@team.example>", "From ann"),
        ("bob@team.example", "Bob Stone <bob@team.example>", "From bob"),
        ("crm", "Cat Ng <cat@team.example>", "From cat")]
    assert not auth_config.refused


def test_mine_is_refused_in_one_line_where_it_means_nothing(crm, auth_config, ring):
    crm.ok("user", "add", "dan", "--name", "Dan")  # no email address
    refused = crm.fails("secret", "set", "smtp", "--mine", "--stdin", user="dan")
    assert "dan has no email address" in refused.stderr
    crm.fails("secret", "set", "imap", "--mine", "--stdin")
    assert ring.entries == {}
