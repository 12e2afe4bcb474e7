"""Import hygiene: the core (services, models, workflows, db) loads without the UI libraries,
and importing the database module opens nothing."""

from __future__ import annotations

import json
import pkgutil
import shutil
import subprocess
import sys
import textwrap

import crm_tui.services

UI_LIBRARIES = ("textual", "typer")


def _run(code: str, *args: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_core_imports_no_ui_library():
    found = _run(f"""
        import importlib, json, pkgutil, sys
        import crm_tui.services, crm_tui.models, crm_tui.workflows, crm_tui.db
        imported = []
        for package in (crm_tui.services, crm_tui.models, crm_tui.workflows):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                importlib.import_module(module.name)
                imported.append(module.name)
        loaded = [name for name in {UI_LIBRARIES!r} if name in sys.modules]
        print(json.dumps({{"imported": imported, "ui": loaded}}))
    """)
    services = {m.name for m in pkgutil.iter_modules(crm_tui.services.__path__)}
    assert {"contacts", "deals", "activities", "tasks"} <= services
    assert {f"crm_tui.services.{name}" for name in services} <= set(found["imported"])
    assert found["ui"] == []


def test_importing_db_creates_no_engine():
    found = _run("""
        import gc, json
        from sqlalchemy.engine import Engine
        import crm_tui.db
        in_globals = [name for name, value in vars(crm_tui.db).items() if isinstance(value, Engine)]
        anywhere = sum(isinstance(o, Engine) for o in gc.get_objects())
        print(json.dumps({"in_globals": in_globals, "anywhere": anywhere}))
    """)
    assert found == {"in_globals": [], "anywhere": 0}


def test_opening_an_up_to_date_database_loads_no_alembic_or_ui(sqlite_template, tmp_path):
    # opening is on the path of every CLI command: it compares against db.HEAD
    # instead of loading Alembic, and must not pull in the TUI either
    found = _run(f"""
        import json, sys
        from crm_tui.db import open_database
        from crm_tui.services import contacts
        db = open_database(sys.argv[1])
        with db.read() as session:
            contacts.list_contacts(session)
        loaded = [name for name in ("alembic", *{UI_LIBRARIES!r}) if name in sys.modules]
        print(json.dumps({{"loaded": loaded}}))
    """, f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'crm.db')}")
    assert found == {"loaded": []}
