"""Pipeline board benchmark: 20k open deals over 6 stages; first painted board, card moves and focus
movement, each beside the bare Textual app measured in the same run (see bench_tui.py).

    .venv/bin/python bench/bench_pipeline.py [--samples 7] [--moves 100] [--presses 100] [--keep DIR]

It builds its own SQLite file (20k open deals, 20k tasks on them) in a temp dir, then drives the app
headless at 120x36 with the pipeline as the starting area. "Painted" is the end of the compositor
pass that drew the awaited state (bench_tui's Probe, with KanbanBoard.render_line wrapped here: the
board is one widget, so the probe looks at the board's state once per compositor pass, on the first
line the pass draws of it, rather than on every line drawn).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tui import (PROBE, SIZE, BareApp, bare_keys, busy, p50, p95, print_table, spread, start_ms,  # noqa: E402
                       rows_fetched, verdict, watch, watch_keyset_tables, watch_pages)
from textual.strip import Strip  # noqa: E402
from textual.widget import Widget  # noqa: E402

from crm_tui.app import CrmApp  # noqa: E402
from crm_tui.db import Database, open_database  # noqa: E402
from crm_tui.services import pipelines, users  # noqa: E402
from crm_tui.widgets.kanban import KanbanBoard  # noqa: E402
from crm_tui.widgets.keyset_table import KeysetTable  # noqa: E402

DEALS = 20_000
TARGET_START_RATIO = 1.5
TARGET_MOVE_P95_MS = 50.0


class PipelineApp(CrmApp):
    """The app opening on the pipeline (no first-run welcome: the bench database has no contacts)."""

    DEFAULT_MODE = "pipeline"

    def __init__(self, db: Database, actor) -> None:
        super().__init__(db, actor, welcome=False)


class ShellApp(CrmApp):
    """The same app opening on Contacts (the bench database has none): the frame every area shares."""

    def __init__(self, db: Database, actor) -> None:
        super().__init__(db, actor, welcome=False)


def shell_painted(widget: Widget) -> bool:
    return isinstance(widget, KeysetTable) and not busy(widget)


def build(path: Path) -> tuple[Database, object]:
    db = open_database(f"sqlite:///{path}")
    with db.write() as session:
        actor = users.actor_for(session, login="bench")
        pipeline = pipelines.default_pipeline(session)
        for name in ("Demo", "Trial"):  # six open stages
            pipelines.add_stage(session, pipeline_id=pipeline.id, spec={"name": name, "probability": 60,
                                                                         "rotting_days": 30}, actor=actor)
        pipeline = pipelines.default_pipeline(session)
        stage_ids = [s.id for s in pipeline.stages if s.kind == "open"]
        cases = " ".join(f"WHEN {i} THEN {sid}" for i, sid in enumerate(stage_ids))
        conn = session.connection()
        conn.exec_driver_sql(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {DEALS})
            INSERT INTO deals (version, created_at, updated_at, title, title_key, pipeline_id, stage_id, owner_id,
                               amount_minor, currency, status, stage_entered_at, archived)
            SELECT 1, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', 'Deal ' || i, 'deal ' || i,
                   {pipeline.id}, CASE i % {len(stage_ids)} {cases} END, {actor.user_id}, 1000 * (i % 500 + 1),
                   CASE WHEN i % 9 = 0 THEN 'EUR' ELSE 'USD' END, 'open',
                   printf('2026-%02d-%02d 00:00:00.000000', 1 + i % 11, 1 + i % 28), 0
            FROM n""")
        conn.exec_driver_sql(f"""
            INSERT INTO tasks (version, created_at, updated_at, title, due_at, assignee_id, deal_id, origin)
            SELECT 1, created_at, created_at, 'Call back', printf('2026-12-%02d 09:00:00.000000', 1 + id % 28),
                   {actor.user_id}, id, 'manual' FROM deals""")
    return db, actor


def watch_columns() -> None:
    render_line = KanbanBoard.render_line
    on_display = PROBE.on_display
    looked = [False]  # at the board in this compositor pass

    def _on_display() -> None:
        looked[0] = False
        on_display()

    def _render_line(self: KanbanBoard, y: int) -> Strip:
        strip = render_line(self, y)
        if not looked[0]:  # a pass draws the board from one state: one look is enough
            looked[0] = True
            PROBE.on_render(self)
        return strip

    PROBE.on_display = _on_display  # type: ignore[method-assign]

    KanbanBoard.render_line = _render_line  # type: ignore[method-assign]


def board_painted(widget: Widget) -> bool:
    """Every shown column has its first cards (the headers' totals may still be coming)."""
    if not isinstance(widget, KanbanBoard):
        return False
    shown = [c for c in widget.columns if c.display]
    return bool(shown) and all(c.rows and not c.fetching for c in shown)


def totals_painted(widget: Widget) -> bool:
    return board_painted(widget) and all(c.totals.count > 0 for c in widget.columns if c.display)


async def starts(db: Database, actor, samples: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"bare": [], "shell": [], "board": [], "totals": []}
    for i in range(samples + 1):
        bare = await start_ms(BareApp, bare=lambda w: w.__class__.__name__ == "BareLabel")
        shell = await start_ms(lambda: ShellApp(db, actor), shell=shell_painted)
        ours = await start_ms(lambda: PipelineApp(db, actor), board=board_painted, totals=totals_painted)
        if i:
            for name, ms in {**bare, **shell, **ours}.items():
                out[name].append(ms)
    return out


