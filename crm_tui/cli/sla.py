"""`crm sla`: SLA policies, business hours, holidays (ICS import), the scan of cases due or breached."""

from __future__ import annotations

from pathlib import Path

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.services import sla
from crm_tui.services.business_hours import DAY_NAMES, DAYS, duration_text, hours_text, parse_duration
from crm_tui.services.dates import parse_when

app = typer.Typer(name="sla", help="SLAs: policies, business hours, holidays (ICS import), the scan of cases due.",
                  no_args_is_help=True)
policy_app = typer.Typer(help="SLA policies: targets per priority in business hours.", no_args_is_help=True)
hours_app = typer.Typer(help="Business hours: days, hours and time zone.", no_args_is_help=True)
holiday_app = typer.Typer(help="Holidays of a business calendar: add, list, remove, import an .ics file.",
                          no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(hours_app, name="hours")
app.add_typer(holiday_app, name="holiday")

TARGET_HELP = ("A priority's targets as PRIORITY=FIRST/RESOLVE in business time: urgent=30m/4h, normal=4h/3d, "
               "low=/5d (repeat per priority). 1d is 8 business hours.")
CALENDAR_HELP = "The business calendar (name or #id); the default one if left out."
VERSION_HELP = "The version you last saw; refuse the change if it changed since."


def _priorities_json(targets: dict) -> dict:
    return {p: {k: m for k, m in t.items()} for p, t in targets.items()}


def _policy_json(p: sla.PolicyRead) -> dict:
    return {"id": p.id, "name": p.name, "calendar_id": p.calendar_id, "calendar": p.calendar_name,
            "targets": _priorities_json(p.targets), "default": p.is_default, "archived": p.archived,
            "version": p.version}


def _target(minutes: int | None) -> str:
    return duration_text(minutes) if minutes else "-"


def _policy_done(p: sla.PolicyRead, what: str, as_json: bool) -> None:
    if as_json:
        output.emit_json(_policy_json(p))
    else:
        default = ", the default" if p.is_default else ""
        output.say(f"{what} SLA policy #{p.id} {p.name}: {sla.targets_text(p.targets)}{default} (version {p.version})")


# --- policies --------------------------------------------------------------------------------


@policy_app.command("add")
def policy_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The policy's name."),
    target: list[str] = typer.Option([], "--target", "-t", help=TARGET_HELP),
    calendar: str | None = typer.Option(None, "--calendar", help=CALENDAR_HELP),
    default: bool = typer.Option(False, "--default", help="Make it the policy new cases get (the first one is)."),
    as_json: output.Json = False,
) -> None:
    """Add a policy: crm sla policy add Standard -t urgent=30m/4h -t high=1h/1d -t normal=4h/3d -t low=1d/5d."""
    targets = sla.parse_targets(target)
    with state(ctx).write() as (session, actor):
        found = sla.add_policy(session, name=name, targets=targets, calendar_ref=calendar, default=default,
                               actor=actor)
    _policy_done(found, "added", as_json)


@policy_app.command("list")
def policy_list(
    ctx: typer.Context,
    archived: bool = typer.Option(False, "--archived", help="List archived policies instead."),
    as_json: output.Json = False,
) -> None:
    """List the policies and their first-response/resolution targets per priority."""
    with state(ctx).read() as (session, actor):
        rows = sla.list_policies(session, actor=actor, archived=archived)
    if as_json:
        output.emit_json({"items": [_policy_json(p) for p in rows]})
        return
    if not rows:
        output.say("no SLA policies yet: add one with crm sla policy add NAME -t urgent=30m/4h ...")
        return
    output.table(["ID", "Name", "Default", "Calendar", "Urgent", "High", "Normal", "Low"],
                 [(p.id, p.name, "yes" if p.is_default else "", p.calendar_name or "",
                   *(f"{_target(p.targets[x]['first'])} / {_target(p.targets[x]['resolve'])}"
                     for x in ("urgent", "high", "normal", "low"))) for p in rows])


@policy_app.command("show")
def policy_show(ctx: typer.Context, ref: str = typer.Argument(..., help="The policy's name or #id."),
                as_json: output.Json = False) -> None:
    """Show a policy: its calendar and its targets per priority."""
    with state(ctx).read() as (session, actor):
        p = sla.get_policy(session, ref, actor=actor)
    if as_json:
        output.emit_json(_policy_json(p))
        return
    output.details([("Name", p.name), ("Default", "yes" if p.is_default else "no"),
                    ("Archived", "yes" if p.archived else None), ("Calendar", p.calendar_name or "none"),
                    *((f"{x.capitalize()}", f"first response {_target(p.targets[x]['first'])}, "
                       f"resolution {_target(p.targets[x]['resolve'])}") for x in ("urgent", "high", "normal", "low")),
                    ("Version", p.version)], title=f"SLA policy #{p.id}")


