"""What start-up does not load: each check runs the real `crm` entry point in a fresh interpreter
and asserts on the modules it imported (never on time; bench/bench_process.py measures that).

- `crm --version` and `crm --help`: no SQLAlchemy, no models, no command's module;
- `crm contact list`: no Textual, no Alembic, none of the libraries only other commands use;
- the app, up to its first frame: no Alembic, no other area's screen, none of those libraries;
- `crm` as a person starts it (cli/entry.py), up to the first contact rows painted: no typer, no
  pydantic, no SQLAlchemy, no models and none of the services that use them (services/start.py
  reads the first page and the user on a plain connection; the rest loads after the first frame);
- the same with the Pipeline opened at once, up to its first cards painted: nor babel, the board's
  services, its dialogs and the forms;
- the same with the Inbox opened at once, up to its first task painted: nor the task services, the
  forms and the Inbox's dialogs;
- the same with the Cases area opened at once, up to its first case painted: nor the case services,
  the saved lists' services, the forms and the case screens' dialogs.
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
                "openpyxl", "email_validator", "psycopg", "jinja2")
# the other areas: their screens load when a person first opens one
OTHER_AREAS = ("crm_tui.screens.companies", "crm_tui.screens.pipeline", "crm_tui.screens.inbox",
               "crm_tui.screens.reports", "crm_tui.services.reports", "crm_tui.workflows.rules",
               "crm_tui.screens.cases")


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


# what the first contact rows wait for no more: they are painted first, and these load after them
AFTER_THE_FIRST_ROWS = ("typer", "pydantic", "pydantic_core", "sqlalchemy", "sqlmodel", "alembic", "psycopg",
                        "crm_tui.models", "crm_tui.services.common", "crm_tui.services.contacts",
                        "crm_tui.services.users", "crm_tui.services.views", "crm_tui.services.permissions",
                        "crm_tui.services.paging", "crm_tui.screens.forms", "crm_tui.screens.contacts.filters",
                        "crm_tui.cli.main", "crm_tui.cli.output")


def test_the_first_contact_rows_are_painted_before_the_orm_loads(sqlite_url, tmp_path, monkeypatch):
    """`crm --db URL` through the console script's own entry (cli/entry.py), headless: the modules
    are read as the contact list paints its first row (in the compositor pass that draws it), and
    the rows painted are the service's first page."""
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "config"))
    from crm_tui import config
    from crm_tui.db import open_database
    from crm_tui.services import contacts, users

    db = open_database(sqlite_url)
    try:  # ann, whom this OS login signs in as, and a few contacts
        with db.write() as session:
            ann = users.actor_for(session, login="ann")
            users.update_user(session, user_id=ann.user_id, actor=ann,
                              changes={"os_login": config.login_request(None, config.Settings()).os_login})
            for name in ("Ada", "Bo", "Cy"):
                contacts.create_contact(session, data={"first_name": name}, actor=ann)
    finally:
        db.dispose()
    with_user = _modules("""
        import json, sys
        from textual.app import App
        from crm_tui.widgets.keyset_table import KeysetTable

        seen, shown = [], []
        run, draw = App.run, KeysetTable.render_line

        def render_line(table, y):
            if not seen and y >= 1 and table.window.rows:
                seen.extend(sorted(sys.modules))
                shown.extend(row.id for row in table.window.rows)
                table.app.call_later(table.app.exit)
            return draw(table, y)

        def headless(app, **kwargs):
            return run(app, headless=True, size=(120, 36))

        App.run, KeysetTable.render_line = headless, render_line
        from crm_tui.cli.entry import run as crm
        sys.argv = ["crm", "--db", sys.argv[1], "--user", "ann"]
        try:
            crm()
        except SystemExit as exc:
            assert not exc.code, exc.code
        assert seen, "the app never painted its first rows"
        from crm_tui.db import open_database
        from crm_tui.services import contacts
        db = open_database(sys.argv[2])
        with db.read() as session:
            assert shown == [c.id for c in contacts.list_contacts(session, limit=len(shown)).items]
        print(json.dumps(seen))
    """, sqlite_url, sqlite_url)
    assert "crm_tui.services.start" in with_user and "crm_tui.screens.contacts.screen" in with_user
    assert _loaded(with_user, AFTER_THE_FIRST_ROWS) == []


# what the Pipeline's first cards (the area opened at once, as `crm` then 3) wait for no more
BEFORE_THE_FIRST_CARDS = ("typer", "pydantic", "pydantic_core", "sqlalchemy", "sqlmodel", "alembic", "psycopg", "babel",
                          "crm_tui.models", "crm_tui.services.common", "crm_tui.services.board",
                          "crm_tui.services.deals", "crm_tui.services.pipelines", "crm_tui.services.users",
                          "crm_tui.screens.forms", "crm_tui.screens.pipeline.board_dialogs",
                          "crm_tui.screens.pipeline.deal", "crm_tui.screens.pipeline.settings", "crm_tui.cli.main")


