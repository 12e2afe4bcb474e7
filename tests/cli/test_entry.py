"""The entry points: `crm` alone starts the app, `crm contact list` never loads textual, and the
console script turns errors into one line and an exit code."""

from __future__ import annotations

import shutil
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
    assert CliRunner().invoke(app, ["--db", str(path), "--user", "Ann", "init"]).exit_code == 0
    result = CliRunner().invoke(app, ["--db", str(path), "--user", "Ann"])
    assert result.exit_code == 0, result.output
    assert [(c["db"].url, c["actor"].login) for c in calls] == [(f"sqlite:///{path}", "ann")]


def test_no_command_uses_the_environment_when_no_options_are_given(tmp_path, monkeypatch):
    import crm_tui.app

    calls = []
    monkeypatch.setattr(crm_tui.app, "run_app", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("CRM_USER", "zoe")
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    assert CliRunner().invoke(app, []).exit_code == 0
    assert [(c["db"].url, c["actor"].login) for c in calls] == [(f"sqlite:///{tmp_path}/env.db", "zoe")]


MISTYPED = [  # (arguments after --db PATH, what runs) - issue 17 #17: only init makes a database
    (["contact", "list"], "a command"),
    (["--user", "ann", "deal", "add", "X"], "a write"),
    ([], "the app, on a path that is not the default one"),
]


@pytest.mark.parametrize(("args", "what"), MISTYPED, ids=[w for _, w in MISTYPED])
def test_a_mistyped_database_path_is_refused_not_created(tmp_path, monkeypatch, args, what):
    import crm_tui.app

    monkeypatch.setattr(crm_tui.app, "run_app", lambda **kwargs: None)
    path = tmp_path / "nonexistent" / "dir" / "x.db"
    result = CliRunner().invoke(app, ["--db", str(path), *args])
    assert result.exit_code != 0, what
    assert result.stderr.strip() == (f"error: no database at {path}: create it with `crm --db {path} init`, "
                                     "or check the path")
    assert not path.parent.exists()  # no folder, no file, no admin


def test_the_app_creates_the_default_database_on_its_first_start(tmp_path, monkeypatch):
    import crm_tui.app
    from crm_tui import config

    calls = []
    monkeypatch.setattr(crm_tui.app, "run_app", lambda **kwargs: calls.append(kwargs))
    assert not config.default_database_path().exists()
    assert CliRunner().invoke(app, []).exit_code == 0
    assert config.default_database_path().exists() and len(calls) == 1


@pytest.fixture
def sqlite_db_url(tmp_path, sqlite_template):
    """A process-level check runs on SQLite only (it ran on `db_url` and skipped its PostgreSQL
    variant, after that variant had made its database)."""
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


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


def test_the_app_uses_the_same_zone_as_the_cli(tmp_path, monkeypatch):
    """Issue 17 #8: the config file's `timezone` applies to a user with none of their own, in the app
    as in the CLI (the app used the machine's zone)."""
    import os

    import crm_tui.app
    from crm_tui.cli.context import CliState

    calls = []
    monkeypatch.setattr(crm_tui.app, "run_app", lambda **kwargs: calls.append(kwargs))
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    monkeypatch.setenv("CRM_CONFIG_DIR", str(config))
    (config / "config.toml").write_text('timezone = "Pacific/Auckland"\n', encoding="utf-8")
    path = tmp_path / "crm.db"
    assert CliRunner().invoke(app, ["--db", str(path), "--user", "ann", "init"]).exit_code == 0
    assert CliRunner().invoke(app, ["--db", str(path), "--user", "ann"]).exit_code == 0
    state = CliState(db_arg=str(path), user_arg="ann")
    try:
        assert calls[0]["actor"].timezone == state.actor.timezone == "Pacific/Auckland"
        assert str(state.zone) == "Pacific/Auckland"
    finally:
        state.close()
    assert os.environ["TZ"] == "UTC"  # the machine's zone differs


@pytest.mark.parametrize("args", [[], ["contact", "list"], ["deal", "add"], ["init"]])
def test_help_shows_flags_without_a_value_type(args):
    """A flag takes no value: --help shows it bare, not `--json <bool>` (typer 0.29's label)."""
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "--help" in result.output
    if args == ["contact", "list"]:
        assert "--json " in result.output
