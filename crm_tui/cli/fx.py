"""`crm fx`: exchange rates (set, import, list, remove) that reports and board totals convert with."""

from __future__ import annotations

from pathlib import Path

import typer

from crm_tui import config
from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import get_zone
from crm_tui.errors import InvalidInput
from crm_tui.services import fx

app = typer.Typer(name="fx", no_args_is_help=True,
                  help="Exchange rates: set, import, list, remove. A rate applies from its date until the next one.")

DATE_HELP = "The first day the rate applies (2026-11-01, today, -3d); today if left out."
MAX_FILE = 50 * 1024 * 1024


def _zone(st):
    return get_zone(config.team_timezone(st.settings))


@app.command("set")
def set_(
    ctx: typer.Context,
    base: str = typer.Argument(..., help="The currency converted from, e.g. EUR."),
    quote: str = typer.Argument(..., help="The currency converted to, e.g. USD."),
    rate: str = typer.Argument(..., help="How many QUOTE one BASE is, e.g. 1.08 (at most 9 decimals)."),
    day: str = typer.Option("today", "--date", "-d", help=DATE_HELP),
    version: int | None = typer.Option(None, "--version", help="The version you last saw, to change a rate."),
    as_json: output.Json = False,
) -> None:
    """Set the rate of a pair from a date on: 1 BASE = RATE QUOTE."""
    st = state(ctx)
    with st.write() as (session, actor):
        found = fx.set_rate(session, actor=actor, base=base, quote=quote, rate=rate, valid_from=day, version=version,
                            zone=_zone(st))
    if as_json:
        output.emit_json(found)
    else:
        output.say(f"rate #{found.id}: 1 {found.base} = {found.rate} {found.quote} from {found.valid_from}")


def _read_file(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE:
            raise InvalidInput(f"{path} is larger than {MAX_FILE // 2**20} MB; split it")
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"no file {str(path)!r}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{str(path)!r} is a directory; give a CSV file") from None
    except PermissionError:
        raise InvalidInput(f"cannot read {str(path)!r}: permission denied") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{str(path)!r} is not UTF-8 text; save it as UTF-8 CSV") from None


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A CSV of base,quote,rate,date rows (a header row is recognised)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row and count; write nothing."),
    as_json: output.Json = False,
) -> None:
    """Import rates from a CSV: all rows or none (the first bad row is named)."""
    st = state(ctx)
    text = _read_file(path)
    with st.write() as (session, actor):
        result = fx.import_rates(session, actor=actor, text=text, dry_run=dry_run, zone=_zone(st))
    if as_json:
        output.emit_json(result)
        return
    head = "Dry run, nothing written" if dry_run else "Imported"
    output.say(f"{head}: {result.rows:,} rates ({result.created:,} new, {result.updated:,} changed, "
               f"{result.unchanged:,} unchanged)")


@app.command("list")
def list_(
    ctx: typer.Context,
    pair: str | None = typer.Option(None, "--pair", help="Only this pair, e.g. EUR/USD."),
    limit: int = typer.Option(50, "--limit", help="Rates per page (at most 500)."),
    after: str | None = typer.Option(None, "--after", help="The cursor a previous page printed."),
    as_json: output.Json = False,
) -> None:
    """List rates, the newest date first."""
    with state(ctx).read() as (session, _actor):
        page = fx.list_rates(session, pair=pair, after=after, limit=limit)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(["ID", "Pair", "From", "Rate", "Version"],
                 [(r.id, r.pair, r.valid_from.isoformat(), r.rate, r.version) for r in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("remove")
def remove(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="A rate's id (see `crm fx list`), or the pair's BASE currency."),
    quote: str | None = typer.Argument(None, help="With BASE: the pair's QUOTE currency (then give --date)."),
    day: str | None = typer.Option(None, "--date", "-d", help="With BASE QUOTE: the rate's first day."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
) -> None:
    """Remove a rate: `crm fx remove 12` or `crm fx remove EUR USD --date 2026-11-01`."""
    st = state(ctx)
    with st.write() as (session, actor):
        if quote is None:
            if not target.strip().isdigit():
                raise InvalidInput("give a rate's id, or BASE QUOTE --date DAY")
            rate_id = int(target.strip())
        else:
            if day is None:
                raise InvalidInput("give the rate's first day with --date, e.g. --date 2026-11-01")
            rate_id = fx.find_rate(session, base=target, quote=quote, valid_from=day, zone=_zone(st)).id
        gone = fx.remove_rate(session, actor=actor, rate_id=rate_id, version=version)
    output.say(f"removed rate #{gone.id}: {gone.pair} {gone.rate} from {gone.valid_from}")
