"""Issue 16, item 4: six `crm --user uN init` runs at once on a database with no users make exactly
one admin, on PostgreSQL (an advisory lock around "is this the first user?") and on a SQLite file
(BEGIN IMMEDIATE). The others are told, in one line, that their login is not a user yet.

Each case is one row: how many processes start together, and what they run."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.unit import proc_workers

CASES = [
    # (processes, the command each runs: {n} is its number, how many of them succeed)
    (6, ("--user", "u{n}", "init"), 1),
    (6, ("--user", "u{n}", "contact", "list"), 1),
    (6, ("--user", "ann", "init"), 6),  # one first login from six processes: all are that one admin
]


def _run_crm(url: str, args: list[str], barrier, queue) -> None:
    """One OS process: wait for the siblings, then run `crm --db URL ARGS` and report (exit, stderr)."""
    try:
        from typer.testing import CliRunner

        from crm_tui.cli.main import app

        runner = CliRunner()
        barrier.wait(timeout=60)
        result = runner.invoke(app, ["--db", url, *args])
        queue.put((result.exit_code, result.stderr))
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what we report
        queue.put((-1, f"{exc.__class__.__name__}: {exc}"))


@pytest.mark.slow
@pytest.mark.parametrize(("processes", "command", "succeed"), CASES)
def test_processes_starting_together_on_an_empty_database_make_one_admin(db_url, processes, command, succeed):
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:  # the fixture's database is migrated and has no users yet
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one() == 0
    ctx = proc_workers.context()
    barrier, queue = ctx.Barrier(processes), ctx.Queue()
    children = [proc_workers.process(ctx, _run_crm, (db_url, [a.format(n=n) for a in command], barrier, queue))
                for n in range(processes)]
    for child in children:
        child.start()
    results = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=30)
    with engine.connect() as conn:
        admins = conn.execute(sa.text("SELECT login FROM users WHERE role = 'admin'")).scalars().all()
        everyone = conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
    engine.dispose()
    assert len(admins) == 1 and everyone == 1, (admins, results)
    assert sum(code == 0 for code, _ in results) == succeed, results
    for code, stderr in results:
        if code != 0:  # the others: one clear line, never a traceback
            lines = stderr.strip().splitlines()
            assert len(lines) == 1 and "is not a user of this CRM" in lines[0], stderr
