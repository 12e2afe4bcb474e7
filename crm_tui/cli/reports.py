"""`crm report` (the reports as a table, CSV or JSON, for people, cron and email) and
`crm goal` (the sales goals the revenue report measures against)."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table as RichTable

from crm_tui import config
from crm_tui.cli import output, refs
from crm_tui.cli.context import CliState, state
from crm_tui.clock import get_zone, utcnow
from crm_tui.errors import InvalidInput
from crm_tui.services import goals, pipelines, reports

app = typer.Typer(name="report", no_args_is_help=True,
                  help="Reports: pipeline, forecast, win rate, revenue, activity, sources, stale deals, lost reasons, "
                       "revenue by product (and seller), quotes, discounts; the service desk: cases, case-times, "
                       "sla, csat, nps.")
goal_app = typer.Typer(name="goal", help="Sales goals per user and month or quarter.", no_args_is_help=True)

FORMATS = ("table", "csv", "json")
OWNER_HELP = ("me, everyone (the default), or a user's login (the service desk's reports: the case's agent; "
              "nps: the contact's owner).")
NUMERIC = {"int", "money", "percent", "days", "minutes", "score", "signed"}


def owner_id(st: CliState, session, ref: str | None) -> int | None:
    text = (ref or "everyone").strip().lower()
    if text in ("everyone", "all", "team"):
        return None
    if text == "me":
        return st.actor.user_id
    return refs.user_id(session, ref)


def team_zone(st: CliState):
    return get_zone(config.team_timezone(st.settings))


def _run(ctx: typer.Context, name: str, period: str | None, start: str | None, end: str | None, owner: str | None,
         pipeline: str | None, currency: str | None, grain: str | None, table_key: str | None, fmt: str,
         by: str | None = None, raw_formulas: bool = False, convert: bool = False) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(f"invalid format {fmt!r}: choose one of {', '.join(FORMATS)}")
    st = state(ctx)
    zone, now = team_zone(st), utcnow()
    with st.read() as (session, actor):
        span = reports.resolve_period(preset=period, start=start, end=end, now=now, zone=zone, order=actor.date_order)
        pipeline_id = pipelines.resolve_pipeline(session, pipeline).id if pipeline else None
        report = reports.run_report(session, name=name, period=span, zone=zone, currency=currency or st.settings.currency,
                                    owner_id=owner_id(st, session, owner), pipeline_id=pipeline_id, grain=grain, now=now, actor=actor,
                                    by=by, convert=convert)
    if fmt == "json":
        output.emit_json(reports.to_json(report))
    elif fmt == "csv":
        typer.echo(reports.to_csv(report, report.find_table(table_key), raw_formulas=raw_formulas), nl=False)
    else:
        print_report(report, report.find_table(table_key) if table_key else None)


def print_report(report: reports.Report, only: reports.Table | None = None) -> None:
    console = output.console()
    console.print(f"{report.heading} · {report.zone}", markup=False, highlight=False)
    for table in [only] if only else report.tables:
        grid = RichTable(title=table.title, title_justify="left", header_style="bold")
        for column in table.columns:
            grid.add_column(column.title, justify="right" if column.kind in NUMERIC else "left", overflow="fold")
        for row in table.rows:
            grid.add_row(*(reports.format_cell(c, row.values.get(c.key), report.currency) for c in table.columns))
        if table.total:
            grid.add_section()
            grid.add_row(*("" if c.key not in table.total else reports.format_cell(c, table.total[c.key],
                                                                                      report.currency)
                           for c in table.columns), style="bold")
        console.print(grid)
    for note in report.notes:
        output.say(note)


def _report_command(spec: reports.ReportSpec):
    def command(
        ctx: typer.Context,
        period: str | None = typer.Option(None, "--period", "-p",
                                          help=f"{', '.join(reports.PRESETS)} (default {reports.DEFAULT_PRESET})."),
        start: str | None = typer.Option(None, "--from", help="First day of a custom range, e.g. 2026-11-01."),
        end: str | None = typer.Option(None, "--to", help="Last day of the range (included); today if left out."),
        owner: str | None = typer.Option(None, "--owner", help=OWNER_HELP),
        pipeline: str | None = typer.Option(None, "--pipeline", help="Pipeline id or name (reports on deals)."),
        currency: str | None = typer.Option(None, "--currency", help="Sum this currency's deals; the configured one "
                                                                     "otherwise."),
        grain: str | None = typer.Option(None, "--grain", help="revenue: month or quarter; cases, sla, nps: day, "
                                                               "week, month or quarter (by the period's length "
                                                               "otherwise)."),
        table_key: str | None = typer.Option(None, "--table", help="Which of the report's tables (csv prints one)."),
        fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
        by: str | None = typer.Option(None, "--by", help="revenue, win-rate, activity: owner (the default) or team."),
        convert: bool = typer.Option(False, "--convert/--per-currency",
                                     help="Convert every deal into the currency at the rate on its close date "
                                          "(today's when open; see `crm fx`), listing deals with no rate; or sum "
                                          "that currency's deals only (the default). Product reports always "
                                          "convert."),
        raw_formulas: bool = typer.Option(False, "--raw-formulas",
                                          help="CSV: keep cells starting with = + - @ as they are (by default they "
                                               "get a leading ' so a spreadsheet shows them rather than runs them)."),
    ) -> None:
        _run(ctx, spec.name, period, start, end, owner, pipeline, currency, grain, table_key, fmt, by, raw_formulas,
             convert)

    command.__doc__ = f"{spec.title}: {spec.summary}."
    return command


for _spec in reports.REPORTS.values():
    app.command(_spec.name)(_report_command(_spec))


@app.command("list")
def list_(
    as_json: output.Json = False,
) -> None:
    """List the reports."""
    specs = list(reports.REPORTS.values())
    if as_json:
        output.emit_json({"items": [{"name": s.name, "title": s.title, "summary": s.summary,
                                     "pipeline": s.uses_pipeline, "period": s.uses_period} for s in specs]})
        return
    output.table(["Name", "Report", "What it shows"], [(s.name, s.title, s.summary) for s in specs])


# --- goals ----------------------------------------------------------------------------------


@goal_app.command("set")
def goal_set(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="User login, id, email or name."),
    amount: str = typer.Argument(..., help="Amount to win, e.g. 25,000."),
    period: str = typer.Option(..., "--period", "-p", help=goals.PERIOD_HINT.removeprefix("use ").capitalize() + "."),
    currency: str | None = typer.Option(None, "--currency", help="ISO code; the configured one otherwise."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
    as_json: output.Json = False,
) -> None:
    """Set a user's sales goal for a month or a quarter."""
    st = state(ctx)
    kind, start = goals.parse_goal_period(period, zone=team_zone(st))
    with st.write() as (session, actor):
        goal = goals.set_goal(session, user_id=refs.user_id(session, user), kind=kind, start=start, amount=amount,
                              currency=currency or st.settings.currency, actor=actor, version=version)
    if as_json:
        output.emit_json(goal)
    else:
        output.say(f"goal of {goal.user_login} for {goals.period_label(goal.period_kind, goal.period_start)}: "
                   f"{output.money(goal.amount_minor, goal.currency)}")


@goal_app.command("list")
def goal_list(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", help="Only this user's goals."),
    year: int | None = typer.Option(None, "--year", help="Only goals in this year."),
    as_json: output.Json = False,
) -> None:
    """List goals, by period."""
    st = state(ctx)
    with st.read() as (session, _actor):
        found = goals.list_goals(session, user_id=refs.user_id(session, user),
                                 start=date(year, 1, 1) if year else None, end=date(year + 1, 1, 1) if year else None)
    if as_json:
        output.emit_json({"items": found})
        return
    output.table(["ID", "User", "Period", "Goal"],
                 [(g.id, g.user_login, goals.period_label(g.period_kind, g.period_start),
                   output.money(g.amount_minor, g.currency)) for g in found])


@goal_app.command("remove")
def goal_remove(
    ctx: typer.Context,
    goal_id: int = typer.Argument(..., help="Goal id (see `crm goal list`)."),
) -> None:
    """Remove a goal."""
    with state(ctx).write() as (session, actor):
        goals.delete_goal(session, goal_id=goal_id, actor=actor)
    output.say(f"removed goal #{goal_id}")
