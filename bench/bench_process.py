"""Start-up as a person sees it: the whole `crm` process, launched in a pseudo-terminal, from the
moment it is started until the text awaited is on the terminal (the app) or it has exited (a
command), each beside a baseline launched the same way in the same run.

    .venv/bin/python bench/bench_process.py --db sqlite:///bench/out/demo.db [--db postgresql+psycopg://...]
                                            [--samples 7] [--only app,cli] [--src DIR]

The database must hold the demo data (`crm --db URL init && crm --db URL demo --contacts 100000`).
Per database it prints medians and their ratio:
- `crm` to the first contact row's name on screen; with "3" and "4" sent at once, to the Pipeline's
  first card and the Inbox's first row (or its empty-section line); with "7", to the Cases area's
  first case (its "All open" queue; skipped when there are no cases); vs a bare Textual app (Header,
  Label, Footer) to its label;
- `crm --version` and `crm --help` to exit, vs a bare typer app with one command;
- `crm contact list --limit 50 --json` and `crm deal list --json` to exit, vs a script that imports
  the project's models and runs the same page and count queries through SQLAlchemy (connecting
  included); `crm report pipeline --format json` beside the same script;
- the app's resident memory after visiting all five areas.
Samples alternate baseline and `crm`, so machine load falls on both; read the ratios. `--src DIR`
runs `crm` from another source tree (PYTHONPATH), to measure a "before" in the same way; `--also DIR`
starts the app from DIR too, in the same alternation, for an A/B of two versions (a patch's worth).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROWS, COLS = 36, 120
TIMEOUT_S = 60.0
CRM = str(Path(sys.executable).with_name("crm"))

BARE_TEXTUAL = """
from textual.app import App
from textual.widgets import Footer, Header, Label

class Bare(App):
    def compose(self):
        yield Header()
        yield Label("bare app ready")
        yield Footer()

Bare().run()
"""

BARE_TYPER = """
import typer

app = typer.Typer(add_completion=False)

def _version(value: bool):
    if value:
        typer.echo("bare 0.1")
        raise typer.Exit()

@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")):
    "A bare typer app with one command."

@app.command()
def hello(name: str = "world"):
    "Say hello."
    typer.echo(f"hello {name}")

app()
"""

# the models and the same page queries the CLI runs, through SQLAlchemy; connecting is part of it
BARE_QUERY = """
import json, sys
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, aliased
from crm_tui.models import Company, Contact, Deal, User

url, what, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = create_engine(url)
with Session(engine) as session:
    if what == "contacts":
        company, owner = aliased(Company), aliased(User)
        stmt = (select(Contact.id, Contact.full_name, company.name, Contact.email, Contact.phone, Contact.lifecycle,
                       owner.login, Contact.last_contacted_at, Contact.created_at)
                .outerjoin(company, company.id == Contact.company_id).outerjoin(owner, owner.id == Contact.owner_id)
                .where(Contact.archived.is_(False)).order_by(Contact.sort_name, Contact.id).limit(limit + 1))
        total = session.scalar(select(func.count()).select_from(Contact).where(Contact.archived.is_(False)))
    else:
        stmt = (select(Deal.id, Deal.title, Deal.amount_minor, Deal.currency, Deal.status, Deal.stage_id)
                .where(Deal.archived.is_(False)).order_by(Deal.title_key, Deal.id).limit(limit + 1))
        total = session.scalar(select(func.count()).select_from(Deal).where(Deal.archived.is_(False)))
    rows = [dict(r._mapping) for r in session.execute(stmt)][:limit]
print(json.dumps({"items": rows, "total": total}, default=str, indent=2))
"""


@dataclass
class Launch:
    """One way to start a process: its argv, the text that ends the clock (None: its exit), the keys
    sent at once."""

    argv: list[str]
    until: str | None = None
    keys: bytes = b""
    env: dict[str, str] = field(default_factory=dict)


def pty_run(launch: Launch, *, then=None) -> float:
    """Milliseconds from the start of `launch` in a fresh 120x36 pty to its text shown (or its exit).
    `then(proc, master)`, when given, runs once the text is there (the memory probe)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLS), "LINES": str(ROWS), **launch.env}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed crm runs from compiled files, as the libraries do
    started = time.perf_counter()
    proc = subprocess.Popen(launch.argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            close_fds=True)
    os.close(slave)
    if launch.keys:
        os.write(master, launch.keys)
    seen = bytearray()
    until = launch.until.encode() if launch.until else None
    elapsed = None
    try:
        while time.perf_counter() - started < TIMEOUT_S:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
                if until is not None and until in seen:
                    elapsed = (time.perf_counter() - started) * 1000
                    break
            elif until is None and proc.poll() is not None:
                break
        if until is None:
            proc.wait(timeout=TIMEOUT_S)
            elapsed = (time.perf_counter() - started) * 1000
            if proc.returncode != 0:
                raise RuntimeError(f"{launch.argv} exited {proc.returncode}: {bytes(seen[-400:])!r}")
        if elapsed is None:
            tail = bytes(seen[-600:]).decode(errors="replace")
            raise RuntimeError(f"{launch.argv} never showed {launch.until!r}; last output: {tail!r}")
        if then is not None:
            then(proc, master)
        return elapsed
    finally:
        _stop(proc, master)


