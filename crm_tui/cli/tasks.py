"""`crm task`: add, list, complete, snooze and reschedule tasks (reminders)."""

from __future__ import annotations

import typer

from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.services import tasks

app = typer.Typer(name="task", help="Tasks: add, list, done, snooze, reschedule.", no_args_is_help=True)

ID_HELP = "Task id."
VERSION_HELP = "The version you last saw; refuse the change if the task changed since."


@app.command("add")
def add(
    ctx: typer.Context,
    title: str = typer.Argument(..., help="What to do."),
    due: str | None = typer.Option(None, "--due", help='When, e.g. "tomorrow 9am", "+3d", "next fri".'),
    notes: str | None = typer.Option(None, "--notes"),
    assignee: str | None = typer.Option(None, "--assignee", help="Who does it (user login); you by default."),
    contact: str | None = typer.Option(None, "--contact", help="Contact id or email."),
    company: str | None = typer.Option(None, "--company", help="Company id, name or domain."),
    deal: int | None = typer.Option(None, "--deal", help="Deal id."),
    repeat: str | None = typer.Option(None, "--repeat", help='Recurrence, e.g. "every monday" or an RRULE.'),
    as_json: bool = typer.Option(False, "--json", help=output.JSON_HELP),
) -> None:
    """Add a task."""
    st = state(ctx)
    with st.write() as (session, actor):
        data = {"title": title, "due_at": due, "notes": notes, "deal_id": deal, "recurrence": repeat,
                **refs.link_changes(session, assignee=assignee, contact=contact, company=company)}
        task = tasks.create_task(session, data=data, actor=actor)
    if as_json:
        output.emit_json(task)
    else:
        due_text = f" due {output.local_time(task.due_at, st.zone)}" if task.due_at else ""
        output.say(f"added task #{task.id} {task.title!r}{due_text}")


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str = typer.Option("open", "--status", help="open, overdue, today, upcoming, snoozed, done or all."),
    mine: bool = typer.Option(True, "--mine/--all", help="Only your tasks (default), or everyone's."),
    assignee: str | None = typer.Option(None, "--assignee", help="Only this user's tasks."),
    contact: str | None = typer.Option(None, "--contact", help="Only tasks about this contact."),
    deal: int | None = typer.Option(None, "--deal", help="Only tasks about this deal."),
    limit: int = typer.Option(50, "--limit", help="How many to show."),
    after: str | None = typer.Option(None, "--after", metavar="CURSOR", help="Continue after this cursor."),
    as_json: bool = typer.Option(False, "--json", help=output.JSON_HELP),
) -> None:
    """List tasks by due time."""
    st = state(ctx)
    with st.read() as (session, actor):
        assignee_id = refs.user_id(session, assignee) if assignee else (actor.user_id if mine else None)
        page = tasks.list_tasks(session, status=status, assignee_id=assignee_id,
                                contact_id=refs.contact_id(session, contact), deal_id=deal, zone=st.zone,
                                after=after, limit=limit)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(["ID", "Due", "Title", "About", "Assignee", "State"],
                 [(t.id, output.local_time(t.due_at, st.zone), t.title, t.related, t.assignee_login, _state(t, st.zone))
                  for t in page.items])
    output.more_hint(page, shown=len(page.items))


def _state(task, zone) -> str:
    if task.done_at:
        return f"done {output.local_time(task.done_at, zone)}"
    if task.snoozed_until:
        return f"snoozed until {output.local_time(task.snoozed_until, zone)}"
    return "open"


@app.command("done")
def done(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., help=ID_HELP),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: bool = typer.Option(False, "--json", help=output.JSON_HELP),
) -> None:
    """Mark a task done; a recurring task gets its next occurrence."""
    st = state(ctx)
    with st.write() as (session, actor):
        task, following = tasks.complete_task(session, task_id=task_id, actor=actor, version=version)
    if as_json:
        output.emit_json({"task": task, "next": following})
        return
    output.say(f"done: task #{task.id} {task.title!r}")
    if following is not None:
        output.say(f"next occurrence: task #{following.id} due {output.local_time(following.due_at, st.zone)}")


@app.command("snooze")
def snooze(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., help=ID_HELP),
    until: str = typer.Argument(..., help='Until when, e.g. "tomorrow 9am" or "+2h".'),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: bool = typer.Option(False, "--json", help=output.JSON_HELP),
) -> None:
    """Hide a task from the open lists until a later time."""
    st = state(ctx)
    with st.write() as (session, actor):
        task = tasks.snooze_task(session, task_id=task_id, until=until, actor=actor, version=version)
    if as_json:
        output.emit_json(task)
    else:
        output.say(f"snoozed task #{task.id} until {output.local_time(task.snoozed_until, st.zone)}")


@app.command("reschedule")
def reschedule(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., help=ID_HELP),
    due: str = typer.Argument(..., help='The new due time, e.g. "next fri 10am".'),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: bool = typer.Option(False, "--json", help=output.JSON_HELP),
) -> None:
    """Give a task a new due time."""
    st = state(ctx)
    with st.write() as (session, actor):
        task = tasks.reschedule_task(session, task_id=task_id, due_at=due, actor=actor, version=version)
    if as_json:
        output.emit_json(task)
    else:
        output.say(f"task #{task.id} now due {output.local_time(task.due_at, st.zone)}")
