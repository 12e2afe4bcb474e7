"""The entry points: `crm` alone starts the app, `crm contact list` never loads textual, and the
console script turns errors into one line and an exit code."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from crm_tui.cli.main import app


def test_no_command_starts_the_app_with_the_resolved_database_and_user(tmp_path, monkeypatch):
    import crm_tui.app

    calls = []
    monkeypatch.setattr(crm_tui.app, "run_app", lambda **kwargs: calls.append(kwargs))
    path = tmp_path / "crm.db"
    result = CliRunner().invoke(app, ["--db", str(path), "--user", "Ann"])
    assert result.exit_code == 0, result.output
    assert [(c["db"].url, c["actor"].login) for c in calls] == [(f"sqlite:///{path}", "ann")]


def test_no_command_uses_the_environment_when_no_options_are_given(tmp_path, monkeypatch):
    import crm_tui.app

    calls = []
    monkeypatch.setattr(crm_tui.app, "run_app", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("CRM_USER", "zoe")
    assert CliRunner().invoke(app, []).exit_code == 0
    assert [(c["db"].url, c["actor"].login) for c in calls] == [(f"sqlite:///{tmp_path}/env.db", "zoe")]


@pytest.fixture
def sqlite_db_url(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("a process-level check; the SQLite run covers it")
    return db_url


@pytest.mark.slow
def test_contact_list_does_not_import_textual(sqlite_db_url):
    code = (
        "import sys; from crm_tui.cli.main import app; from typer.testing import CliRunner; "
        f"r = CliRunner().invoke(app, ['--db', {sqlite_db_url!r}, '--user', 'ann', 'contact', 'list']); "
        "assert r.exit_code == 0, r.output; print('textual' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.slow
def test_console_script_errors_are_one_line_with_the_errors_exit_code(sqlite_db_url):
    done = subprocess.run(
        [sys.executable, "-m", "crm_tui", "--db", sqlite_db_url, "--user", "ann", "log", "call", "--contact", "999999"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == "error: no contact with id 999999\n"
    assert done.stdout == ""
