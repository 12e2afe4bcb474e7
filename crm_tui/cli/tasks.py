"""`crm task`: add, list, complete (optionally logging the call), snooze, reschedule and assign
tasks (reminders), and the Inbox: what is overdue, due today, upcoming, snoozed and done recently,
and the calls and meetings planned."""

from __future__ import annotations

import typer

from crm_tui.cli import output, params, refs
from crm_tui.cli.context import state
from crm_tui.clock import resolve_now, utcnow
from crm_tui.errors import InvalidInput
from crm_tui.services import activities, tasks
from crm_tui.services import inbox as inbox_service

app = typer.Typer(name="task", help="Tasks: add, list, inbox, done, snooze, reschedule, assign.", no_args_is_help=True)

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
    deal: int | None = typer.Option(None, "--deal", help="Deal id.", parser=params.record_id),
    repeat: str | None = typer.Option(None, "--repeat", help='Recurrence, e.g. "every monday" or an RRULE.'),
    as_json: output.Json = False,
) -> None:
    """Add a task."""
    st, now = state(ctx), utcnow()
    with st.write() as (session, actor):
        data = {"title": title, "due_at": due, "notes": notes, "deal_id": deal, "recurrence": repeat,
                **refs.link_changes(session, assignee=assignee, contact=contact, company=company)}
        task = tasks.create_task(session, data=data, actor=actor, now=now)
    warn_if_past("due", task.due_at, st, now)
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
    deal: int | None = typer.Option(None, "--deal", help="Only tasks about this deal.", parser=params.record_id),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
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
    task_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    call: str | None = typer.Option(None, "--call", metavar="SUBJECT",
                                    help="Also log a call with this subject, about what the task is about."),
    outcome: str | None = typer.Option(None, "--outcome", help="The call's outcome, e.g. connected, voicemail."),
    notes: str | None = typer.Option(None, "--notes", help="What was said (with --call)."),
    follow_up: str | None = typer.Option(None, "--follow-up", help='With --call: a follow-up task due then, e.g. "+3d".'),
    follow_up_title: str | None = typer.Option(None, "--follow-up-title", help="The follow-up task's title."),
    as_json: output.Json = False,
) -> None:
    """Mark a task done; a recurring task gets its next occurrence.

    With --call, log the call in the same transaction."""
    if call is None and (outcome or notes or follow_up or follow_up_title):
        raise InvalidInput("--outcome, --notes and --follow-up go with --call SUBJECT")
    if follow_up_title is not None and follow_up is None:
        raise InvalidInput("--follow-up-title needs --follow-up WHEN")
    st, now = state(ctx), utcnow()
    activity = follow = None
    with st.write() as (session, actor):
        if call is None:
            task, following = tasks.complete_task(session, task_id=task_id, actor=actor, version=version, now=now)
        else:
            data = {"kind": "call", "subject": call, "outcome": outcome, "body": notes}
            next_task = {"title": follow_up_title or f"Follow up: {call}", "due_at": follow_up} if follow_up else None
            activity, follow, task, following = activities.log_and_complete(
                session, task_id=task_id, activity=data, follow_up=next_task, actor=actor, version=version, now=now)
    if follow is not None:
        warn_if_past("the follow-up's due", follow.due_at, st, now)
    if as_json:
        output.emit_json({"task": task, "next": following, "activity": activity, "follow_up": follow})
        return
    if activity is not None:
        output.say(f"logged call #{activity.id}" + (f" with {activity.contact_name}" if activity.contact_name else ""))
    output.say(f"done: task #{task.id} {task.title!r}")
    if following is not None:
        output.say(f"next occurrence: task #{following.id} due {output.local_time(following.due_at, st.zone)}")
    if follow is not None:
        output.say(f"follow-up task #{follow.id} {follow.title!r} due {output.local_time(follow.due_at, st.zone)}")


