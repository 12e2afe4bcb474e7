"""Security basics: a new SQLite file is its owner's only (0600), a team's with `crm init --shared`
(0660 in a setgid, group-writable directory); passwords stay out of the database and the output."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel
from typer.testing import CliRunner

import crm_tui.models  # noqa: F401 - registers every table
from crm_tui.cli.main import app
from crm_tui.db import open_database
from crm_tui.workflows.email import SmtpSettings, smtp_settings


@pytest.fixture(autouse=True)
def usual_umask():
    """The common umask, which would turn 0660 into 0640 if the code left it to open()."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def crm(*args: str):
    return CliRunner().invoke(app, list(args))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(path: Path) -> None:
    """Open the file as the app does and write, so SQLite makes its -wal and -shm files."""
    db = open_database(f"sqlite:///{path}")
    try:
        with db.write() as session:
            session.execute(text("UPDATE users SET name = name"))
        with db.engine.connect() as conn:  # a reader keeps the -wal and -shm files in place
            conn.execute(text("SELECT count(*) FROM users"))
            assert {mode(path.with_name(path.name + suffix)) for suffix in ("-wal", "-shm")} == {mode(path)}
    finally:
        db.dispose()


def test_a_new_database_file_is_private(tmp_path):
    path = tmp_path / "private" / "crm.db"
    result = crm("--db", str(path), "--user", "ann", "init")
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    write_something(path)


def test_init_shared_makes_a_team_file_in_a_setgid_group_directory(tmp_path):
    path = tmp_path / "team" / "crm.db"
    result = crm("--db", str(path), "--user", "ann", "init", "--shared")
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o660, oct(mode(path))
    assert mode(path.parent) == 0o2770, oct(mode(path.parent))
    assert "shared:" in result.stdout and "0660" in result.stdout
    write_something(path)


def test_init_shared_turns_a_private_file_into_a_team_file_and_names_what_the_directory_needs(tmp_path):
    path = tmp_path / "crm.db"
    assert crm("--db", str(path), "--user", "ann", "init").exit_code == 0
    tmp_path.chmod(0o755)
    assert mode(path) == 0o600
    result = crm("--db", str(path), "--user", "ann", "init", "--shared")
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o660
    assert f"chmod 2770 {tmp_path}" in result.stdout  # the directory is not group-writable yet


def test_no_table_has_a_place_for_passwords():
    columns = [f"{t.name}.{c.name}" for t in SQLModel.metadata.sorted_tables for c in t.columns]
    assert not [c for c in columns if any(w in c.lower() for w in ("password", "secret", "passwd", "credential"))]


def test_a_database_password_never_shows_in_output(tmp_path):
    url = "postgresql+psycopg://crm:S3cretPw@127.0.0.1:1/crm"  # port 1: refused at once
    for args in (("db", "current"), ("contact", "list"), ("init",)):
        result = crm("--db", url, "--user", "ann", *args)
        assert result.exit_code != 0
        assert "S3cretPw" not in result.output, result.output
        assert "Traceback" not in result.output


def test_the_smtp_password_comes_from_the_environment_and_is_not_shown(monkeypatch):
    from crm_tui.config import parse_settings

    monkeypatch.setenv("CRM_SMTP_PASSWORD", "Sm7pSecret")
    raw = {"smtp": {"host": "smtp.example.com", "from": "CRM <crm@example.com>", "username": "crm"}}
    smtp = smtp_settings(parse_settings(raw))
    assert isinstance(smtp, SmtpSettings) and smtp.password == "Sm7pSecret"
    assert "Sm7pSecret" not in repr(smtp)