def _stop(proc: subprocess.Popen, master: int) -> None:
    """Quit the app (ctrl+q), draining its output so it is never blocked writing; kill it if slow."""
    if proc.poll() is None:
        try:
            os.write(master, b"\x11")
        except OSError:
            pass
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    os.close(master)


def rss_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":")
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def markers(url: str, env: dict[str, str]) -> dict[str, str]:
    """The text each area's first row shows, read through the services as the acting user."""
    from crm_tui import config
    from crm_tui.clock import get_zone, utcnow
    from crm_tui.db import open_database
    from crm_tui.services import board, contacts, pipelines, tasks, users

    os.environ.update(env)
    db = open_database(url, create=False)
    try:
        with db.write() as session:
            request = config.login_request(None, config.load_settings())
            actor = users.sign_in(session, os_login=request.os_login, login=request.login, source=request.source)
        with db.read() as session:
            now = utcnow()
            zone = get_zone(actor.timezone or config.team_timezone(config.load_settings()))
            first_contact = contacts.list_contacts(session, limit=1).items[0].full_name
            pipeline = pipelines.default_pipeline(session)
            stages = [s for s in pipeline.stages if s.kind == "open"]
            pages = board.first_pages(session, stages=stages, now=now, zone=zone, limit=1)
            card = next((page.items[0] for page in pages if page.items), None)
            # the Inbox opens on the first of these sections that holds a task
            task = next((page.items[0] for section in ("overdue", "today", "upcoming")
                         if (page := tasks.inbox_page(session, section=section, assignee_id=actor.user_id, zone=zone,
                                                      now=now, limit=1)).items), None)
    finally:
        db.dispose()
    found = {"contacts": first_contact}
    if card is not None:
        found["pipeline"] = card.title[:12]
    found["inbox"] = task.title[:12] if task is not None else "Nothing"
    found.update(_first_case(url, actor))
    return found


def _first_case(url: str, actor) -> dict[str, str]:
    """The Cases area opens on its "All open" queue: the first case's subject, as the list shows it
    (none when the database holds no cases)."""
    from crm_tui.db import open_database
    from crm_tui.services import cases

    db = open_database(url, create=False)
    try:
        with db.read() as session:
            page = cases.list_cases(session, actor=actor, queue="open", limit=1)
    finally:
        db.dispose()
    return {"cases": page.items[0].subject[:12]} if page.items else {}


def median(values: list[float]) -> float:
    return statistics.median(values)


def compare(label: str, ours: Launch, base: Launch, samples: int, base_label: str, target: float | None,
            other: dict[str, str] | None = None) -> None:
    """`ours` beside `base`, alternating; with `other` (extra environment: another source tree), the
    same launch from there too, in the same alternation (an A/B of two versions of crm)."""
    also = Launch(ours.argv, ours.until, ours.keys, {**ours.env, **other}) if other else None
    pty_run(base), pty_run(ours)  # warm the page cache once, untimed
    mine, theirs, others = [], [], []
    for _ in range(samples):
        theirs.append(pty_run(base))
        mine.append(pty_run(ours))
        if also is not None:
            others.append(pty_run(also))
    ratio = median(mine) / median(theirs)
    verdict = "" if target is None else ("  PASS" if ratio <= target else f"  MISS (target {target}x)")
    print(f"  {label:<44} {median(mine):7.0f} ms   {base_label:<22} {median(theirs):7.0f} ms   "
          f"{ratio:5.2f}x{verdict}", flush=True)
    if others:
        print(f"  {'  the same from ' + other['PYTHONPATH']:<44} {median(others):7.0f} ms   "
              f"{median(others) / median(theirs):5.2f}x of the baseline; this checkout / that = "
              f"{median(mine) / median(others):5.2f}", flush=True)


