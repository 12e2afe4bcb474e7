"""What start-up does not load: each check runs the real `crm` entry point in a fresh interpreter
and asserts on the modules it imported (never on time; bench/bench_process.py measures that).

- `crm --version` and `crm --help`: no SQLAlchemy, no models, no command's module;
- `crm contact list`: no Textual, no Alembic, none of the libraries only other commands use;
- the app, up to its first frame: no Alembic, no other area's screen, none of those libraries.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

# libraries that a few commands or screens use, loaded when first used (never at start)
ON_FIRST_USE = ("alembic", "phonenumbers", "babel", "rapidfuzz", "vobject", "icalendar", "keyring", "textual_serve",
                "openpyxl", "email_validator", "psycopg")
# the other areas: their screens load when a person first opens one
OTHER_AREAS = ("crm_tui.screens.companies", "crm_tui.screens.pipeline", "crm_tui.screens.inbox",
               "crm_tui.screens.reports", "crm_tui.services.reports", "crm_tui.workflows.rules")


def _modules(code: str, *args: str) -> set[str]:
    """The modules a fresh interpreter running `code` had imported; `code` prints them as JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _crm(*args: str) -> set[str]:
    return _modules("""
        import contextlib, io, json, sys
        from crm_tui.cli.main import run
        sys.argv = ["crm", *sys.argv[1:]]
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                run()
            except SystemExit as exc:
                assert not exc.code, exc.code
        print(json.dumps(sorted(sys.modules)))
    """, *args)


def _loaded(modules: set[str], names) -> list[str]:
    return sorted(name for name in names if name in modules or any(m.startswith(name + ".") for m in modules))


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path):
    return f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'crm.db')}"


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_no_database_code(flag):
    modules = _crm(flag)
    assert _loaded(modules, ("sqlalchemy", "sqlmodel", "pydantic_core", "crm_tui.models", "crm_tui.services.common",
                             "crm_tui.db", "textual", *ON_FIRST_USE)) == []
    assert [m for m in modules if m.startswith("crm_tui.cli.") and m != "crm_tui.cli.main"] == []


def test_contact_list_loads_no_ui_and_no_other_commands_libraries(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "config"))
    modules = _crm("--db", sqlite_url, "--user", "ann", "contact", "list", "--json")
    assert "crm_tui.services.contacts" in modules  # it did run
    assert _loaded(modules, ("textual", "crm_tui.app", "crm_tui.screens", *ON_FIRST_USE, *OTHER_AREAS)) == []
    # its group's other commands' modules too: crm deal, crm report, crm import, ...
    assert _loaded(modules, ("crm_tui.cli.deals", "crm_tui.cli.reports", "crm_tui.cli.importer",
                             "crm_tui.cli.workflows", "crm_tui.cli.serve")) == []


def test_the_app_loads_only_its_first_area_before_the_first_frame(sqlite_url, tmp_path, monkeypatch):
    """The real `crm` start (the CLI resolves the database and the user, then runs the app), headless;
    the modules are read when the app's first frame is drawn (its after-first-frame work is due)."""
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "config"))
    modules = _modules("""
        import json, sys
        from textual.app import App

        seen = []
        run = App.run

        def headless(app, **kwargs):
            def first_frame():
                seen.extend(sorted(sys.modules))
                app.exit()
            app._start_background_work = first_frame
            return run(app, headless=True, size=(120, 36))

        App.run = headless
        from crm_tui.cli.main import run as crm
        sys.argv = ["crm", "--db", sys.argv[1], "--user", "ann"]
        try:
            crm()
        except SystemExit as exc:
            assert not exc.code, exc.code
        assert seen, "the app never drew its first frame"
        print(json.dumps(seen))
    """, sqlite_url)
    assert "crm_tui.screens.contacts" in modules
    assert _loaded(modules, (*ON_FIRST_USE, *OTHER_AREAS)) == []


def test_each_commands_line_in_help_is_its_own_first_paragraph():
    """`crm --help` lists the commands from main.COMMANDS without loading them: each line there is
    the command's own help (its docstring, or its group's help), and every command is listed."""
    import typer

    from crm_tui.cli.main import COMMANDS, app, load_command

    for name, (_module, _attribute, line) in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert line == (command.help or "").split("\n\n")[0].strip(), name
    group = typer.main.get_command(app)
    assert group.list_commands(None) == list(COMMANDS)
