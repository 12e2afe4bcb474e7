"""TUI benchmark: start-up, search and page-down of the Textual app on the 100k-contact database.

Each figure is printed beside a baseline measured in the same run, with its target.

    .venv/bin/python bench/bench_tui.py [--db URL] [--samples 7] [--searches 40] [--presses 200]

Everything runs headless under `App.run_test(size=(120, 36))`. "Painted" is measured, not guessed:
the benchmark wraps the table's (or the bare Label's) `render_line` and the app's `_display`
(which a headless app still calls at the end of every compositor pass, right after rendering the
update), and a figure ends when a compositor pass that drew the awaited state has finished. A
1 ms `asyncio.sleep` loop only decides when to move on; it adds nothing to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Label
from textual.worker import WorkerCancelled

from crm_tui.app import CrmApp
from crm_tui.db import Database, open_database
from crm_tui.models import Contact
from crm_tui.services import contacts as contact_service
from crm_tui.services import users
from crm_tui.widgets.keyset_table import KeysetTable
from crm_tui.widgets.paged_window import COUNT, PagedWindow

DEFAULT_DB = "sqlite:///bench/out/ours.db"
SIZE = (120, 36)
SEED = 1
TIMEOUT_S = 30.0
PREFIXES = 5  # how many of the search fragments are common 2-letter prefixes
TARGET_START_RATIO = 1.5
TARGET_SEARCH_P95_MS = 50.0
TARGET_PAGE_P95_MS = 30.0


def busy(table: KeysetTable) -> bool:
    """A page is being fetched (the table's flag was `loading` before it stopped shadowing
    Widget.loading, Textual's loading-indicator reactive)."""
    return table.fetching if isinstance(getattr(KeysetTable, "fetching", None), property) else table.loading


def counting(table: KeysetTable) -> bool:
    """The total is being counted (the table shows the rows first and counts after)."""
    return bool(getattr(table, "counting", False))


# --- seeing what was painted ----------------------------------------------------------------


class Probe:
    """Waits for states to be painted: a render_line call of a watched widget for which a state's
    `ready` holds, then the end of the compositor pass that drew it. One app runs at a time."""

    def __init__(self) -> None:
        self.ready: dict[str, Callable[[Widget], bool]] = {}
        self.seen: set[str] = set()
        self.painted: dict[str, float] = {}

    def arm(self, **ready: Callable[[Widget], bool]) -> None:
        self.ready, self.seen, self.painted = ready, set(), {}

    def on_render(self, widget: Widget) -> None:
        for name, ready in self.ready.items():
            if name not in self.seen and ready(widget):
                self.seen.add(name)

    def on_display(self) -> None:
        if len(self.seen) > len(self.painted):
            now = time.perf_counter()
            for name in self.seen:
                self.painted.setdefault(name, now)

    async def wait(self, what: str) -> dict[str, float]:
        """The perf_counter time each armed state was painted, once all were."""
        deadline = time.perf_counter() + TIMEOUT_S
        while len(self.painted) < len(self.ready):
            if time.perf_counter() > deadline:
                missing = ", ".join(sorted(set(self.ready) - set(self.painted)))
                raise TimeoutError(f"{what}: {missing} not painted within {TIMEOUT_S:g} s")
            await asyncio.sleep(0.001)
        self.ready = {}
        return self.painted


PROBE = Probe()


def watch(app: App) -> App:
    """Note the end of each of this app's compositor passes (headless or not)."""
    display = app._display

    def _display(screen, renderable) -> None:
        display(screen, renderable)
        PROBE.on_display()

    app._display = _display  # type: ignore[method-assign]
    return app


PAGES: Counter = Counter()  # pages each paged window took in (a list's, a kanban column's), by window
PAGE_ROWS: Counter = Counter()  # and their rows


def watch_pages() -> None:
    """Count the pages every paged window takes in (a wrapper in this process only)."""
    accept = PagedWindow.accept

    def _accept(window: PagedWindow, ask, page, **kw) -> bool:
        took = accept(window, ask, page, **kw)
        if took and ask.kind != COUNT:
            PAGES[window] += 1
            PAGE_ROWS[window] += len(page.items)
        return took

    PagedWindow.accept = _accept  # type: ignore[method-assign]


def fetches(shown) -> int:
    """Pages a list or a kanban column has taken in (see watch_pages)."""
    return PAGES[shown.window]


def rows_fetched(shown) -> int:
    return PAGE_ROWS[shown.window]


def watch_keyset_tables() -> None:
    """Note every line the app's KeysetTable renders (a wrapper in this process only)."""
    render_line = KeysetTable.render_line

    def _render_line(self: KeysetTable, y: int) -> Strip:
        strip = render_line(self, y)
        PROBE.on_render(self)
        return strip

    KeysetTable.render_line = _render_line  # type: ignore[method-assign]


# --- the bare baseline ------------------------------------------------------------------------


class BareLabel(Label):
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        PROBE.on_render(self)
        return strip


class BareApp(App[None]):
    """The least a Textual app with the same frame can do: a header, one label, a footer."""

    BINDINGS = [Binding("pagedown", "bump", "Bump")]

    def __init__(self) -> None:
        super().__init__()
        self.bumps = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield BareLabel("Hello", id="label")
        yield Footer()

    def action_bump(self) -> None:
        self.bumps += 1
        self.query_one(BareLabel).update(f"Hello {self.bumps}")


# --- 1. start to first rows painted -----------------------------------------------------------


def contact_list(widget: Widget) -> bool:
    return isinstance(widget, KeysetTable) and widget.id == "contact-list"


def first_rows(widget: Widget) -> bool:
    return contact_list(widget) and not busy(widget) and bool(widget.visible_rows())


def first_count(widget: Widget) -> bool:
    return first_rows(widget) and widget.total is not None and not counting(widget)


async def start_ms(make_app: Callable[[], App], **ready: Callable[[Widget], bool]) -> dict[str, float]:
    """Creating the app and entering run_test, until each `ready` state is painted (ms).

    Each start begins in a quiet process: once its figures are taken, the app's background work
    (the smart-list counts, the Inbox count, a board's totals) is waited for before it exits, and
    the garbage of the runs before is collected before the clock starts. Otherwise the queries an
    app leaves running go on in their threads into the next start, which was often the bare app's:
    the baseline came out twice as slow as alone, and the ratio flattered the CRM."""
    gc.collect()
    PROBE.arm(**ready)
    started = time.perf_counter()
    app = watch(make_app())
    async with app.run_test(size=SIZE) as pilot:
        painted = await PROBE.wait(f"start of {type(app).__name__}")
        await quiet(app, pilot)
    return {name: (at - started) * 1000 for name, at in painted.items()}


async def quiet(app: App, pilot) -> None:
    """Until none of the app's workers is running (a worker may start another: a few rounds)."""
    for _ in range(20):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # a newer load replaced it: wait on the rest
            continue
        await pilot.pause()
        if not any(worker.is_running for worker in app.workers):
            return


async def starts(db: Database, actor, samples: int) -> dict[str, list[float]]:
    """Alternating bare and ours, after one untimed start of each."""
    out: dict[str, list[float]] = {"bare": [], "frame": [], "rows": [], "count": []}
    for i in range(samples + 1):
        bare = await start_ms(BareApp, bare=lambda w: isinstance(w, BareLabel))
        ours = await start_ms(lambda: CrmApp(db, actor), frame=contact_list, rows=first_rows, count=first_count)
        if i:
            for name, ms in {**bare, **ours}.items():
                out[name].append(ms)
    return out


# --- 2. search and 3. page-down, in one running app -------------------------------------------


def cursor_visible(table: KeysetTable) -> bool:
    row = table.current_row
    return row is not None and any(r is row for r in table.visible_rows())


def page_full(table: KeysetTable) -> bool:
    """Every line of the new screenful has its row (none is waiting for a fetch)."""
    shown, body = len(table.visible_rows()), max(1, table.content_region.height - 1)
    left = (table.total - table._top) if table.total is not None else body
    return shown >= min(body, left)


async def page_downs(pilot, table: KeysetTable, presses: int) -> dict:
    """Per press, ms from pressing: to the moved cursor painted with every row of the new
    screenful (what the person waits for: the target applies here); to settled (also no page
    being fetched ahead any more) and painted; and until pilot.press has returned and the table
    settled. Also how many presses fetched a page."""
    out: dict = {"cursor": [], "settled": [], "roundtrip": [], "fetched": 0}
    for _ in range(presses):
        before, fetched = table.cursor, fetches(table)

        def moved(w: Widget) -> bool:
            return w is table and table.cursor != before and cursor_visible(table) and page_full(table)

        PROBE.arm(cursor=moved, settled=lambda w: moved(w) and not busy(table))
        started = time.perf_counter()
        await pilot.press("pagedown")
        returned = time.perf_counter()
        painted = await PROBE.wait("page-down")
        out["cursor"].append((painted["cursor"] - started) * 1000)
        out["settled"].append((painted["settled"] - started) * 1000)
        out["roundtrip"].append((max(painted["settled"], returned) - started) * 1000)
        out["fetched"] += fetches(table) != fetched
    return out


def fragments(db: Database, count: int, rng: random.Random) -> list[str]:
    """Name, email and company fragments (3-6 characters) and whole words from contacts listed by
    list_contacts (the first rows of each sort, so from different corners of the data), then the
    commonest 2-letter prefixes of first names."""
    with db.read() as session:
        rows = {r.id: r for sort in contact_service.SORTS
                for r in contact_service.list_contacts(session, sort=sort, limit=250).items}
    rows = [rows[i] for i in sorted(rows)]
    picked = rng.sample(rows, min(max(0, count - PREFIXES), len(rows)))
    out = []
    for k, row in enumerate(picked):
        name = row.full_name or "x"
        source = [name, (row.email or name).split("@")[0], row.company_name or name][k % 3]
        if k % 4 == 3:
            out.append(rng.choice(source.replace(".", " ").split()))
        else:
            size = rng.randint(3, 6)
            start = rng.randrange(max(1, len(source) - size + 1))
            out.append(source[start:start + size].strip(" .") or source)
    firsts = Counter((r.full_name or "").split(" ")[0][:2].lower() for r in rows)
    out += [p for p, _ in firsts.most_common() if len(p) == 2 and p.isalpha()][:PREFIXES]
    deduped: list[str] = []
    for word in out:  # _search ignores a query equal to the one shown
        if word.strip() and (not deduped or word.strip() != deduped[-1].strip()):
            deduped.append(word)
    return deduped


def service_ms(db: Database, word: str, limit: int, now, *, with_total: bool) -> tuple[float, list[int], int | None]:
    """The same query the table's fetch makes, session and all, timed directly."""
    started = time.perf_counter()
    with db.read() as session:
        page = contact_service.list_contacts(session, query=word, sort="name", limit=limit, with_total=with_total,
                                             now=now)
    return (time.perf_counter() - started) * 1000, [r.id for r in page.items], page.total


async def searches(app: CrmApp, table: KeysetTable, words: list[str]) -> dict[str, list[float]]:
    """Per word, ms from search_now(): to the rows painted, and to the count painted too; then the
    service alone: the page, and the page with its total. The table is checked against it."""
    screen = app.screen
    limit = table.page_size
    for word in words:  # warm both paths' caches alike
        for with_total in (False, True):
            service_ms(app.db, word, limit, app.now(), with_total=with_total)
    out: dict[str, list[float]] = {"rows": [], "count": [], "page": [], "page_total": []}
    for word in words:
        PROBE.arm(rows=lambda w: w is table and not busy(table),
                  count=lambda w: w is table and not busy(table) and table.total is not None and not counting(table))
        started = time.perf_counter()
        screen.search_now(word)
        if not busy(table):
            raise RuntimeError(f"search_now({word!r}) did not start a load")
        painted = await PROBE.wait(f"search {word!r}")  # both, so the count is not running below
        out["rows"].append((painted["rows"] - started) * 1000)
        out["count"].append((painted["count"] - started) * 1000)
        ms, _, _ = service_ms(app.db, word, limit, app.now(), with_total=False)
        out["page"].append(ms)
        ms, ids, total = service_ms(app.db, word, limit, app.now(), with_total=True)
        out["page_total"].append(ms)
        shown = [r.id for r in table.visible_rows()]
        if table.total != total or shown != ids[:len(shown)]:
            raise RuntimeError(f"search {word!r}: the table shows {shown[:3]}… of {table.total}, "
                               f"the service gives {ids[:3]}… of {total}")
    return out


async def typing(app: CrmApp, pilot, table: KeysetTable, words: list[str]) -> list[float]:
    """Per keystroke typed into the search box, ms from the key to the list painted with the results
    of the text typed so far (what a person waits for). Each word is typed from an empty box, a key
    at a time, the next key once the last one's results are painted."""
    screen = app.screen
    box = screen.query_one("#search", Input)
    box.focus()
    out: list[float] = []
    for word in words:
        with box.prevent(Input.Changed):
            box.value = ""
        PROBE.arm(rows=lambda w: w is table and not busy(table) and screen.query_text == "")
        screen.search_now("")
        if busy(table):
            await PROBE.wait("clear")
        PROBE.ready = {}
        typed = ""
        for char in word:
            typed += char
            wanted = typed.strip()
            key = char if char != " " else "space"
            if wanted == screen.query_text:  # a space at the end: typed, but no new search to wait for
                await pilot.press(key)
                continue
            PROBE.arm(rows=lambda w, wanted=wanted: w is table and not busy(table) and screen.query_text == wanted)
            started = time.perf_counter()
            await pilot.press(key)
            painted = await PROBE.wait(f"typed {typed!r}")
            out.append((painted["rows"] - started) * 1000)
    return out


async def bare_keys(presses: int) -> tuple[list[float], list[float]]:
    """(bound key to label repainted ms, pilot.press of an unbound key ms) on the bare app."""
    app = watch(BareApp())
    repaint, unbound = [], []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if "f12" in app.active_bindings:
            raise RuntimeError("f12 is bound on the bare app")
        for _ in range(presses):
            target = app.bumps + 1
            PROBE.arm(label=lambda w: isinstance(w, BareLabel) and app.bumps == target)
            started = time.perf_counter()
            await pilot.press("pagedown")
            painted = await PROBE.wait("bare key")
            repaint.append((painted["label"] - started) * 1000)
            started = time.perf_counter()
            await pilot.press("f12")
            unbound.append((time.perf_counter() - started) * 1000)
    return repaint, unbound


async def interactive(db: Database, actor, words: list[str], presses: int) -> dict:
    """Page down the whole list from the top, then search, in one app once it is idle."""
    app = watch(CrmApp(db, actor))
    PROBE.arm(rows=first_rows)
    async with app.run_test(size=SIZE) as pilot:
        await PROBE.wait("start")
        await app.workers.wait_for_complete()  # the Inbox count, the smart-list counts
        await pilot.pause()
        table = app.screen.query_one("#contact-list", KeysetTable)
        if app.focused is not table:
            raise RuntimeError(f"the contact list is not focused ({app.focused!r} is)")
        found = await page_downs(pilot, table, presses)
        found["paged"] = {"fetched": rows_fetched(table), "fetches": fetches(table), "held": table.held_rows,
                          "total": table.total, "row": table.cursor + 1, "page": table.page_size}
        found["search"] = await searches(app, table, words)
        found["typed"] = await typing(app, pilot, table, words)
        found["rows_fetched"], found["fetches"] = rows_fetched(table), fetches(table)
        return found


# --- running and reporting --------------------------------------------------------------------


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def spread(values: list[float]) -> str:
    return f"p50 {p50(values):.1f} / p95 {p95(values):.1f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(rows: list[tuple]) -> None:
    header = ("measure", "ours", "baseline", "ratio", "target", "")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def bench_actor(db: Database):
    """An existing active user (`bench` if there is one); on a database without users, `bench`."""
    with db.read() as session:
        people = users.list_users(session, include_inactive=False)
    login = next((u.login for u in people if u.login == "bench"),
                 next((u.login for u in people if u.role == "admin"), people[0].login if people else "bench"))
    with db.write() as session:
        return users.actor_for(session, login=login)


async def run(db: Database, args) -> list[tuple]:
    actor = bench_actor(db)
    words = fragments(db, args.searches, random.Random(SEED))
    start = await starts(db, actor, args.samples)
    found = await interactive(db, actor, words, args.presses)
    bare_repaint, bare_unbound = await bare_keys(args.presses)
    paged, bare = found["paged"], start["bare"]
    frame_ratio, rows_ratio = p50(start["frame"]) / p50(bare), p50(start["rows"]) / p50(bare)
    count_ratio = p50(start["count"]) / p50(bare)
    search, typed = found["search"], found["typed"]
    rows_search, page = search["rows"], search["page"]
    presses = f"{args.presses} presses"
    rows = [
        (f"start to first frame, list loading ({args.samples} runs)", spread(start["frame"]),
         f"bare App painted {spread(bare)}", f"{frame_ratio:.2f}x", "", ""),
        (f"start to first contact rows painted ({args.samples} runs)", spread(start["rows"]),
         f"bare App painted {spread(bare)}", f"{rows_ratio:.2f}x",
         f"p50 <= {TARGET_START_RATIO:g}x bare", verdict(rows_ratio <= TARGET_START_RATIO)),
        ("  and the count painted", spread(start["count"]), f"bare App painted {spread(bare)}",
         f"{count_ratio:.2f}x", "", ""),
        (f"search: keystroke to results painted ({len(typed)} keys)", spread(typed),
         f"bare App key to repaint {spread(bare_repaint)}", f"{p95(typed) / p95(bare_repaint):.2f}x",
         f"p95 < {TARGET_SEARCH_P95_MS:g} ms", verdict(p95(typed) < TARGET_SEARCH_P95_MS)),
        (f"  search_now() to rows painted ({len(words)} queries)", spread(rows_search),
         f"list_contacts page alone {spread(page)}", f"{p50(rows_search) / p50(page):.2f}x", "", ""),
        ("  and the count painted", spread(search["count"]),
         f"list_contacts page + total alone {spread(search['page_total'])}",
         f"{p50(search['count']) / p50(search['page_total']):.2f}x", "", ""),
        (f"page-down: key to new page painted ({presses})", spread(found["cursor"]),
         f"bare App key to repaint {spread(bare_repaint)}",
         f"{p95(found['cursor']) / p95(bare_repaint):.2f}x", f"p95 < {TARGET_PAGE_P95_MS:g} ms",
         verdict(p95(found["cursor"]) < TARGET_PAGE_P95_MS)),
        (f"  and the page ahead fetched ({presses})", spread(found["settled"]),
         f"bare App key to repaint {spread(bare_repaint)}",
         f"{p95(found['settled']) / p95(bare_repaint):.2f}x", "", ""),
        ("  page-down: pilot.press + settled", spread(found["roundtrip"]),
         f"bare App unbound key {spread(bare_unbound)}",
         f"{p95(found['roundtrip']) / p95(bare_unbound):.2f}x", "(pilot overhead)", ""),
    ]
    print_table(rows)
    print(f"\nbare App: Header, Label, Footer, started and pressed the same way. Ratios: start and search p50 "
          f"over p50, keystroke and page-down p95 over p95.\n{found['fetched']} of the {args.presses} page-downs fetched a "
          f"page ahead in the background; 'new page painted' needs every row on screen, 'the page ahead "
          f"fetched' also waits for that background fetch.")
    print(f"page-down reached row {paged['row']:,} of {paged['total']:,}: rows fetched {paged['fetched']:,} of "
          f"{paged['total']:,} in {paged['fetches']:,} fetches (pages of {paged['page']}), {paged['held']:,} held")
    print(f"after the {len(words)} searches too: rows fetched {found['rows_fetched']:,} in {found['fetches']:,} fetches")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    parser.add_argument("--samples", type=int, default=7, help="app starts of each kind (default 7)")
    parser.add_argument("--searches", type=int, default=40, help="search fragments (default 40)")
    parser.add_argument("--presses", type=int, default=200, help="page-down presses (default 200)")
    args = parser.parse_args(argv)
    path = sqlite_file(args.db)
    if path is not None and not path.is_file():
        print(f"no database at {path.resolve()}: build the 100k demo set first with\n"
              f"    .venv/bin/python bench/bench_foundation.py --out bench/out\n"
              f"(from the repository root), or pass --db URL", file=sys.stderr)
        return 2
    db = open_database(args.db)
    try:
        with db.read() as session:
            count = session.scalar(select(func.count()).select_from(Contact))
        if not count:
            print(f"{args.db} has no contacts: load the demo set with bench/bench_foundation.py", file=sys.stderr)
            return 2
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"crm-tui TUI benchmark: {count:,} contacts in {args.db}, headless {SIZE[0]}x{SIZE[1]}, Textual "
              f"{version('textual')}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load}", flush=True)
        watch_keyset_tables()
        watch_pages()
        asyncio.run(run(db, args))
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
