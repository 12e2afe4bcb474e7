"""`crm import KIND FILE`: bring contacts, companies, deals, activities, tasks or users in from CSV,
XLSX, JSON (as `crm export --format json` writes it) or vCard. Shows the column mapping (and the values
--value/--values rewrite) first, then a progress bar, then what was created, updated,
skipped and refused (line, column, problem). A row the person's role may not write is refused,
as the commands would refuse it (see services.importing.perms)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import utcnow

SHOWN_PROBLEMS = 20
SHOWN_DUPLICATES = 10


class RowsPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


def import_(
    ctx: typer.Context,
    entity: str = typer.Argument(..., metavar="KIND",
                                help="contacts, companies, deals, activities, tasks, users or products."),
    path: Path = typer.Argument(..., metavar="FILE", help="A .csv (comma, semicolon or tab), .xlsx, .json or .vcf file."),
    mapping: list[str] = typer.Option([], "--map", metavar="COLUMN=FIELD",
                                      help="Map a column to a field (custom.NAME for a custom field; "
                                           "nothing after = skips it). Repeat for more."),
    constants: list[str] = typer.Option([], "--set", metavar="FIELD=VALUE",
                                        help="Fill a field with a constant where the file leaves it empty."),
    custom: bool = typer.Option(False, "--custom", help="Keep columns that match no field as custom fields."),
    values: list[str] = typer.Option([], "--value", metavar="FIELD:FROM=TO",
                                     help="Rewrite a value before it is read, as in \"stage:Closed Won=Won\" (the "
                                          "whole cell, trimmed, any case). Repeat for more."),
    values_file: Path | None = typer.Option(None, "--values", metavar="FILE",
                                            help="A CSV of rewrites with the columns field, from, to."),
    on_duplicate: str = typer.Option("skip", "--on-duplicate", metavar="skip|update|create",
                                     help="What to do with a row that matches a record (or an earlier row)."),
    dayfirst: bool | None = typer.Option(None, "--dayfirst/--monthfirst",
                                         help="How to read 03/04/2026 in this file; without it your date_order "
                                              "decides, and with neither such dates are refused."),
    country: str | None = typer.Option(None, "--country", metavar="CC",
                                       help="Country of phone numbers written without +code (US, FR, ...)."),
    create_users: bool = typer.Option(False, "--create-users",
                                      help="Add owners the CRM does not know as users (admins only)."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid",
                                      help="Import the valid rows even if some are invalid, or refused because your "
                                           "role may not make their change (default: all or nothing)."),
    currency: str = typer.Option("", "--currency", help="Currency of deal amounts that name none (default: config)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write nothing; report what an import would do."),
    report_csv: bool = typer.Option(False, "--report", help="Also write the problems beside the file (leads.csv: leads.import-report.csv)."),
    as_json: output.Json = False,
) -> None:
    """Import a CSV, XLSX, JSON or vCard file, without duplicates and without losing a row."""
    from crm_tui.services.importing import (
        ImportFailed, ImportOptions, check_allowed, preview_import, run_import, write_report_csv,
    )

    st = state(ctx)
    options = ImportOptions(entity=entity, mapping=tuple(mapping), constants=tuple(constants), custom=custom,
                            on_duplicate=on_duplicate.strip().lower(), dayfirst=dayfirst, country=country,
                            create_users=create_users, skip_invalid=skip_invalid,
                            currency=currency or st.settings.currency or "USD", values=tuple(values),
                            values_file=str(values_file) if values_file else None)
    with st.read() as (session, actor):  # a person the import is refused to learns nothing of the file
        check_allowed(session, options=options, actor=actor)
    preview = preview_import(path=path, options=options)
    if not as_json:
        _print_mapping(preview)
    failed = None
    with _progress(quiet=as_json) as on_progress:
        try:
            if dry_run:
                with st.read() as (session, actor):
                    report = run_import(session, path=path, options=options, actor=actor, now=utcnow(),
                                        dry_run=True, progress=on_progress)
            else:
                with st.write() as (session, actor):
                    report = run_import(session, path=path, options=options, actor=actor, now=utcnow(),
                                        progress=on_progress)
        except ImportFailed as exc:
            failed, report = exc, exc.report
    written = write_report_csv(report, path) if report_csv and (report.problems or report.duplicates) else None
    if as_json:
        output.emit_json({**output.to_jsonable(report), "report_csv": str(written) if written else None,
                          "mapping": [{"column": c.column, "field": c.field, "how": c.how}
                                      for c in report.mapping.columns],
                          "values": [{"field": f, "from": old, "to": new} for f, old, new in report.mapping.values]})
    else:
        _print_report(report, written)
    if failed is not None:
        raise failed


def _progress(*, quiet: bool):
    """A rich progress bar on stderr (stdout keeps the report); the callback for run_import."""
    from contextlib import contextmanager

    @contextmanager
    def bar():
        if quiet:
            yield None
            return
        columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), RowsPerSecond(), TimeElapsedColumn())
        console = output.console(stderr=True)
        # a bar is for a person at a terminal; a script's stderr keeps only the error line
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            task = progress.add_task("rows", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            yield on_progress

    return bar()


def _print_mapping(preview) -> None:
    output.say(f"Reading {preview.source}; about {preview.estimated_rows:,} rows.")
    rows = [(c.column, c.field or "(skipped)", c.how) for c in preview.mapping.columns]
    rows += [(f"--set {f}", f"{f} = {value}", "constant") for f, value in preview.mapping.constants]
    rows += [(f"{f}: {old}", f"{f}: {new or '(empty)'}", "rewrite") for f, old, new in preview.mapping.values]
    if rows:
        output.table(["Column", "Field", "How"], rows, title="Mapping")


def _print_report(report, written) -> None:
    mode = "Dry run: nothing was written" if report.dry_run else (
        "Imported" if report.committed else "Nothing was imported")
    output.say(f"{mode}. {report.entity} from {report.file}: {report.summary(would=not report.committed)}.")
    if report.imported_before:
        output.say(f"Note: this same file was imported before ({report.imported_before}).")
    if report.problems:
        shown = report.problems[:SHOWN_PROBLEMS]
        title = f"Invalid rows ({report.invalid})" if not report.refused else (
            f"Refused rows ({report.refused})" if not report.invalid
            else f"Invalid ({report.invalid}) and refused ({report.refused}) rows")
        output.table(["Line", "Column", "Value", "Problem"], [(p.line, p.column, p.value, p.message) for p in shown],
                     title=title)
        if len(report.problems) > len(shown):
            output.say(f"... and {len(report.problems) - len(shown):,} more problems (--report writes them all).")
    if report.duplicates:
        shown = report.duplicates[:SHOWN_DUPLICATES]
        output.table(["Line", "Matches", "Why"], [(s.line, f"#{s.record_id}", s.reason) for s in shown],
                     title=f"Skipped as duplicates ({report.skipped})")
        if len(report.duplicates) > len(shown):
            output.say(f"... and {len(report.duplicates) - len(shown):,} more (--report writes them all).")
    if written:
        output.say(f"Report written to {written}")