def memory(url: str, env: dict[str, str], first: str) -> None:
    """Visit all five areas (1..5), settle, and read the app's resident memory."""
    figures = {}

    def visit(proc, master):
        for key in b"23451":
            os.write(master, bytes([key]))
            _drain(master, 1.5)
        _drain(master, 3.0)
        figures["rss"], figures["peak"] = rss_mib(proc.pid)

    pty_run(Launch([CRM, "--db", url], until=first, env=env), then=visit)
    print(f"  {'memory after visiting all five areas':<44} {figures['rss']:7.1f} MiB RSS (peak {figures['peak']:.1f} MiB); "
          f"target < 150 MiB", flush=True)


def _drain(master: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            try:
                os.read(master, 65536)
            except OSError:
                return


def bench(url: str, args, scripts: Path, env: dict[str, str]) -> None:
    kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"\n{kind}: {url.split('@')[-1]}  ({args.samples} runs each, median; load {os.getloadavg()[0]:.1f})",
          flush=True)
    py = sys.executable
    found = markers(url, env)
    bare_app = Launch([py, str(scripts / "bare_textual.py")], until="bare app ready")
    crm = [CRM, "--db", url]
    other = {"PYTHONPATH": str(Path(args.also).resolve())} if args.also else None
    areas = {"contacts", "pipeline", "inbox", "cases"} if "app" in args.only else args.only
    if "contacts" in areas:
        compare(f"crm to first contact row ({found['contacts']!r})", Launch(crm, until=found["contacts"], env=env),
                bare_app, args.samples, "bare Textual app", 1.8, other)
    if "pipeline" in areas and "pipeline" in found:
        compare(f"crm, 3: Pipeline's first card ({found['pipeline']!r})",
                Launch(crm, until=found["pipeline"], keys=b"3", env=env), bare_app, args.samples,
                "bare Textual app", 1.8, other)
    if "inbox" in areas:
        compare(f"crm, 4: Inbox's first row ({found['inbox']!r})", Launch(crm, until=found["inbox"], keys=b"4", env=env),
                bare_app, args.samples, "bare Textual app", 1.8, other)
    if "cases" in areas and "cases" in found:
        compare(f"crm, 7: Cases' first row ({found['cases']!r})", Launch(crm, until=found["cases"], keys=b"7", env=env),
                bare_app, args.samples, "bare Textual app", 1.8, other)
    if "cli" in args.only:
        bare_typer = [py, str(scripts / "bare_typer.py")]
        for flag in ("--version", "--help"):
            compare(f"crm {flag}", Launch([*crm, flag], env=env), Launch([*bare_typer, flag]), args.samples,
                    "bare typer app", 1.3)
        query = [py, str(scripts / "bare_query.py"), url]
        compare("crm contact list --limit 50 --json", Launch([*crm, "contact", "list", "--limit", "50", "--json"], env=env),
                Launch([*query, "contacts", "50"], env=env), args.samples, "models + page query", 1.3)
        compare("crm deal list --json", Launch([*crm, "deal", "list", "--json"], env=env),
                Launch([*query, "deals", "50"], env=env), args.samples, "models + page query", None)
        compare("crm report pipeline --format json", Launch([*crm, "report", "pipeline", "--format", "json"], env=env),
                Launch([*query, "deals", "50"], env=env), args.samples, "models + page query", None)
    if "memory" in args.only:
        memory(url, env, found["contacts"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", required=True, help="a demo database URL (repeat for several)")
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--only", default="app,cli,memory",
                        help="app (or one of its areas: contacts, pipeline, inbox, cases), cli and/or memory")
    parser.add_argument("--src", help="run crm from this source tree (a checkout's root), e.g. for a before")
    parser.add_argument("--also", help="the app's starts also from this source tree, in the same alternation (A/B)")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench_process_") as tmp:
        scripts = Path(tmp)
        for name, text in (("bare_textual", BARE_TEXTUAL), ("bare_typer", BARE_TYPER), ("bare_query", BARE_QUERY)):
            (scripts / f"{name}.py").write_text(textwrap.dedent(text))
        (scripts / "config").mkdir()
        # no config file: the defaults (the app runs its rules and live refresh as it would)
        env = {"CRM_CONFIG_DIR": str(scripts / "config"), "CRM_DATA_DIR": str(scripts / "data")}
        if args.src:
            env["PYTHONPATH"] = str(Path(args.src).resolve())
        # compiled once here, as `pip install` does: a checkout run with PYTHONDONTWRITEBYTECODE would
        # compile every module of crm_tui at every start, and no person's installed crm does that
        source = Path(args.src).resolve() / "crm_tui" if args.src else Path(__file__).resolve().parents[1] / "crm_tui"
        for tree in (source, *([Path(args.also).resolve() / "crm_tui"] if args.also else [])):
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        print(f"bench_process: crm from {source}; {COLS}x{ROWS} pty; python {sys.version.split()[0]}")
        for url in args.db:
            bench(url, args, scripts, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
