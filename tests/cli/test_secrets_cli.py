"""`crm secret set|forget|status`: the SMTP password into the system keyring with hidden input, out of
it again, and where each password would come from, never printing one (issue 8)."""

from __future__ import annotations

import json
import logging
import os

import keyring
import pytest
from typer.testing import CliRunner

from crm_tui.cli import secrets as secrets_cli
from crm_tui.cli.main import app
from tests.unit.test_secrets import BrokenKeyring, MemoryKeyring

ENTRY = ("crm-tui", "smtp:crm@smtp.example.com")
PASSWORD = "Hunter2-Sm7p"


@pytest.fixture
def config():
    path = os.path.join(os.environ["CRM_CONFIG_DIR"], "config.toml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('[smtp]\nhost = "smtp.example.com"\nfrom = "CRM <crm@example.com>"\nusername = "crm"\n')
    return path


@pytest.fixture
def ring(monkeypatch):
    monkeypatch.delenv("CRM_SMTP_PASSWORD", raising=False)
    original = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(original)


def crm(*args: str, input: str | None = None, env: dict | None = None):
    return CliRunner().invoke(app, ["--db", "sqlite:///unused.db", *args], input=input, env=env)


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_set_asks_with_hidden_input_and_status_and_forget_never_show_it(config, ring, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(secrets_cli, "_can_ask", lambda: True)
    stored = crm("secret", "set", "smtp", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert stored.exit_code == 0, stored.output
    assert ring.entries == {ENTRY: PASSWORD}
    assert "stored the SMTP password for crm at smtp.example.com" in stored.stdout

    status = crm("secret", "status")
    assert "SMTP password for crm at smtp.example.com: from the system keyring" in status.stdout
    as_json = json.loads(crm("secret", "status", "--json").stdout)
    assert (as_json["smtp"]["source"], as_json["smtp"]["keyring_entry"]) == ("keyring", ENTRY[1])
    from_env = crm("secret", "status", env={"CRM_SMTP_PASSWORD": "other"})
    assert "from the environment variable CRM_SMTP_PASSWORD" in from_env.stdout

    assert "removed the SMTP password" in crm("secret", "forget", "smtp").stdout
    assert ring.entries == {}
    assert "holds no SMTP password" in crm("secret", "forget", "smtp").stdout
    assert "nowhere: set CRM_SMTP_PASSWORD, or run `crm secret set smtp`" in crm("secret", "status").stdout

    for result in (stored, status, from_env):
        assert PASSWORD not in result.output
    assert PASSWORD not in caplog.text


def test_without_a_terminal_it_reads_stdin_only_when_told(config, ring):
    refused = crm("secret", "set", "smtp", input=f"{PASSWORD}\n")
    assert refused.exit_code == 2 and "--stdin" in one_line_error(refused)
    assert ring.entries == {}
    piped = crm("secret", "set", "smtp", "--stdin", input=f"{PASSWORD}\n")
    assert piped.exit_code == 0, piped.output
    assert ring.entries == {ENTRY: PASSWORD} and PASSWORD not in piped.output
    noted = crm("secret", "set", "--stdin", input="again\n", env={"CRM_SMTP_PASSWORD": "x"})
    assert "CRM_SMTP_PASSWORD is set, and comes before the keyring" in noted.stdout


def test_what_it_refuses_is_one_line(ring, config):
    assert crm("secret", "set", "database", "--stdin", input="x\n").exit_code == 2
    assert crm("secret", "set", "smtp", "--stdin", input="\n").exit_code == 2
    assert ring.entries == {}
    os.remove(config)
    result = crm("secret", "set", "smtp", "--stdin", input=f"{PASSWORD}\n")
    assert result.exit_code == 2 and "[smtp]" in one_line_error(result)
    assert "email is off" in crm("secret", "status").stdout


@pytest.mark.parametrize("backend", ["none", "broken"])
def test_a_server_without_a_keyring_says_so_in_one_line(config, monkeypatch, backend):
    from keyring.backends.fail import Keyring as NoKeyring

    monkeypatch.delenv("CRM_SMTP_PASSWORD", raising=False)
    original = keyring.get_keyring()
    keyring.set_keyring(NoKeyring() if backend == "none" else BrokenKeyring())
    try:
        stored = crm("secret", "set", "smtp", "--stdin", input=f"{PASSWORD}\n")
        status = crm("secret", "status")
        forgot = crm("secret", "forget", "smtp")
    finally:
        keyring.set_keyring(original)
    assert stored.exit_code == 6
    line = one_line_error(stored)
    assert "CRM_SMTP_PASSWORD instead" in line and PASSWORD not in stored.output
    assert status.exit_code == 0 and "nowhere" in status.stdout
    assert forgot.exit_code == 6 and one_line_error(forgot)


def test_the_database_password_is_named_never_shown(monkeypatch, tmp_path):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    url = "postgresql+psycopg://crm:Db5ecretPw@db.internal:5432/crm"
    in_url = CliRunner().invoke(app, ["--db", url, "secret", "status"])
    assert in_url.exit_code == 0, in_url.output
    assert "in the database URL" in in_url.stdout and "Db5ecretPw" not in in_url.output
    plain = "postgresql+psycopg://crm@db.internal:5432/crm"
    env = CliRunner().invoke(app, ["--db", plain, "secret", "status"], env={"PGPASSWORD": "Db5ecretPw"})
    assert "from the environment variable PGPASSWORD" in env.stdout and "Db5ecretPw" not in env.output
    (tmp_path / "pgpass").write_text("db.internal:5432:crm:crm:Db5ecretPw\n")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "pgpass"))
    pgpass = CliRunner().invoke(app, ["--db", plain, "secret", "status"])
    assert "pgpass" in pgpass.stdout and "Db5ecretPw" not in pgpass.output
    assert "a SQLite file" in crm("secret", "status").stdout


# --- the IMAP passwords: your mailbox ([mail.imap]) and the team BCC box ([mail.team]) -----------

IMAP_ENTRY = ("crm-tui", "imap:me@example.com@imap.example.com")
TEAM_ENTRY = ("crm-tui", "imap:crm@example.com@imap.example.com")


@pytest.fixture
def mail_config(config):
    with open(config, "a", encoding="utf-8") as fh:
        fh.write('[mail.imap]\nhost = "imap.example.com"\nusername = "me@example.com"\n'
                 '[mail.team]\nhost = "imap.example.com"\nusername = "crm@example.com"\n')
    return config


@pytest.fixture
def imap_ring(ring, monkeypatch):
    for name in ("CRM_IMAP_PASSWORD", "CRM_TEAM_IMAP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return ring


def test_the_imap_and_team_passwords_go_in_the_keyring_under_the_names_the_sync_reads(mail_config, imap_ring,
                                                                                       monkeypatch, caplog):
    from crm_tui.config import load_settings
    from crm_tui.services.mail_capture import imap

    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(secrets_cli, "_can_ask", lambda: True)
    mine = crm("secret", "set", "--imap", input="Im4pPw\nIm4pPw\n")
    assert mine.exit_code == 0, mine.output
    assert "stored the IMAP password for me@example.com at imap.example.com" in mine.stdout
    team = crm("secret", "set", "team", "--stdin", input="Te4mPw\n")
    assert team.exit_code == 0, team.output
    assert imap_ring.entries == {IMAP_ENTRY: "Im4pPw", TEAM_ENTRY: "Te4mPw"}

    # the sync finds them: the same keyring names as imap.account_from looks up
    settings = load_settings()
    assert imap.account_from(settings.mail.imap, what="mail.imap").password == "Im4pPw"
    assert imap.account_from(settings.mail.team, what="mail.team").password == "Te4mPw"
    assert imap.account_from(settings.mail.imap, what="mail.imap").secret_name == IMAP_ENTRY[1]

    status = crm("secret", "status")
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert any(line.startswith("IMAP password for me@example.com at imap.example.com: from the system keyring")
               for line in lines), status.stdout
    assert any(line.startswith("team IMAP password for crm@example.com at imap.example.com: from the system "
                               "keyring") for line in lines), status.stdout
    assert "SMTP password for crm at smtp.example.com: nowhere" in status.stdout
    from_env = json.loads(crm("secret", "status", "--json", env={"CRM_TEAM_IMAP_PASSWORD": "EnvTe4m"}).stdout)
    assert (from_env["imap"]["source"], from_env["team"]["source"], from_env["smtp"]["source"]) == \
        ("keyring", "env", None)
    assert from_env["team"]["env"] == "CRM_TEAM_IMAP_PASSWORD" and from_env["imap"]["keyring_entry"] == IMAP_ENTRY[1]

    assert "removed the team IMAP password" in crm("secret", "forget", "--team").stdout
    assert imap_ring.entries == {IMAP_ENTRY: "Im4pPw"}
    assert "holds no team IMAP password" in crm("secret", "forget", "--team").stdout
    assert "removed the IMAP password" in crm("secret", "forget", "imap").stdout
    assert imap_ring.entries == {}
    missing = crm("secret", "status").stdout
    assert "nowhere: set CRM_IMAP_PASSWORD, or run `crm secret set imap`" in missing
    assert "nowhere: set CRM_TEAM_IMAP_PASSWORD, or run `crm secret set team`" in missing

    for result in (mine, team, status):
        for password in ("Im4pPw", "Te4mPw", "EnvTe4m"):
            assert password not in result.output
    for password in ("Im4pPw", "Te4mPw", "EnvTe4m"):
        assert password not in caplog.text


def test_imap_secrets_refuse_in_one_line_without_a_mailbox_or_with_two_names(config, imap_ring):
    result = crm("secret", "set", "--imap", "--stdin", input="x\n")
    assert result.exit_code == 2 and "[mail.imap]" in one_line_error(result)
    team = crm("secret", "forget", "--team")
    assert team.exit_code == 2 and "[mail.team]" in one_line_error(team)
    both = crm("secret", "set", "imap", "--team", "--stdin", input="x\n")
    assert both.exit_code == 2 and "one secret at a time" in one_line_error(both)
    unknown = crm("secret", "set", "pop3", "--stdin", input="x\n")
    assert unknown.exit_code == 2 and "no secret 'pop3'" in one_line_error(unknown)
    assert imap_ring.entries == {}
    status = crm("secret", "status", "--json")
    found = json.loads(status.stdout)
    assert found["imap"]["source"] is None and "mail.imap" in found["imap"]["says"]
    assert found["team"]["login"] is None and "mail sync --team" in found["team"]["says"]