def test_the_pipelines_first_cards_are_painted_before_the_orm_loads(sqlite_url, tmp_path, monkeypatch):
    """`crm --db URL` with the Pipeline opened at once (its key before the first frame), headless:
    the modules are read as the board paints its first card, and the cards painted are the
    services' first page of each open stage."""
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "config"))
    from crm_tui import config
    from crm_tui.db import open_database
    from crm_tui.services import deals, users

    db = open_database(sqlite_url)
    try:  # ann, whom this OS login signs in as, and a few deals
        with db.write() as session:
            ann = users.actor_for(session, login="ann")
            users.update_user(session, user_id=ann.user_id, actor=ann,
                              changes={"os_login": config.login_request(None, config.Settings()).os_login})
            for title in ("Anvils", "Bolts", "Cogs"):
                deals.create_deal(session, data={"title": title, "amount": "1200"}, actor=ann)
    finally:
        db.dispose()
    seen = _modules("""
        import json, sys
        from datetime import timezone
        from textual.app import App
        from crm_tui.app import CrmApp
        from crm_tui.widgets.kanban import KanbanBoard

        seen, shown = [], []
        run, draw, mount = App.run, KanbanBoard.render_line, CrmApp.on_mount

        def render_line(board, y):
            if not seen and any(column.rows for column in board.columns):
                seen.extend(sorted(sys.modules))
                shown.extend([card.id for card in column.rows] for column in board.columns)
                board.app.call_later(board.app.exit)
            return draw(board, y)

        def on_mount(app):
            mount(app)
            app.call_later(app.action_area, "pipeline")  # 3, pressed as the app starts

        def headless(app, **kwargs):
            return run(app, headless=True, size=(120, 36))

        App.run, KanbanBoard.render_line, CrmApp.on_mount = headless, render_line, on_mount
        from crm_tui.cli.entry import run as crm
        sys.argv = ["crm", "--db", sys.argv[1], "--user", "ann"]
        try:
            crm()
        except SystemExit as exc:
            assert not exc.code, exc.code
        assert seen, "the board never painted its first cards"
        from crm_tui.clock import utcnow
        from crm_tui.db import open_database
        from crm_tui.services import board, pipelines
        db = open_database(sys.argv[2])
        with db.read() as session:
            stages = [s for s in pipelines.default_pipeline(session).stages if s.kind == "open"]
            pages = board.first_pages(session, stages=stages, now=utcnow(), zone=timezone.utc, limit=50)
        assert shown == [[card.id for card in page.items][:len(ids)] for page, ids in zip(pages, shown)]
        assert any(shown)
        print(json.dumps(seen))
    """, sqlite_url, sqlite_url)
    assert "crm_tui.services.start" in seen and "crm_tui.screens.pipeline.board" in seen
    assert _loaded(seen, BEFORE_THE_FIRST_CARDS) == []


# what the Inbox's first rows (the area opened at once, as `crm` then 4) wait for no more
BEFORE_THE_FIRST_TASKS = ("typer", "pydantic", "pydantic_core", "sqlalchemy", "sqlmodel", "alembic", "psycopg", "babel",
                          "crm_tui.models", "crm_tui.services.common", "crm_tui.services.tasks",
                          "crm_tui.services.inbox", "crm_tui.services.users", "crm_tui.screens.forms",
                          "crm_tui.screens.inbox.dialogs", "crm_tui.cli.main")


def test_the_inboxs_first_rows_are_painted_before_the_orm_loads(sqlite_url, tmp_path, monkeypatch):
    """`crm --db URL` with the Inbox opened at once, headless: the modules are read as the Inbox
    paints its first task (the user's first overdue task, read on the start's plain connection)."""
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "config"))
    from crm_tui import config
    from crm_tui.db import open_database
    from crm_tui.services import tasks, users

    db = open_database(sqlite_url)
    try:  # ann, whom this OS login signs in as, and an overdue task of hers
        with db.write() as session:
            ann = users.actor_for(session, login="ann")
            users.update_user(session, user_id=ann.user_id, actor=ann,
                              changes={"os_login": config.login_request(None, config.Settings()).os_login})
            tasks.create_task(session, data={"title": "Call Ada", "due_at": "2020-01-02 09:00",
                                             "assignee_id": ann.user_id}, actor=ann)
    finally:
        db.dispose()
    seen = _modules("""
        import json, sys
        from textual.app import App
        from crm_tui.app import CrmApp
        from crm_tui.widgets.keyset_table import KeysetTable

        seen = []
        run, draw, mount = App.run, KeysetTable.render_line, CrmApp.on_mount

        def render_line(table, y):
            if not seen and table.id == "inbox-list" and y >= 1 and table.window.rows:
                seen.extend(sorted(sys.modules))
                assert table.window.rows[0].title == "Call Ada"
                table.app.call_later(table.app.exit)
            return draw(table, y)

        def on_mount(app):
            mount(app)
            app.call_later(app.action_area, "inbox")  # 4, pressed as the app starts

        def headless(app, **kwargs):
            return run(app, headless=True, size=(120, 36))

        App.run, KeysetTable.render_line, CrmApp.on_mount = headless, render_line, on_mount
        from crm_tui.cli.entry import run as crm
        sys.argv = ["crm", "--db", sys.argv[1], "--user", "ann"]
        try:
            crm()
        except SystemExit as exc:
            assert not exc.code, exc.code
        assert seen, "the Inbox never painted its first rows"
        print(json.dumps(seen))
    """, sqlite_url)
    assert "crm_tui.screens.inbox.screen" in seen
    assert _loaded(seen, BEFORE_THE_FIRST_TASKS) == []


