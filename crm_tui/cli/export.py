"""`crm export`: contacts, companies, deals, activities or tasks as CSV or JSON, contacts as
vCard, tasks and meetings as iCalendar; to stdout or a file, streamed a page at a time."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import typer

from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.clock import utcnow
from crm_tui.errors import InvalidInput
from crm_tui.services import export as exp
from crm_tui.services import files


@contextmanager
def _target(path: str | None):
    """stdout, or a file written beside its final name and renamed into place when complete."""
    if path in (None, "-"):
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            # the reader went away (`crm export contacts | head`): stop quietly, as cat does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    final = Path(path).expanduser()
    if final.is_dir():
        raise InvalidInput(f"{str(final)!r} is a directory; give a file name")
    # private (0600), through a temporary file no one can predict, renamed into place when complete
    with files.private_text_file(final, what="the export") as fh:
        yield fh

def export(
    ctx: typer.Context,
    entity: str = typer.Argument(..., help="contacts, companies, deals, activities, tasks or products."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or json; vcf for contacts; ics for tasks."),
    path: str | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    user: str | None = typer.Option(None, "--user", help="Tasks only: this assignee's tasks (and meetings)."),
    open_only: bool = typer.Option(False, "--open-only", help="Tasks only: open tasks and meetings to come."),
    raw_formulas: bool = typer.Option(False, "--raw-formulas",
                                      help="CSV: keep cells starting with = + - @ as they are (by default they "
                                           "get a leading ' so a spreadsheet shows them rather than runs them)."),
) -> None:
    """Export records. The CSV's columns are the import's field names: it imports back as is."""
    entity, fmt = exp.check(entity, fmt)
    if (user or open_only) and entity != "tasks":
        raise InvalidInput("--user and --open-only narrow tasks only")
    st = state(ctx)
    with st.read() as (session, actor):
        exp.snapshot(session)
        exp.require_export(session, actor)  # before the file is opened: a refusal leaves none behind
        flt = exp.ExportFilter(user_id=refs.user_id(session, user), open_only=open_only, now=utcnow())
        with _target(path) as out:
            if fmt == "csv":
                n = exp.write_csv(session, entity, out, actor=actor, flt=flt, raw_formulas=raw_formulas)
            elif fmt == "json":
                n = exp.write_json(session, entity, out, actor=actor, flt=flt)
            elif fmt == "vcf":
                n = exp.write_vcards(session, out, actor=actor)
            else:
                n = exp.write_ics(session, out, actor=actor, flt=flt, now=flt.now)
    if path not in (None, "-"):
        noun = "tasks and meetings" if fmt == "ics" else entity
        output.say(f"exported {n:,} {noun} to {path}")
