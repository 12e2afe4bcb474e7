"""Settings are loaded once, by the CLI, and handed down (issue 18): nothing in the services, the
workflow engine or the models reads the config file, and the CLI and the app resolve the acting
user's zone by the one rule (services.users.resolve_actor)."""

from __future__ import annotations

import ast
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

import crm_tui
from crm_tui import config
from crm_tui.cli.context import CliState
from crm_tui.cli.main import app as cli
from crm_tui.config import parse_settings

PACKAGE = Path(crm_tui.__file__).parent
BELOW_THE_CLI = ("services", "workflows", "models")


def _load_settings_uses(path: Path) -> list[int]:
    """The lines of `path` that name load_settings (a call, an attribute or an import)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        named = (isinstance(node, ast.Name) and node.id == "load_settings") or (
            isinstance(node, ast.Attribute) and node.attr == "load_settings") or (
            isinstance(node, ast.ImportFrom) and any(a.name == "load_settings" for a in node.names))
        if named:
            lines.append(node.lineno)
    return lines


def test_nothing_below_the_cli_and_the_app_reads_the_config_file():
    found = {f"{path.relative_to(PACKAGE.parent)}:{line}"
             for package in BELOW_THE_CLI for path in sorted((PACKAGE / package).rglob("*.py"))
             for line in _load_settings_uses(path)}
    assert found == set(), "these read the config file; take the settings from the caller instead"


def test_the_app_tick_runs_on_the_settings_it_is_handed(db, actor, now, monkeypatch):
    from crm_tui.workflows.runner import app_tick

    def refuse(*args, **kwargs):
        raise AssertionError("the engine read the config file")

    monkeypatch.setattr(config, "load_settings", refuse)
    tick = app_tick(db, actor=actor, now=now, settings=parse_settings({"timezone": "Asia/Tokyo"}))
    assert tick.report.rule_errors == []


@pytest.mark.parametrize("own_zone", [None, "Europe/Paris"])
def test_the_app_and_the_cli_resolve_the_same_zone(tmp_path, monkeypatch, own_zone):
    """The config file's zone is the user's when they set none, in a command and in the app alike
    (the machine runs in UTC here); a zone of their own wins in both."""
    import crm_tui.app
    from crm_tui.services import users

    config_file = tmp_path / "config" / "config.toml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text('timezone = "Asia/Tokyo"\nteam_timezone = "America/New_York"\n', encoding="utf-8")
    path = tmp_path / "crm.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", str(path), "--user", "ann", "init"]).exit_code == 0
    if own_zone:
        state = CliState(db_arg=str(path), user_arg="ann")
        with state.write() as (session, actor):
            users.update_user(session, user_id=actor.user_id, changes={"timezone": own_zone}, actor=actor)
        state.close()
    started = []
    monkeypatch.setattr(crm_tui.app.CrmApp, "run", lambda self: started.append(self))
    result = runner.invoke(cli, ["--db", str(path), "--user", "ann"])
    assert result.exit_code == 0, result.output
    (app,) = started
    state = CliState(db_arg=str(path), user_arg="ann")
    try:
        cli_zone, cli_team_zone = state.zone, config.team_timezone(state.settings)
    finally:
        state.close()
    expected = ZoneInfo(own_zone or "Asia/Tokyo")
    assert app.actor.zone == cli_zone == expected
    assert config.team_timezone(app.settings) == cli_team_zone == "America/New_York"
    assert app.actor.team_timezone == "America/New_York"