@policy_app.command("edit")
def policy_edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The policy's name or #id."),
    name: str | None = typer.Option(None, "--name", help="A new name."),
    target: list[str] = typer.Option([], "--target", "-t", help="Change these priorities' targets: " + TARGET_HELP),
    calendar: str | None = typer.Option(None, "--calendar", help="Move it to this business calendar."),
    archive: bool | None = typer.Option(None, "--archive/--unarchive", help="Archive it (or bring it back)."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Change a policy; only what is given changes. Open cases keep their due times until stamped again."""
    targets = sla.parse_targets(target)
    with state(ctx).write() as (session, actor):
        row = sla.find_policy(session, ref)
        found = sla.edit_policy(session, policy_id=row.id, name=name, targets=targets, calendar_ref=calendar,
                                archived=archive, version=version, actor=actor)
    _policy_done(found, "updated", as_json)


@policy_app.command("default")
def policy_default(ctx: typer.Context, ref: str = typer.Argument(..., help="The policy's name or #id."),
                   version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
                   as_json: output.Json = False) -> None:
    """Make a policy the one new cases get."""
    with state(ctx).write() as (session, actor):
        row = sla.find_policy(session, ref)
        found = sla.set_default_policy(session, policy_id=row.id, version=version, actor=actor)
    _policy_done(found, "default:", as_json)


# --- hours ------------------------------------------------------------------------------------


def _calendar_json(c: sla.CalendarRead) -> dict:
    return {"id": c.id, "name": c.name, "timezone": c.timezone, "hours": c.hours, "holidays": c.holidays,
            "version": c.version}


def _show_calendar(c: sla.CalendarRead, as_json: bool) -> None:
    if as_json:
        output.emit_json(_calendar_json(c))
        return
    shown = hours_text(c.hours)
    output.details([("Name", c.name), ("Time zone", c.timezone),
                    *((DAY_NAMES[d], shown[d]) for d in DAYS), ("Holidays", c.holidays), ("Version", c.version)],
                   title=f"Business calendar #{c.id}")


@hours_app.command("show")
def hours_show(ctx: typer.Context, calendar: str | None = typer.Option(None, "--calendar", help=CALENDAR_HELP),
               all_: bool = typer.Option(False, "--all", help="List every calendar."),
               as_json: output.Json = False) -> None:
    """Show the business hours (of the default calendar, or --calendar, or --all)."""
    with state(ctx).read() as (session, actor):
        rows = sla.list_calendars(session, actor=actor) if all_ else [sla.get_calendar(session, calendar,
                                                                                         actor=actor)]
    if all_:
        if as_json:
            output.emit_json({"items": [_calendar_json(c) for c in rows]})
            return
        output.table(["ID", "Name", "Zone", *(d.capitalize() for d in DAYS), "Holidays"],
                     [(c.id, c.name, c.timezone, *hours_text(c.hours).values(), c.holidays) for c in rows])
        return
    _show_calendar(rows[0], as_json)


@hours_app.command("set")
def hours_set(
    ctx: typer.Context,
    days: str = typer.Option(..., "--days", help="The days: mon-fri, sat,sun, all."),
    start: list[str] = typer.Option([], "--from", help="Opening time, e.g. 9:00 (repeat with --to for a break)."),
    end: list[str] = typer.Option([], "--to", help="Closing time, e.g. 17:00 (24:00 for midnight; before --from: "
                                                   "an overnight shift)."),
    closed: bool = typer.Option(False, "--closed", help="Closed on these days."),
    zone: str | None = typer.Option(None, "--zone", help="The calendar's time zone, e.g. Europe/Berlin."),
    calendar: str | None = typer.Option(None, "--calendar", help=CALENDAR_HELP),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Set the hours of some days (the other days stay): crm sla hours set --days mon-fri --from 9:00 --to 17:00
    --zone Europe/Berlin. The first time, the calendar "Business hours" is made."""
    if closed and (start or end):
        raise InvalidInput("--closed takes no --from or --to")
    if len(start) != len(end) or (not closed and not start):
        raise InvalidInput("give each --from with its --to (or --closed)")
    with state(ctx).write() as (session, actor):
        found = sla.set_hours(session, days=days, intervals=list(zip(start, end)), timezone=zone,
                              calendar_ref=calendar, version=version, actor=actor)
    if as_json:
        output.emit_json(_calendar_json(found))
        return
    output.say(f"business hours of {found.name} ({found.timezone}): "
               + "; ".join(f"{d} {h}" for d, h in hours_text(found.hours).items()) + f" (version {found.version})")


# --- holidays ---------------------------------------------------------------------------------


@holiday_app.command("add")
def holiday_add(ctx: typer.Context, day: str = typer.Argument(..., help="The date: 2026-12-25, 'dec 25'."),
                name: str = typer.Argument("", help="What it is, e.g. Christmas Day."),
                calendar: str | None = typer.Option(None, "--calendar", help=CALENDAR_HELP),
                as_json: output.Json = False) -> None:
    """Add a holiday: no business hours that day."""
    with state(ctx).write() as (session, actor):
        h = sla.add_holiday(session, day=day, name=name, calendar_ref=calendar, actor=actor)
    if as_json:
        output.emit_json({"day": h.day, "name": h.name})
    else:
        output.say(f"added holiday {h.day.isoformat()}" + (f" {h.name}" if h.name else ""))


@holiday_app.command("remove")
def holiday_remove(ctx: typer.Context, day: str = typer.Argument(..., help="The holiday's date."),
                   calendar: str | None = typer.Option(None, "--calendar", help=CALENDAR_HELP)) -> None:
    """Remove a holiday."""
    with state(ctx).write() as (session, actor):
        h = sla.remove_holiday(session, day=day, calendar_ref=calendar, actor=actor)
    output.say(f"removed holiday {h.day.isoformat()}" + (f" {h.name}" if h.name else ""))


@holiday_app.command("list")
def holiday_list(ctx: typer.Context, year: int | None = typer.Option(None, "--year", help="Only this year."),
                 calendar: str | None = typer.Option(None, "--calendar", help=CALENDAR_HELP),
                 as_json: output.Json = False) -> None:
    """List the holidays (of a year)."""
    with state(ctx).read() as (session, actor):
        rows = sla.list_holidays(session, year=year, calendar_ref=calendar, actor=actor)
    if as_json:
        output.emit_json({"items": [{"day": h.day, "name": h.name} for h in rows]})
        return
    if not rows:
        output.say("no holidays" + (f" in {year}" if year else "") + ": add one with crm sla holiday add DATE NAME "
                   "or import an .ics file")
        return
    output.table(["Date", "Day", "Name"], [(h.day.isoformat(), f"{h.day:%a}", h.name) for h in rows])


@holiday_app.command("import")
def holiday_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="An iCalendar (.ics) file: its all-day events become holidays."),
    years: str | None = typer.Option(None, "--years", help="Expand yearly events over these years: 2026-2028 "
                                                           "(default: this year and the next two)."),
    calendar: str | None = typer.Option(None, "--calendar", help=CALENDAR_HELP),
    as_json: output.Json = False,
) -> None:
    """Import holidays from an .ics file (dates the calendar has already are kept)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}") from None
    span = _years(years)
    with state(ctx).write() as (session, actor):
        result = sla.import_holidays(session, data=data, years=span, calendar_ref=calendar, actor=actor)
    if as_json:
        output.emit_json({"added": [{"day": h.day, "name": h.name} for h in result.added],
                          "already": result.already, "skipped": result.skipped})
        return
    output.say(f"imported {len(result.added)} holiday{'s' if len(result.added) != 1 else ''}"
               + (f", {result.already} there already" if result.already else "")
               + (f", {len(result.skipped)} event{'s' if len(result.skipped) != 1 else ''} skipped" if result.skipped
                  else ""))
    for line in result.skipped[:20]:
        output.say(f"  skipped {line}")


def _years(text: str | None) -> list[int] | None:
    if not text:
        return None
    first, _, last = text.strip().partition("-")
    try:
        a, b = int(first), int(last or first)
    except ValueError:
        raise InvalidInput(f"--years {text!r}: write a year or a range, e.g. 2026-2028") from None
    if not 1900 <= a <= b <= 2200 or b - a > 50:
        raise InvalidInput(f"--years {text!r}: from 1900 to 2200, at most 50 years")
    return list(range(a, b + 1))


# --- the scan ---------------------------------------------------------------------------------


@app.command("scan")
def scan(
    ctx: typer.Context,
    within: str = typer.Option("0m", "--within", help="Also targets due this soon: 30m, 2h, 1d (24 hours)."),
    at: str | None = typer.Option(None, "--at", help="Scan as of this time (default now): 'tomorrow 9am', +2h."),
    limit: output.Limit = 200,
    as_json: output.Json = False,
) -> None:
    """Cases whose next SLA target is breached, or due within --within, soonest first."""
    minutes = 0 if within.strip() in ("0", "0m", "") else parse_duration(within, day_minutes=24 * 60)
    st = state(ctx)
    with st.read() as (session, actor):
        now = resolve_now(None) if at is None else parse_when(at, zone=st.zone)
        rows = sla.scan(session, now=now, within_minutes=minutes, limit=limit, actor=actor)
    if as_json:
        output.emit_json({"at": now, "within_minutes": minutes,
                          "items": [{"case_id": r.case_id, "subject": r.subject, "status": r.status,
                                     "priority": r.priority, "assignee_id": r.assignee_id, "team": r.team,
                                     "target": r.target, "due_at": r.due_at, "breached": r.breached} for r in rows]})
        return
    if not rows:
        output.say("nothing due" + (f" within {duration_text(minutes, days=False)}" if minutes else "")
                   + ": no case is breaching its SLA")
        return
    output.table(["Case", "Subject", "Priority", "Team", "Target", "Due", "State"],
                 [(f"#{r.case_id}", r.subject, r.priority, r.team or "", r.target,
                   output.local_time(r.due_at, st.zone), "BREACHED" if r.breached else "due soon") for r in rows])
