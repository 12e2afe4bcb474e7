"""Worker functions run in child processes by the concurrency tests, and the way those start.

They live at module level so a child can import them by name. Each one opens its own Database,
reports back on a Queue, and never lets an exception escape unreported.

Children are separate OS processes with their own interpreter state, as "spawn" makes them, but
they come from multiprocessing's fork server, which has imported the CRM once: a spawned child
spends about a second of CPU importing it again, and the suite starts dozens of them. Each child
takes the environment and working directory its parent has when it starts (the fork server's are
those of the test that started it), as a spawned child does.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import timedelta

# What the children use, named one by one: the CRM's modules load their libraries when first used
# (crm_tui.db imports no SQLAlchemy until a database is opened), so naming the CRM's packages alone
# preloaded next to nothing and each child imported some 500 modules itself.
PRELOAD = ["sqlalchemy", "sqlalchemy.orm", "sqlmodel", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
           "psycopg", "alembic.command", "babel.numbers", "email_validator", "rich.console", "typer.testing", "pytest",
           "crm_tui.db", "crm_tui.models", "crm_tui.services.activities", "crm_tui.services.companies",
           "crm_tui.services.contacts", "crm_tui.services.deals", "crm_tui.services.tasks", "crm_tui.services.users",
           "crm_tui.workflows.runner", "crm_tui.workflows.rules", "crm_tui.workflows.actions", "crm_tui.cli.main",
           "tests.unit.proc_workers"]


def context():
    """The multiprocessing context for the children: the fork server, or spawn where there is none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def process(ctx, target, args: tuple):
    """A child process of `ctx` that runs `target(*args)` with this process's environment and cwd."""
    return ctx.Process(target=_as_parent, args=(dict(os.environ), os.getcwd(), target, args))


def _as_parent(environ: dict, cwd: str, target, args: tuple) -> None:
    os.environ.clear()
    os.environ.update(environ)
    time.tzset()
    os.chdir(cwd)
    target(*args)


def _error(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


def open_only(url: str, barrier, queue) -> None:
    """Open (and so migrate, when needed) the database at `url` at the same moment as a sibling."""
    from crm_tui.db import open_database

    try:
        barrier.wait(timeout=60)
        open_database(url).dispose()
        queue.put("ok")
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what we report
        queue.put(_error(exc))


def update_deal_title(url: str, deal_id: int, actor, title: str, now, barrier, queue) -> None:
    """Load the deal, wait for the sibling, then change its title against the version loaded.

    Reports ("ok", title, version_loaded) or ("conflict:<message>", title, version_loaded).
    """
    from crm_tui.db import open_database
    from crm_tui.errors import Conflict
    from crm_tui.services import deals

    version = None
    try:
        db = open_database(url, migrate=False)
        with db.read() as session:
            version = deals.get_deal(session, deal_id=deal_id).version
        barrier.wait(timeout=60)
        try:
            with db.write() as session:
                deals.update_deal(session, deal_id=deal_id, version=version, changes={"title": title},
                                  actor=actor, now=now)
            queue.put(("ok", title, version))
        except Conflict as exc:
            queue.put((f"conflict:{exc.message}", title, version))
        db.dispose()
    except BaseException as exc:  # noqa: BLE001
        queue.put((f"error:{_error(exc)}", title, version))


def append_activities(url: str, contact_id: int, actor, worker: int, count: int, now, barrier, queue) -> None:
    """Log `count` calls on one contact, each in its own unit of work.

    Reports (worker, logged, errors) where errors is a list of "Type: message" strings.
    """
    from crm_tui.db import open_database
    from crm_tui.services import activities

    logged, errors = 0, []
    try:
        db = open_database(url, migrate=False)
        barrier.wait(timeout=60)
        for i in range(count):
            # distinct times across workers, so the contact's last-contacted time has one right answer
            occurred_at = now - timedelta(minutes=worker * count + i)
            try:
                with db.write() as session:
                    activities.log_activity(session, actor=actor, now=now, data={
                        "kind": "call", "contact_id": contact_id, "occurred_at": occurred_at,
                        "subject": f"call {worker}-{i}",
                    })
                logged += 1
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none hidden
                errors.append(_error(exc))
        db.dispose()
    except BaseException as exc:  # noqa: BLE001
        errors.append(_error(exc))
    queue.put((worker, logged, errors))


def run_in_processes(target, arg_lists: list[tuple], *, timeout: float = 120) -> list:
    """Run `target(*args, barrier, queue)` in one child process per args; return what they report.

    Every child shares one Barrier (so they start the contested part together) and one Queue.
    """
    import queue as queue_module

    ctx = context()
    barrier, results = ctx.Barrier(len(arg_lists)), ctx.Queue()
    procs = [process(ctx, target, (*args, barrier, results)) for args in arg_lists]
    for proc in procs:
        proc.start()
    reports = []
    try:
        # drain the queue before joining: a child blocks on exit until its reports are read
        for _ in procs:
            reports.append(results.get(timeout=timeout))
    except queue_module.Empty:
        pass
    finally:
        for proc in procs:
            proc.join(timeout=timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert len(reports) == len(procs), f"only {len(reports)} of {len(procs)} processes reported: {reports}"
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return reports


def run_sequences(url: str, now, worker: int, barrier, queue) -> None:
    """Run the sequences' due steps (as `crm workflows run` does) in small batches, at the same
    moment as a sibling. Reports (worker, steps done, steps skipped, errors)."""
    from datetime import timezone

    from crm_tui.db import open_database
    from crm_tui.workflows.email import SmtpSettings
    from crm_tui.workflows.runner import run_sequences as run

    done = skipped = 0
    errors: list[str] = []
    try:
        db = open_database(url, migrate=False)
        barrier.wait(timeout=60)
        smtp = SmtpSettings(host="127.0.0.1", sender="CRM <crm@team.example>")  # email on; nothing is sent here
        counts = run(db, now=now, zone=timezone.utc, smtp=smtp, batch=3)
        done, skipped, errors = counts.done, counts.skipped, counts.errors
        db.dispose()
    except BaseException as exc:  # noqa: BLE001
        errors.append(_error(exc))
    queue.put((worker, done, skipped, errors))