async def interact(db: Database, actor, moves: int, presses: int) -> dict:
    app = watch(PipelineApp(db, actor))
    PROBE.arm(board=board_painted)
    out: dict = {"move": [], "confirmed": [], "down": [], "right": []}
    async with app.run_test(size=SIZE) as pilot:
        await PROBE.wait("start")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        board = screen.board
        for i in range(moves):
            await app.workers.wait_for_complete()
            await pilot.pause()
            source, card = board.column, board.current_card
            columns = board.columns
            step = 1 if columns.index(source) == 0 or i % 2 == 0 else -1
            target = columns[columns.index(source) + step]
            # shown: the card gone from its column and focused in the next one (drawn from the cards in
            # hand); confirmed: the move written, both columns fetched again and painted, no error
            moved = (lambda w, s=source, t=target, c=card: w is board and s.index_of(c.id) is None
                     and board.column is t and t.current is not None and t.current.id == c.id)
            PROBE.arm(shown=moved, confirmed=lambda w, s=source, t=target: moved(w) and not s.fetching
                      and not t.fetching and not screen._busy)
            started = time.perf_counter()
            await pilot.press("right_square_bracket" if step > 0 else "left_square_bracket")
            painted = await PROBE.wait("move")
            out["move"].append((painted["shown"] - started) * 1000)
            out["confirmed"].append((painted["confirmed"] - started) * 1000)
            if target.current.stage_id != target.stage.id or target.current.version <= card.version:
                raise RuntimeError(f"move {i}: the confirmed card is not the written one")
        fetched = sum(rows_fetched(c) for c in board.columns)
        await pilot.press("home")  # from the column's first card (a moved card lands at its last)
        await app.workers.wait_for_complete()
        await pilot.pause()
        for key, name in (("down", "down"), ("right", "right")):
            for i in range(presses):
                column, cursor = board.column, board.column.cursor
                if key == "down":
                    ready = (lambda w, col=column, cur=cursor: w is board and board.column is col and col.cursor != cur)
                else:
                    ready = (lambda w, col=column: w is board and board.column is not col)
                PROBE.arm(moved=ready)
                started = time.perf_counter()
                await pilot.press(name if key == "down" or i % 10 < 5 else "left")
                painted = await PROBE.wait(key)
                out[key].append((painted["moved"] - started) * 1000)
        out["fetched"] = (fetched, sum(rows_fetched(c) for c in board.columns))
    return out


async def run(db: Database, actor, args) -> None:
    start = await starts(db, actor, args.samples)
    found = await interact(db, actor, args.moves, args.presses)
    bare_repaint, _ = await bare_keys(args.presses)
    bare = start["bare"]
    ratio = p50(start["board"]) / p50(bare)
    rows = [
        (f"start to first board painted ({args.samples} runs)", spread(start["board"]), f"bare App {spread(bare)}",
         f"{ratio:.2f}x", f"p50 <= {TARGET_START_RATIO:g}x bare", verdict(ratio <= TARGET_START_RATIO)),
        ("  and the header totals painted", spread(start["totals"]), f"bare App {spread(bare)}",
         f"{p50(start['totals']) / p50(bare):.2f}x", "", ""),
        ("  the app's frame alone: Contacts, empty list painted", spread(start["shell"]), f"bare App {spread(bare)}",
         f"{p50(start['shell']) / p50(bare):.2f}x", "", ""),
        ("  first board over the frame alone", spread(start["board"]), f"frame {spread(start['shell'])}",
         f"{p50(start['board']) / p50(start['shell']):.2f}x", "", ""),
        (f"card move: key to both columns painted ({args.moves})", spread(found["move"]),
         f"bare key to repaint {spread(bare_repaint)}", f"{p95(found['move']) / p95(bare_repaint):.2f}x",
         f"p95 < {TARGET_MOVE_P95_MS:g} ms", verdict(p95(found["move"]) < TARGET_MOVE_P95_MS)),
        ("  and confirmed: written, both columns fetched again, painted", spread(found["confirmed"]),
         f"bare key to repaint {spread(bare_repaint)}", f"{p95(found['confirmed']) / p95(bare_repaint):.2f}x", "", ""),
        (f"focus down a card ({args.presses})", spread(found["down"]),
         f"bare key to repaint {spread(bare_repaint)}", f"{p95(found['down']) / p95(bare_repaint):.2f}x", "", ""),
        (f"focus to another column ({args.presses})", spread(found["right"]),
         f"bare key to repaint {spread(bare_repaint)}", f"{p95(found['right']) / p95(bare_repaint):.2f}x", "", ""),
    ]
    print_table(rows)
    before, after = found["fetched"]
    print(f"\ncards fetched: {before:,} after the moves, {after:,} after the focus presses, of {DEALS:,} deals")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--moves", type=int, default=100)
    parser.add_argument("--presses", type=int, default=100)
    parser.add_argument("--keep", help="build the database in this directory and keep it")
    args = parser.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="crm-bench-pipeline-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipeline.db"
    if path.exists():
        path.unlink()
    db, actor = build(path)
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"crm-tui pipeline benchmark: {DEALS:,} open deals over 6 stages, headless {SIZE[0]}x{SIZE[1]}, "
              f"Textual {version('textual')}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load}",
              flush=True)
        watch_columns()
        watch_keyset_tables()
        watch_pages()
        asyncio.run(run(db, actor, args))
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
