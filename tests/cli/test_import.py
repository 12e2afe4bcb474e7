"""`crm import`: the mapping before the report, all or nothing with a one-line error, the report
file, --dry-run, and an import killed with SIGKILL half-way leaves no partial rows."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import Crm, row_counts

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import"


@pytest.fixture
def sqlite_crm(tmp_path, sqlite_template) -> Crm:
    """Refused input is refused before the database matters: one backend is enough."""
    return Crm(f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'crm.db')}")


@pytest.fixture
def messy(tmp_path) -> Path:
    """A copy, so the report file is written beside it in the test's own directory."""
    return Path(shutil.copy(FIXTURES / "contacts_messy.csv", tmp_path / "contacts_messy.csv"))


def test_import_shows_the_mapping_then_the_report(crm, messy):
    result = crm.ok("import", "contacts", str(messy), "--country", "US", "--skip-invalid")
    out = result.stdout
    assert out.index("Mapping") < out.index("Imported.")
    assert "Lifecycle Stage" in out and "lifecycle" in out and "detected" in out
    assert "contacts from contacts_messy.csv: 8 rows, 4 created, 0 updated, 1 skipped as duplicates, 3 invalid" in out
    # Eve Adams (line 4) shares Dana White's phone, not her name: created, not skipped (issue 17 #5)
    assert "same email dana@white.io as line 2" in out and "frank@@bad" in out and "same phone" not in out
    again = crm.json("import", "contacts", str(messy), "--country", "US", "--skip-invalid")
    assert (again["created"], again["skipped"]) == (0, 5) and again["imported_before"]


def test_invalid_rows_import_nothing_and_the_report_lands_beside_the_file(crm, messy, db_url):
    crm.ok("contact", "list")  # the acting user exists before the counts are taken
    before = row_counts(db_url)
    dry = crm.json("import", "contacts", str(messy), "--country", "US", "--dry-run")
    assert (dry["dry_run"], dry["created"], dry["invalid"], dry["committed"]) == (True, 4, 3, False)
    result = crm.fails("import", "contacts", str(messy), "--country", "US", "--report", code=2)
    assert "3 of 8 rows of contacts_messy.csv are invalid, so nothing was imported" in result.stderr
    assert "Nothing was imported." in result.stdout
    assert "8 rows, 4 would be created, 0 would be updated" in result.stdout  # what it would have done
    assert row_counts(db_url) == before
    report = (messy.parent / "contacts_messy.import-report.csv").read_text(encoding="utf-8").splitlines()
    assert report[0] == "line,status,column,value,problem" and len(report) == 5


@pytest.mark.parametrize(("args", "message"), [
    (["import", "people", "x.csv"], "cannot import 'people'"),
    (["import", "contacts", str(FIXTURES / "headerless.csv")], "the file has no header row"),
    (["import", "contacts", str(FIXTURES / "empty.csv")], "is empty"),
    (["import", "contacts", str(FIXTURES / "contacts_messy.csv"), "--on-duplicate", "merge"],
     "--on-duplicate 'merge'"),
    (["import", "contacts", str(FIXTURES / "contacts_messy.csv"), "--map", "Nope=email"], "no column 'Nope'"),
])
def test_unusable_files_and_options_get_one_line(sqlite_crm, args, message):
    assert message in sqlite_crm.fails(*args, code=2).stderr


KILLED_IMPORT = """
    import sys
    from crm_tui.db import open_database
    from crm_tui.services import users
    from crm_tui.services.importing import ImportOptions, run_import
    from crm_tui.services.importing import run as importer

    importer.CHUNK = 200  # a small file still spans several chunks
    db = open_database(sys.argv[1])
    with db.write() as session:
        actor = users.actor_for(session, login="ann")

    def progress(done, total):
        # the first chunk is written, the transaction is open: say so, then wait to be killed
        print(f"written {done}", flush=True)
        sys.stdin.readline()

    with db.write() as session:
        run_import(session, path=sys.argv[2], options=ImportOptions(entity="contacts"), actor=actor,
                   progress=progress)
    print("committed", flush=True)
"""


@pytest.mark.slow
def test_an_import_killed_half_way_leaves_no_partial_rows(crm, db_url, tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("First Name,Last Name,Email,Company\n")
        for i in range(500):
            handle.write(f"Person,Number{i},person{i}@example.com,Company {i % 300}\n")
    crm.ok("contact", "list")  # the acting user exists before the counts are taken
    before = row_counts(db_url)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_IMPORT), db_url, str(path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "written 200"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert row_counts(db_url) == before
    if db_url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # the database is fine afterwards: the whole import runs (running it twice: test_import.py)
    assert crm.json("import", "contacts", str(path))["created"] == 500
    assert row_counts(db_url)["contacts"] == before["contacts"] + 500


def test_the_readme_and_the_help_name_the_report_file_the_import_writes():
    """Issue 17 #2: the README said FILE.import-report.csv while the file was NAME.import-report.csv."""
    from pathlib import Path

    from typer.testing import CliRunner

    from crm_tui.cli.main import app
    from crm_tui.services.importing import report_path

    written = report_path(Path("leads.csv")).name
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"`{written}` for `leads.csv`" in readme
    help_text = " ".join(CliRunner().invoke(app, ["import", "--help"], env={"COLUMNS": "200"}).stdout.split())
    assert f"leads.csv: {written}" in help_text


def test_import_users_with_managers_and_teams(crm, db_url, tmp_path):
    path = tmp_path / "team.csv"
    path.write_text("Username,Full name,Email,Role,Reports to,Territory\n"
                    "bob,Bob Brown,bob@x.io,sales,carol@x.io,EMEA\n"
                    "carol,Carol Chen,carol@x.io,manager,,EMEA\n", encoding="utf-8")
    crm.ok("contact", "list")  # ann: the first user, an admin
    before = row_counts(db_url)
    dry = crm.ok("import", "users", str(path), "--dry-run").stdout
    assert "Reports to" in dry and "manager" in dry and "2 rows, 2 would be created" in dry
    assert row_counts(db_url) == before
    assert "users from team.csv: 2 rows, 2 created" in crm.ok("import", "users", str(path)).stdout
    listed = {u["login"]: (u["name"], u["role"], u["manager"], u["team"]) for u in crm.json("user", "list")["items"]}
    assert listed["bob"] == ("Bob Brown", "sales", "carol", "EMEA")
    assert listed["carol"] == ("Carol Chen", "manager", None, "EMEA")

    path.write_text("Login,Role\ndan,overlord\neve,sales\n", encoding="utf-8")
    counts = row_counts(db_url)
    result = crm.fails("import", "users", str(path))
    assert "1 of 2 rows of team.csv are invalid, so nothing was imported" in result.stderr
    assert "invalid role 'overlord'" in result.stdout and row_counts(db_url) == counts
    assert "--on-duplicate create: a login names one user" in crm.fails(
        "import", "users", str(path), "--on-duplicate", "create").stderr


def test_import_users_is_refused_to_a_non_admin_before_the_file_is_read(crm, db_url, tmp_path):
    crm.ok("user", "add", "mia", "--role", "manager")
    path = tmp_path / "team.csv"
    path.write_text("Login,Role\nmia,admin\n", encoding="utf-8")
    before = row_counts(db_url)
    for target in (path, tmp_path / "no-such-file.csv"):
        result = crm.fails("import", "users", str(target), "--on-duplicate", "update", user="mia", code=4)
        assert "mia (manager) may not add, change and deactivate users" in result.stderr
        assert "Mapping" not in result.stdout and "Login" not in result.stdout  # nothing of the file shown
    assert row_counts(db_url) == before
