"""Inbox benchmark: opening the Inbox on the 100k-contact database, beside the bare Textual app.

Each figure is printed beside a baseline measured in the same run, with its target.

    .venv/bin/python bench/bench_inbox.py [--db URL] [--samples 7] [--login LOGIN]

Headless under `App.run_test(size=(120, 36))`, with bench_tui.py's paint probe: a figure ends when
the compositor pass that drew the awaited state has finished. Measured:
- start straight into the Inbox (DEFAULT_MODE inbox) until the first task rows are painted, vs the
  bare app (Header, Label, Footer) started the same way: target p50 <= 1.5x; and, for reference,
  the same for the Contacts area (bench_tui.py's start figure) in the same run;
- from the Contacts area, key 4 until the Inbox rows are painted, and t (the whole team's) until
  those rows are painted, vs the bare app's key to repaint;
- the services alone: the section counts (one aggregate) and one page, mine and the team's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import (DEFAULT_DB, PROBE, SIZE, BareApp, BareLabel, bare_keys, busy, first_rows, p50,  # noqa: E402
                       print_table, spread, sqlite_file, start_ms, verdict, watch, watch_keyset_tables)

from crm_tui.app import CrmApp  # noqa: E402
from crm_tui.clock import get_zone  # noqa: E402
from crm_tui.db import Database, open_database  # noqa: E402
from crm_tui.models import Task  # noqa: E402
from crm_tui.services import tasks, users  # noqa: E402
from crm_tui.widgets.keyset_table import KeysetTable  # noqa: E402

TARGET_OPEN_RATIO = 1.5


class InboxFirstApp(CrmApp):
    DEFAULT_MODE = "inbox"


def inbox_list(widget) -> bool:
    return isinstance(widget, KeysetTable) and widget.id == "inbox-list"


def inbox_rows(widget) -> bool:
    return inbox_list(widget) and not busy(widget) and bool(widget.visible_rows())


def busiest_actor(db: Database, login: str | None):
    """The user with the most open tasks (a seller's real Inbox), or the one named."""
    with db.read() as session:
        if login is None:
            assignee = session.execute(select(Task.assignee_id).where(Task.done_at.is_(None), Task.assignee_id.is_not(None))
                                       .group_by(Task.assignee_id).order_by(func.count().desc()).limit(1)).scalar()
            login = users.get_user(session, user_id=assignee).login if assignee else "bench"
    with db.write() as session:
        return users.actor_for(session, login=login)


async def starts(db: Database, actor, samples: int) -> dict[str, list[float]]:
    """Alternating bare, Inbox-first and (for reference) Contacts-first starts, after one untimed
    start of each."""
    out: dict[str, list[float]] = {"bare": [], "frame": [], "rows": [], "contacts": []}
    for i in range(samples + 1):
        bare = await start_ms(BareApp, bare=lambda w: isinstance(w, BareLabel))
        ours = await start_ms(lambda: InboxFirstApp(db, actor, welcome=False), frame=inbox_list, rows=inbox_rows)
        contacts = await start_ms(lambda: CrmApp(db, actor, welcome=False), contacts=first_rows)
        if i:
            for name, ms in {**bare, **ours, **contacts}.items():
                out[name].append(ms)
    return out


async def switches(db: Database, actor, samples: int) -> dict[str, list[float]]:
    """In one running app: Contacts -> 4 -> Inbox rows painted; t -> the team's rows painted."""
    out: dict[str, list[float]] = {"switch": [], "team": []}
    for _ in range(samples):
        app = watch(CrmApp(db, actor, welcome=False))
        PROBE.arm(ready=lambda w: isinstance(w, KeysetTable) and w.id == "contact-list" and not busy(w))
        async with app.run_test(size=SIZE) as pilot:
            await PROBE.wait("contacts")
            await app.workers.wait_for_complete()
            await pilot.pause()
            PROBE.arm(rows=inbox_rows)
            started = time.perf_counter()
            await pilot.press("4")
            out["switch"].append(((await PROBE.wait("inbox"))["rows"] - started) * 1000)
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            PROBE.arm(rows=lambda w: inbox_rows(w) and screen.scope == "team"
                      and any(t.assignee_id != actor.user_id for t in w.visible_rows()))
            started = time.perf_counter()
            await pilot.press("t")
            out["team"].append(((await PROBE.wait("team"))["rows"] - started) * 1000)
    return out


def services(db: Database, actor, samples: int) -> dict[str, list[float]]:
    zone, now = get_zone(actor.timezone), None
    out: dict[str, list[float]] = {"counts_mine": [], "counts_team": [], "page_mine": [], "page_team": []}
    for _ in range(samples * 5):
        for scope, assignee in (("mine", actor.user_id), ("team", None)):
            started = time.perf_counter()
            with db.read() as session:
                tasks.inbox_counts(session, assignee_id=assignee, zone=zone, now=now)
            out[f"counts_{scope}"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            with db.read() as session:
                tasks.inbox_page(session, section="overdue", assignee_id=assignee, zone=zone, now=now, limit=68)
            out[f"page_{scope}"].append((time.perf_counter() - started) * 1000)
    return out


async def run(db: Database, actor, args) -> None:
    start = await starts(db, actor, args.samples)
    moved = await switches(db, actor, max(3, args.samples // 2))
    repaint, _ = await bare_keys(20)
    svc = services(db, actor, args.samples)
    bare = start["bare"]
    ratio = p50(start["rows"]) / p50(bare)
    rows = [
        (f"start into the Inbox to first frame ({args.samples} runs)", spread(start["frame"]),
         f"bare App painted {spread(bare)}", f"{p50(start['frame']) / p50(bare):.2f}x", "", ""),
        (f"start into the Inbox to task rows painted ({args.samples} runs)", spread(start["rows"]),
         f"bare App painted {spread(bare)}", f"{ratio:.2f}x", f"p50 <= {TARGET_OPEN_RATIO:g}x bare",
         verdict(ratio <= TARGET_OPEN_RATIO)),
        ("  for reference: start into Contacts to rows painted", spread(start["contacts"]),
         f"bare App painted {spread(bare)}", f"{p50(start['contacts']) / p50(bare):.2f}x", "(bench_tui's target)", ""),
        (f"key 4 from Contacts to Inbox rows painted ({len(moved['switch'])} runs)", spread(moved["switch"]),
         f"bare App key to repaint {spread(repaint)}", f"{p50(moved['switch']) / p50(repaint):.2f}x", "", ""),
        ("t: the whole team's rows painted", spread(moved["team"]),
         f"bare App key to repaint {spread(repaint)}", f"{p50(moved['team']) / p50(repaint):.2f}x", "", ""),
        ("inbox_counts, mine (one aggregate)", spread(svc["counts_mine"]), f"inbox_page alone {spread(svc['page_mine'])}",
         "", "", ""),
        ("inbox_counts, whole team", spread(svc["counts_team"]), f"inbox_page alone {spread(svc['page_team'])}",
         "", "", ""),
    ]
    print_table(rows)
    print("\nbare App: Header, Label, Footer, started the same way. Ratios are p50 over p50.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    parser.add_argument("--samples", type=int, default=7, help="app starts of each kind (default 7)")
    parser.add_argument("--login", default=None, help="whose Inbox (default: the user with the most open tasks)")
    args = parser.parse_args(argv)
    path = sqlite_file(args.db)
    if path is not None and not path.is_file():
        print(f"no database at {path.resolve()}: build it with .venv/bin/python bench/bench_foundation.py "
              f"--out bench/out", file=sys.stderr)
        return 2
    db = open_database(args.db)
    try:
        actor = busiest_actor(db, args.login)
        with db.read() as session:
            total = session.scalar(select(func.count()).select_from(Task))
            counts = tasks.inbox_counts(session, assignee_id=actor.user_id, zone=get_zone(actor.timezone))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"crm-tui Inbox benchmark: {total:,} tasks in {args.db}, as {actor.login} "
              f"({', '.join(f'{k} {v:,}' for k, v in counts.items())}), headless {SIZE[0]}x{SIZE[1]}, "
              f"Textual {version('textual')}, {os.cpu_count()} CPUs, load {load}", flush=True)
        watch_keyset_tables()
        asyncio.run(run(db, actor, args))
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
