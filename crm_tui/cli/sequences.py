"""`crm sequence`: email and task steps in business days, contacts enrolled from a list, their
stops and the funnel. The steps run with the workflow engine (`crm workflows run`)."""

from __future__ import annotations

import typer

from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.services import sequences

app = typer.Typer(name="sequence",
                  help="Sequences: add, list, show, edit, archive, step add|edit|remove, enroll, stop, status.",
                  no_args_is_help=True)
step_app = typer.Typer(name="step", help="A sequence's steps: add, edit, remove.", no_args_is_help=True)
app.add_typer(step_app, name="step")

REF = typer.Argument(..., help="The sequence's name (any case) or id.")
VERSION = typer.Option(None, "--version", help="The version you last saw; refuse if it changed since.")
WINDOW_HELP = "The sending window on business days, in the team's time zone: 09:00-17:00."


def _json(x: sequences.SequenceRead, steps: list[sequences.StepRead] | None = None) -> dict:
    data = {"id": x.id, "name": x.name, "description": x.description, "team": x.shared, "owner": x.owner,
            "window": x.window, "daily_cap": x.daily_cap, "archived": x.archived, "version": x.version,
            "steps": x.steps, "funnel": x.funnel}
    if steps is not None:
        data["steps"] = [{"id": s.id, "position": s.position, "kind": s.kind, "after_days": s.delay_days,
                          "template": s.template, "task": s.task_title, "version": s.version} for s in steps]
    return data


def _done(x: sequences.SequenceRead, what: str, as_json: bool) -> None:
    if as_json:
        output.emit_json(_json(x))
    else:
        output.say(f"{what} sequence #{x.id} {x.name!r} ({x.window}, at most {x.daily_cap} a day per sender)")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The sequence's name, unique."),
    window: str = typer.Option("09:00-17:00", "--window", help=WINDOW_HELP),
    cap: int = typer.Option(50, "--cap", help="At most this many of its emails a day per sender."),
    description: str = typer.Option("", "--description", help="What it is for."),
    own: bool = typer.Option(False, "--own", help="Your own sequence rather than the team's."),
    as_json: output.Json = False,
) -> None:
    """Add a sequence (the team's; --own for your own), then its steps with `crm sequence step add`."""
    with state(ctx).write() as (session, actor):
        found = sequences.create_sequence(session, actor, name=name, description=description, window=window,
                                          daily_cap=cap, owner_id=actor.user_id if own else None)
    _done(found, "Added", as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    archived: bool = typer.Option(False, "--archived", help="Archived ones too."),
    as_json: output.Json = False,
) -> None:
    """The sequences with their funnels: enrolled, active, sent, replied, stopped, finished."""
    with state(ctx).read() as (session, actor):
        found = sequences.list_sequences(session, actor, include_archived=archived)
    if as_json:
        output.emit_json([_json(x) for x in found])
        return
    output.table(["ID", "Name", "Steps", "Window", "Cap", "Enrolled", "Active", "Sent", "Replied", "Stopped",
                  "Finished"],
                 [(x.id, x.name + (" (archived)" if x.archived else ""), x.steps, x.window, x.daily_cap,
                   x.funnel.enrolled, x.funnel.active, x.funnel.sent, x.funnel.replied, x.funnel.stopped,
                   x.funnel.finished) for x in found])


@app.command("show")
def show(ctx: typer.Context, ref: str = REF, as_json: output.Json = False) -> None:
    """A sequence's steps and its funnel."""
    with state(ctx).read() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        steps = sequences.steps(session, found.id)
    if as_json:
        output.emit_json(_json(found, steps))
        return
    f = found.funnel
    output.details([("Sequence", f"#{found.id} {found.name}"), ("Whose", "team" if found.shared else found.owner),
                    ("Window", found.window), ("Daily cap", f"{found.daily_cap} per sender"),
                    ("Archived", "yes" if found.archived else None), ("Version", found.version),
                    ("Description", found.description or None),
                    ("Funnel", f"{f.enrolled} enrolled, {f.active} active, {f.sent} sent, {f.replied} replied, "
                               f"{f.stopped} stopped, {f.finished} finished")])
    output.table(["#", "Step", "After (business days)", "Version"],
                 [(s.position, f"email: {s.template}" if s.kind == "email" else f"task: {s.task_title}",
                   s.delay_days, s.version) for s in steps], title="Steps")


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = REF,
    name: str | None = typer.Option(None, "--name", help="A new name."),
    window: str | None = typer.Option(None, "--window", help=WINDOW_HELP),
    cap: int | None = typer.Option(None, "--cap", help="A new daily cap per sender."),
    description: str | None = typer.Option(None, "--description", help="A new description."),
    version: int | None = VERSION,
    as_json: output.Json = False,
) -> None:
    """Change a sequence's name, window, daily cap or description."""
    if name is None and window is None and cap is None and description is None:
        raise InvalidInput("give what to change: --name, --window, --cap or --description")
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        changed = sequences.update_sequence(session, actor, found.id, version=version, name=name, window=window,
                                            daily_cap=cap, description=description)
    _done(changed, "Updated", as_json)


@app.command("archive")
def archive(ctx: typer.Context, ref: str = REF, version: int | None = VERSION, as_json: output.Json = False) -> None:
    """Archive a sequence: nobody new enrols, and its active enrolments stop."""
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        changed = sequences.archive_sequence(session, actor, found.id, version=version)
    _done(changed, "Archived", as_json)


@app.command("unarchive")
def unarchive(ctx: typer.Context, ref: str = REF, version: int | None = VERSION,
              as_json: output.Json = False) -> None:
    """Bring an archived sequence back (its stopped enrolments stay stopped)."""
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        changed = sequences.unarchive_sequence(session, actor, found.id, version=version)
    _done(changed, "Restored", as_json)


