"""The README's examples run as a test (issue 17 #1): every `crm ...` line of its shell blocks runs,
top to bottom, on a fresh database in a fresh home directory. A README line that breaks fails the
suite.

Each line is split as the shell splits it and handed, word for word, to the `crm` command. The first
line of each test runs through the real console script in its own process (`python -m crm_tui`,
the entry point `crm` calls); the rest run in this process through typer's CLI runner, with the same
arguments, environment, working directory and empty stdin, so fifty interpreter starts (a second
each) do not dominate the test. tests/cli/test_entry.py covers what only a real process shows.

Lines that are not crm commands (sudo, ssh, export, crontab) set up a machine and are not run.
`crm` alone starts the app: its first start creates the database, which `crm init` does here. `crm
serve` runs until stopped (tests/security/test_serve.py drives it). The PostgreSQL blocks (the ones
that export a postgresql:// URL) run against a fresh PostgreSQL database when CRM_TEST_POSTGRES_URL
is set. The files the import examples name are the fixtures in tests/fixtures/readme/."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import traceback
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "readme"
PG_URL = os.environ.get("CRM_TEST_POSTGRES_URL")
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
NOT_RUN = {"serve": "runs until stopped; tests/security/test_serve.py starts it"}


def blocks() -> list[list[str]]:
    """The README's shell blocks after the two install commands, each as its lines."""
    found = SHELL_BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    return [block.splitlines() for block in found[2:]]


def commands(block: list[str]) -> list[list[str]]:
    """The crm commands of a block, as argument lists (comments and other lines left out)."""
    out = []
    for line in block:
        words = shlex.split(line, comments=True)
        if "|" in words:  # `crm ... | sudo psql`: the crm half is the README's example
            words = words[:words.index("|")]
        if words and words[0] == "crm":
            out.append(words)
    return out


def is_postgres_block(block: list[str]) -> bool:
    return any(line.startswith("export CRM_DATABASE_URL=postgresql") for line in block)


def _pipeline_xlsx(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Deal Name", "Amount", "Stage", "Owner", "Company", "Close Date"])
    sheet.append(["Globex pilot", "4,800", "Proposal", "dana", "Globex", "31/12/2026"])
    sheet.append(["Initech rollout", "12,000", "Closed Won", "dana", "Initech", "03/11/2026"])
    sheet.append(["", "abc", "Nowhere", "", "", "99/99/2026"])  # a bad row: --skip-invalid leaves it
    book.save(path)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A new person's machine: an empty home, the README's files in the working directory."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    shutil.copytree(FIXTURES, work)
    _pipeline_xlsx(work / "pipeline.xlsx")
    for name in ("CRM_CONFIG_DIR", "CRM_DATA_DIR", "CRM_DATABASE_URL", "CRM_USER", "XDG_CONFIG_HOME",
                 "XDG_DATA_HOME", "CRM_DATE_ORDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def run(words: list[str], env: dict, *, process: bool = False) -> Ran:
    """One README line through `crm` (a `> FILE` at its end redirects): through the real console
    script in a new process when `process`, else in this process through the CLI runner."""
    target = None
    if len(words) > 2 and words[-2] == ">":
        words, target = words[:-2], words[-1]
    args = [os.path.expanduser(w) if w.startswith("~") else w for w in words[1:]]
    if process:
        done = subprocess.run([sys.executable, "-m", "crm_tui", *args], capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=300)
        ran = Ran(done.returncode, done.stdout, done.stderr)
    else:
        from crm_tui.cli.main import app

        result = CliRunner().invoke(app, args, env=env, input="")
        stderr = result.stderr
        if result.exc_info is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(*result.exc_info))
        ran = Ran(result.exit_code, result.stdout, stderr)
    if target is not None and ran.returncode == 0:
        Path(target).write_text(ran.stdout, encoding="utf-8")
    return ran


def test_every_readme_example_runs_on_a_fresh_database(home):
    env = dict(os.environ)
    ran = 0
    for block in blocks():
        if is_postgres_block(block):
            continue  # the next test
        for words in commands(block):
            if len(words) == 1:
                words = ["crm", "init"]  # `crm` alone: the app, whose first start creates the database
            if words[1] in NOT_RUN:
                continue
            done = run(words, env, process=ran == 0)
            assert done.returncode == 0, f"README: {shlex.join(words)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            ran += 1
    assert ran >= 40  # the README's examples, not a parse that found none


@pytest.mark.postgres
def test_the_postgresql_examples_run_on_a_fresh_database(home):
    if not PG_URL:
        pytest.skip("CRM_TEST_POSTGRES_URL is not set, so the PostgreSQL examples are skipped (.ci/run sets it)")
    name = f"crm_readme_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(sa.engine.make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        env = {**os.environ, "CRM_DATABASE_URL": str(sa.engine.make_url(PG_URL).set(database=name))}
        ran = 0
        for block in filter(is_postgres_block, blocks()):
            for words in commands(block):
                done = run(words, env, process=ran == 0)
                assert done.returncode == 0, f"README: {shlex.join(words)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
                ran += 1
        assert ran >= 3
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
