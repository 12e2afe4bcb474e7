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
