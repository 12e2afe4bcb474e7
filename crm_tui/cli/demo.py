"""`crm demo`: fill the database with realistic, deterministic demo data, with a progress bar."""

from __future__ import annotations

import dataclasses

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import utcnow


def demo(
    ctx: typer.Context,
    contacts: int = typer.Option(2000, "--contacts", help="How many contacts (the rest scales with it)."),
    seed: int = typer.Option(1, "--seed", help="The same seed gives the same data."),
    as_json: output.Json = False,
) -> None:
    """Load demo data: companies, contacts, deals, activities, tasks and a few users."""
    from crm_tui.services.demo import load_demo

    st = state(ctx)
    columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # on stderr, so stdout holds only the summary (or the JSON document)
    with Progress(*columns, console=output.console(stderr=True)) as progress:
        bars: dict[str, int] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in bars:
                bars[phase] = progress.add_task(phase, total=total)
            progress.update(bars[phase], completed=done, total=total)

        with st.write() as (session, actor):
            summary = load_demo(session, contacts=contacts, seed=seed, actor=actor, now=utcnow(),
                                progress=on_progress)
    counts = dataclasses.asdict(summary)
    if as_json:
        output.emit_json(counts)
        return
    output.table(["Loaded", "Count"], [(name, f"{count:,}") for name, count in counts.items()])