def _kind(email: str | None, task: str | None) -> tuple[str | None, str | None, str | None]:
    if email is not None and task is not None:
        raise InvalidInput("a step is either --email TEMPLATE or --task TITLE, not both")
    if email is not None:
        return "email", email, None
    if task is not None:
        return "task", None, task
    return None, None, None


def _step_line(step: sequences.StepRead, what: str, name: str) -> None:
    output.say(f"{what} step {step.position} of {name!r}: {step.label}")


@step_app.command("add")
def step_add(
    ctx: typer.Context,
    ref: str = REF,
    email: str | None = typer.Option(None, "--email", help="An email from this template (name or id)."),
    task: str | None = typer.Option(None, "--task", help="A task with this title, for the sender."),
    after: int = typer.Option(..., "--after", help="Business days after the step before (after enrolling, "
                                                   "for the first)."),
    position: int | None = typer.Option(None, "--position", help="Put it here (1 = first); default: last."),
) -> None:
    """Add a step: --email TEMPLATE or --task TITLE, --after N business days."""
    kind, template, title = _kind(email, task)
    if kind is None:
        raise InvalidInput("give the step: --email TEMPLATE or --task TITLE")
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        step = sequences.add_step(session, actor, found.id, kind=kind, delay_days=after, template=template,
                                  task_title=title, position=position)
    _step_line(step, "Added", found.name)


def _step_at(session, sequence_id: int, position: int) -> sequences.StepRead:
    found = next((s for s in sequences.steps(session, sequence_id) if s.position == position), None)
    if found is None:
        raise NotFound(f"no step {position} in this sequence", see="crm sequence show NAME")
    return found


@step_app.command("edit")
def step_edit(
    ctx: typer.Context,
    ref: str = REF,
    position: int = typer.Argument(..., help="The step's number (see `crm sequence show`)."),
    email: str | None = typer.Option(None, "--email", help="Make it an email from this template."),
    task: str | None = typer.Option(None, "--task", help="Make it a task with this title."),
    after: int | None = typer.Option(None, "--after", help="A new delay in business days."),
    version: int | None = VERSION,
) -> None:
    """Change a step's template, task title or delay."""
    kind, template, title = _kind(email, task)
    if kind is None and after is None:
        raise InvalidInput("give what to change: --email, --task or --after")
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        step = _step_at(session, found.id, position)
        changed = sequences.edit_step(session, actor, found.id, step.id, version=version, delay_days=after,
                                      kind=kind, template=template, task_title=title)
    _step_line(changed, "Updated", found.name)


@step_app.command("remove")
def step_remove(
    ctx: typer.Context,
    ref: str = REF,
    position: int = typer.Argument(..., help="The step's number (see `crm sequence show`)."),
    version: int | None = VERSION,
) -> None:
    """Remove a step; enrolments waiting for it go on to the next one."""
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        step = _step_at(session, found.id, position)
        sequences.remove_step(session, actor, found.id, step.id, version=version)
    output.say(f"Removed step {position} of {found.name!r}")


@app.command("enroll")
def enroll(
    ctx: typer.Context,
    ref: str = REF,
    contact: list[str] = typer.Option([], "--contact", help="A contact (id or email); repeatable."),
    list_name: str | None = typer.Option(None, "--list", help="Every contact of a smart list (\"New leads\")."),
    sender: str | None = typer.Option(None, "--sender", help="Who its emails come from (default: you)."),
    as_json: output.Json = False,
) -> None:
    """Enrol contacts, or a whole smart list, in a sequence. Skips those already active in it, those
    marked "do not email", and those without an email address."""
    if bool(contact) == bool(list_name):
        raise InvalidInput("give --contact (one or more) or --list, one of them")
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        ids = [refs.contact_id(session, c) for c in contact] if contact else None
        result = sequences.enroll(session, actor, found.id, contact_ids=ids, view=list_name,
                                  sender_id=refs.user_id(session, sender))
    if as_json:
        output.emit_json(result)
        return
    skipped = [f"{n} {what}" for n, what in ((result.already_active, "already active"),
                                               (result.do_not_email, "marked do not email"),
                                               (result.no_email, "without an email address"),
                                               (result.archived, "archived")) if n]
    output.say(f"enrolled {result.enrolled} in {found.name!r}" + (f"; skipped {', '.join(skipped)}" if skipped else ""))


@app.command("stop")
def stop(
    ctx: typer.Context,
    ref: str = REF,
    contact: str = typer.Option(..., "--contact", help="The contact (id or email)."),
) -> None:
    """Stop a contact's enrolment in a sequence."""
    with state(ctx).write() as (session, actor):
        found = sequences.get_sequence(session, actor, ref)
        row = sequences.active_enrollment(session, found.id, refs.contact_id(session, contact))
        sequences.stop(session, actor, row.id)
    output.say(f"stopped {row.contact} in {found.name!r}")


@app.command("status")
def status(
    ctx: typer.Context,
    contact: str = typer.Option(..., "--contact", help="The contact (id or email)."),
    as_json: output.Json = False,
) -> None:
    """A contact's sequences: where each stands, why it stopped, the next step and when."""
    st = state(ctx)
    with st.read() as (session, actor):
        rows = sequences.contact_sequences(session, actor, refs.contact_id(session, contact))
    if as_json:
        output.emit_json(rows)
        return
    if not rows:
        output.say("in no sequence")
        return
    output.table(["Sequence", "Status", "Reason", "Next step", "Due"],
                 [(r.sequence, r.status, r.stop_reason, r.next_position, output.local_time(r.next_due_at, st.zone))
                  for r in rows])
