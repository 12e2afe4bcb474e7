"""In-process benchmark of opening the Cases area's queue (issue 23): from creating the app to the
first case rows painted, beside a bare Textual app's start in the same run.

Two figures: the app started straight into Cases (DEFAULT_MODE cases, as bench_inbox.py opens the
Inbox), the target's figure; and the app started as usual with `7` pressed through the pilot, which
can press only once run_test has the app ready, i.e. once the contact list has been made and
painted: that one is the contact list's start (printed too, about 1.2-1.4x) plus the switch, so it
is shown for scale and has no verdict.

    .venv/bin/python bench/bench_case_queue.py [--db URL] [--samples 7]

The default database is bench/cases_data.py's (200k cases, 2M thread entries; built when missing).
Painting is measured as bench/bench_tui.py measures it (its probe on KeysetTable.render_line and the
app's compositor passes), headless under `App.run_test(size=(120, 36))`. The target: p50 at most
1.5x the bare app's start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time

from bench_tui import PROBE, SIZE, BareApp, BareLabel, bench_actor, busy, first_rows, p50, quiet, spread, start_ms
from bench_tui import verdict, watch
from bench_tui import watch_keyset_tables, watch_pages
from cases_data import cases_database
from sqlalchemy import func, select

from crm_tui.app import CrmApp
from crm_tui.db import open_database
from crm_tui.models import Case
from crm_tui.widgets.keyset_table import KeysetTable

TARGET_RATIO = 1.5


def case_rows(widget) -> bool:
    return (isinstance(widget, KeysetTable) and widget.id == "case-list" and not busy(widget)
            and bool(widget.visible_rows()))


class CasesFirstApp(CrmApp):
    DEFAULT_MODE = "cases"


async def cases_start_ms(db, actor) -> float:
    """Creating the app, pressing 7 as soon as it runs, until the queue's first rows are painted."""
    gc.collect()
    PROBE.arm(rows=case_rows)
    started = time.perf_counter()
    app = watch(CrmApp(db, actor, welcome=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        painted = await PROBE.wait("the Cases queue")
        await quiet(app, pilot)
    return (painted["rows"] - started) * 1000


async def run(db, samples: int) -> bool:
    actor = bench_actor(db)
    bare, ours, pressed, contacts = [], [], [], []
    for i in range(samples + 1):  # one untimed start of each first
        b = await start_ms(BareApp, bare=lambda w: isinstance(w, BareLabel))
        o = await start_ms(lambda: CasesFirstApp(db, actor, welcome=False), rows=case_rows)
        p = await cases_start_ms(db, actor)
        c = await start_ms(lambda: CrmApp(db, actor, welcome=False), rows=first_rows)
        if i:
            bare.append(b["bare"])
            ours.append(o["rows"])
            pressed.append(p)
            contacts.append(c["rows"])
    ratio = p50(ours) / p50(bare)
    print(f"start into Cases to the first case rows painted ({samples} runs)  {spread(ours)}")
    print(f"bare App start to painted ({samples} runs)                       {spread(bare)}")
    print(f"ratio p50/p50 {ratio:.2f}x  target <= {TARGET_RATIO:g}x  {verdict(ratio <= TARGET_RATIO)}  (as {actor.login})")
    print(f"(for scale: start, 7 once the contact list is ready, to the case rows ({samples} runs)  {spread(pressed)}, "
          f"{p50(pressed) / p50(bare):.2f}x;")
    print(f" start to the first contact rows, no 7 ({samples} runs)  {spread(contacts)}, "
          f"{p50(contacts) / p50(bare):.2f}x)")
    return ratio <= TARGET_RATIO


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: bench/out/cases.db, built when missing)")
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args(argv)
    url = args.db or cases_database(quiet=True)
    db = open_database(url)
    try:
        with db.read() as session:
            count = session.scalar(select(func.count()).select_from(Case))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"crm-tui Cases queue benchmark: {count:,} cases in {db.display_url()}, headless {SIZE[0]}x{SIZE[1]}, "
              f"load {load}", flush=True)
        watch_keyset_tables()
        watch_pages()
        asyncio.run(run(db, args.samples))
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
