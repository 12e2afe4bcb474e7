"""`crm log KIND`: record a call, email, meeting or note, with an optional follow-up task."""

from __future__ import annotations

import typer

from crm_tui.cli import output, params, refs
from crm_tui.cli.context import state
from crm_tui.cli.tasks import warn_if_past
from crm_tui.clock import utcnow
from crm_tui.errors import InvalidInput
from crm_tui.services import activities


def log(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help="call, email, meeting or note."),
    contact: str | None = typer.Option(None, "--contact", help="Contact id or email."),
    company: str | None = typer.Option(None, "--company", help="Company id, name or domain."),
    deal: int | None = typer.Option(None, "--deal", help="Deal id.", parser=params.record_id),
    subject: str | None = typer.Option(None, "--subject"),
    notes: str | None = typer.Option(None, "--notes", help="What was said or written."),
    outcome: str | None = typer.Option(None, "--outcome", help="e.g. connected, voicemail, no answer."),
    direction: str | None = typer.Option(None, "--direction", help="inbound or outbound."),
    duration: int | None = typer.Option(None, "--duration", help="Minutes."),
    at: str | None = typer.Option(None, "--at", help='When it happened, e.g. "yesterday 3pm"; now by default.'),
    follow_up: str | None = typer.Option(None, "--follow-up", help='Also add a follow-up task due then, e.g. "+3d".'),
    follow_up_title: str | None = typer.Option(None, "--follow-up-title", help="The follow-up task's title."),
    as_json: output.Json = False,
) -> None:
    """Log a call, email, meeting or note against a contact, company or deal."""
    if follow_up_title is not None and follow_up is None:
        raise InvalidInput("--follow-up-title needs --follow-up WHEN")
    st, now = state(ctx), utcnow()
    with st.write() as (session, actor):
        data = {"kind": kind, "subject": subject, "body": notes, "outcome": outcome, "direction": direction,
                "duration_minutes": duration, "occurred_at": at, "deal_id": deal,
                "contact_id": refs.contact_id(session, contact), "company_id": refs.company_id(session, company)}
        task = None
        if follow_up is not None:
            task = {"title": follow_up_title or _follow_up_title(kind, subject), "due_at": follow_up}
        activity, task = activities.log_activity(session, data=data, actor=actor, follow_up=task, now=now)
    if as_json:
        output.emit_json({"activity": activity, "follow_up": task})
        return
    about = f" with {activity.contact_name}" if activity.contact_name else ""
    output.say(f"logged {activity.kind} #{activity.id}{about} at {output.local_time(activity.occurred_at, st.zone)}")
    if task is not None:
        output.say(f"follow-up task #{task.id} {task.title!r} due {output.local_time(task.due_at, st.zone)}")
        warn_if_past("the follow-up's due", task.due_at, st, now)


def _follow_up_title(kind: str, subject: str | None) -> str:
    return f"Follow up: {subject}" if subject else f"Follow up on the {kind.strip().lower()}"