@app.command("inbox")
def inbox(
    ctx: typer.Context,
    section: str | None = typer.Option(None, "--section", help="overdue, today, upcoming, snoozed, done or "
                                       "planned (calls and meetings logged ahead); overdue and today by default."),
    mine: bool = typer.Option(True, "--mine/--all", help="Your tasks (default), or the whole team's."),
    assignee: str | None = typer.Option(None, "--assignee", help="One teammate's tasks (user login)."),
    limit: int = typer.Option(20, "--limit", help="Tasks to show per section."),
    after: str | None = typer.Option(None, "--after", metavar="CURSOR", help="Continue after this cursor (with --section)."),
    as_json: output.Json = False,
) -> None:
    """What to do next: each Inbox section's count, and its tasks with how far off they are.

    --section planned lists the calls, emails and meetings logged ahead of their time, soonest
    first; the JSON gives their count as planned_count beside the tasks' counts."""
    if after is not None and section is None:
        raise InvalidInput("--after continues one section: give --section too")
    shown = [section] if section else ["overdue", "today"]
    st = state(ctx)
    now = resolve_now(None)
    with st.read() as (session, actor):
        assignee_id = refs.user_id(session, assignee) if assignee else (actor.user_id if mine else None)
        pages = {name: inbox_service.inbox_page(session, section=name, assignee_id=assignee_id, zone=st.zone,
                                                now=now, after=after, limit=limit) for name in shown}
        counts = tasks.inbox_counts(session, assignee_id=assignee_id, zone=st.zone, now=now)
        planned = inbox_service.planned_count(session, user_id=assignee_id, now=now)
    if as_json:
        output.emit_json({"counts": counts, "planned_count": planned,
                          "sections": {name: {"items": page.items, "next_cursor": page.next_cursor}
                                       for name, page in pages.items()}})
        return
    every = {**counts, inbox_service.PLANNED: planned}
    output.say("  ".join(f"{inbox_service.SECTION_TITLES[name]} {every[name]}" for name in inbox_service.SECTIONS))
    for name, page in pages.items():
        if not page.items:
            output.say(f"{inbox_service.SECTION_TITLES[name]}: nothing")
            continue
        page.total = every[name]
        if name == inbox_service.PLANNED:
            _planned_table(page, st.zone, now)
            continue
        rows = [(t.id, tasks.due_phrase(t.due_at, now) if name != "done" else output.local_time(t.done_at, st.zone),
                 t.title, t.related, t.assignee_login, tasks.origin_label(t)) for t in page.items]
        output.table(["ID", "Due" if name != "done" else "Done", "Title", "About", "Assignee", "Origin"], rows,
                     title=tasks.SECTION_TITLES[name])
        output.more_hint(page, shown=len(page.items))


def _planned_table(page, zone, now) -> None:
    rows = [(a.id, tasks.due_phrase(a.occurred_at, now), output.local_time(a.occurred_at, zone), a.kind,
             a.subject, a.related, a.user_login) for a in page.items]
    output.table(["Activity", "When", "At", "Kind", "Subject", "About", "Logged by"], rows,
                 title=inbox_service.SECTION_TITLES[inbox_service.PLANNED])
    output.more_hint(page, shown=len(page.items))


@app.command("snooze")
def snooze(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    until: str = typer.Argument(..., help='Until when, e.g. "tomorrow 9am" or "+2h".'),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Hide a task from the open lists until a later time."""
    st, now = state(ctx), utcnow()
    with st.write() as (session, actor):
        task = tasks.snooze_task(session, task_id=task_id, until=until, actor=actor, version=version, now=now)
    if as_json:
        output.emit_json(task)
    else:
        output.say(f"snoozed task #{task.id} until {output.local_time(task.snoozed_until, st.zone)}")


@app.command("reschedule")
def reschedule(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    due: str = typer.Argument(..., help='The new due time, e.g. "next fri 10am".'),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Give a task a new due time."""
    st, now = state(ctx), utcnow()
    with st.write() as (session, actor):
        task = tasks.reschedule_task(session, task_id=task_id, due_at=due, actor=actor, version=version, now=now)
    warn_if_past("due", task.due_at, st, now)
    if as_json:
        output.emit_json(task)
    else:
        output.say(f"task #{task.id} now due {output.local_time(task.due_at, st.zone)}")


def warn_if_past(what: str, when, st, now) -> None:
    """A time in the past is saved as typed (a task logged late is still a task), with a warning."""
    if tasks.in_the_past(when, now=now):
        output.error_line("warning", f"{what} {output.local_time(when, st.zone)} is in the past")


NOBODY = "-"


@app.command("assign")
def assign(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    login: str | None = typer.Argument(None, metavar="LOGIN",
                                       help=f'Who does it now (user login, email or name); "{NOBODY}" for nobody.'),
    nobody: bool = typer.Option(False, "--nobody", help="Leave the task with nobody (instead of LOGIN)."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Give a task to another teammate (or, with --nobody, to no one)."""
    if nobody and login is not None:
        raise InvalidInput("give LOGIN or --nobody, not both")
    if not nobody and not (login or "").strip():
        raise InvalidInput(f'give the LOGIN to assign the task to, or --nobody (or "{NOBODY}")')
    st = state(ctx)
    with st.write() as (session, actor):
        assignee_id = None if nobody or login.strip() == NOBODY else refs.user_id(session, login)
        task = tasks.assign_task(session, task_id=task_id, assignee_id=assignee_id, actor=actor, version=version)
    if as_json:
        output.emit_json(task)
    elif task.assignee_login:
        output.say(f"task #{task.id} {task.title!r} now assigned to {task.assignee_login}")
    else:
        output.say(f"task #{task.id} {task.title!r} now assigned to nobody")