# what the Cases area's first rows (the area opened at once, as `crm` then 7) wait for no more
BEFORE_THE_FIRST_CASES = ("typer", "pydantic", "pydantic_core", "sqlalchemy", "sqlmodel", "alembic", "psycopg",
                          "babel", "crm_tui.models", "crm_tui.services.common", "crm_tui.services.cases",
                          "crm_tui.services.sla", "crm_tui.services.views", "crm_tui.services.permissions",
                          "crm_tui.services.users", "crm_tui.screens.forms", "crm_tui.screens.cases.forms",
                          "crm_tui.screens.cases.detail", "crm_tui.cli.main")


def test_the_cases_first_rows_are_painted_before_the_orm_loads(sqlite_url, tmp_path, monkeypatch):
    """`crm --db URL` with the Cases area opened at once, headless: the modules are read as the
    queue paints its first case, and the rows painted are the service's first page of the open
    queue."""
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "config"))
    from crm_tui import config
    from crm_tui.db import open_database
    from crm_tui.services import cases, users

    db = open_database(sqlite_url)
    try:  # ann, whom this OS login signs in as, and a few cases (one closed)
        with db.write() as session:
            ann = users.actor_for(session, login="ann")
            users.update_user(session, user_id=ann.user_id, actor=ann,
                              changes={"os_login": config.login_request(None, config.Settings()).os_login})
            made = [cases.create_case(session, actor=ann, subject=subject).id for subject in ("Ink", "Jam", "Key")]
            cases.close(session, made[1], actor=ann)
    finally:
        db.dispose()
    seen = _modules("""
        import json, sys
        from textual.app import App
        from crm_tui.app import CrmApp
        from crm_tui.widgets.keyset_table import KeysetTable

        seen, shown = [], []
        run, draw, mount = App.run, KeysetTable.render_line, CrmApp.on_mount

        def render_line(table, y):
            if not seen and table.id == "case-list" and y >= 1 and table.window.rows:
                seen.extend(sorted(sys.modules))
                shown.extend(row.id for row in table.window.rows)
                table.app.call_later(table.app.exit)
            return draw(table, y)

        def on_mount(app):
            mount(app)
            app.call_later(app.action_area, "cases")  # 7, pressed as the app starts

        def headless(app, **kwargs):
            return run(app, headless=True, size=(120, 36))

        App.run, KeysetTable.render_line, CrmApp.on_mount = headless, render_line, on_mount
        from crm_tui.cli.entry import run as crm
        sys.argv = ["crm", "--db", sys.argv[1], "--user", "ann"]
        try:
            crm()
        except SystemExit as exc:
            assert not exc.code, exc.code
        assert seen, "the Cases area never painted its first rows"
        from crm_tui.db import open_database
        from crm_tui.services import cases, users
        db = open_database(sys.argv[2])
        with db.write() as session:
            ann = users.actor_for(session, login="ann")
        with db.read() as session:
            assert shown == [row.id for row in cases.list_cases(session, actor=ann, queue="open").items]
        assert len(shown) == 2
        print(json.dumps(seen))
    """, sqlite_url, sqlite_url)
    assert "crm_tui.services.start" in seen and "crm_tui.screens.cases.screen" in seen
    assert _loaded(seen, BEFORE_THE_FIRST_CASES) == []


@pytest.mark.parametrize("args, expected", [
    ([], {"--db": None, "--user": None}),
    (["--db", "x.db"], {"--db": "x.db", "--user": None}),
    (["--user=ann", "--db=sqlite:///x.db"], {"--db": "sqlite:///x.db", "--user": "ann"}),
    (["--version"], None), (["--help"], None), (["contact", "list"], None), (["--db"], None), (["--db="], None),
    (["--db", "x", "--db", "y"], None), (["--db", "--user"], None), (["--user", "ann", "task"], None),
    (["--db", "x\udce9"], None),
])
def test_only_the_apps_own_options_skip_the_command_tree(args, expected):
    from crm_tui.cli.entry import app_options

    assert app_options(args) == expected
