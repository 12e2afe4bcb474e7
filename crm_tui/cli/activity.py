"""`crm activity`: show, correct or delete a logged call, email, meeting or note (`crm log` logs one)."""

from __future__ import annotations

import sys

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput
from crm_tui.services import activities

app = typer.Typer(name="activity", help="Logged activities: show, edit, delete.", no_args_is_help=True)

ID_HELP = "Activity id (as `crm contact show` or `crm deal show --json` lists them)."
VERSION_HELP = "The version you last saw; refuse the change if the activity changed since."


@app.command("show")
def show(ctx: typer.Context, activity_id: int = typer.Argument(..., help=ID_HELP), as_json: output.Json = False) -> None:
    """Show an activity, with its whole notes."""
    st = state(ctx)
    with st.read() as (session, _actor):
        activity = activities.get_activity(session, activity_id=activity_id)
    if as_json:
        output.emit_json(activity)
        return
    output.details([
        ("Kind", activity.kind), ("When", output.local_time(activity.occurred_at, st.zone)),
        ("Direction", activity.direction), ("Minutes", activity.duration_minutes), ("Outcome", activity.outcome),
        ("Subject", activity.subject), ("Contact", activity.contact_name), ("Company id", activity.company_id),
        ("Deal id", activity.deal_id), ("By", activity.user_login), ("Version", activity.version),
    ], title=f"Activity #{activity.id}")
    if activity.body:
        output.say(activity.body)


@app.command("edit")
def edit(
    ctx: typer.Context,
    activity_id: int = typer.Argument(..., help=ID_HELP),
    subject: str | None = typer.Option(None, "--subject", help='The subject ("" to clear).'),
    notes: str | None = typer.Option(None, "--notes", help='What was said or written ("" to clear).'),
    outcome: str | None = typer.Option(None, "--outcome", help='e.g. connected, voicemail ("" to clear).'),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Correct an activity's subject, notes or outcome; only the options given change."""
    if subject is None and notes is None and outcome is None:
        raise InvalidInput("give --subject, --notes or --outcome")
    with state(ctx).write() as (session, actor):
        activity = activities.update_activity(session, activity_id=activity_id, subject=subject, body=notes,
                                              outcome=outcome, actor=actor, version=version)
    if as_json:
        output.emit_json(activity)
    else:
        output.say(f"updated {activity.kind} #{activity.id} (version {activity.version})")


@app.command("delete")
def delete(
    ctx: typer.Context,
    activity_id: int = typer.Argument(..., help=ID_HELP),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
) -> None:
    """Delete an activity logged by mistake (the audit trail keeps what it said). Asks first."""
    st = state(ctx)
    if not yes:
        with st.read() as (session, _actor):
            activity = activities.get_activity(session, activity_id=activity_id)
        if not sys.stdin.isatty():
            raise InvalidInput(f"pass --yes to delete {activity.kind} #{activity.id}")
        what = f"{activity.kind} #{activity.id}" + (f" {activity.subject!r}" if activity.subject else "")
        if not typer.confirm(f"Delete the {what}?", default=False):
            raise typer.Exit(1)
    with st.write() as (session, actor):
        deleted = activities.delete_activity(session, activity_id=activity_id, actor=actor, version=version)
    output.say(f"deleted {deleted.kind} #{deleted.id}")
