"""`crm pipeline`: list pipelines, add and rename them, add, edit, reorder or delete stages, show
the board's totals, and edit the list of lost reasons."""

from __future__ import annotations

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import utcnow
from crm_tui.errors import InvalidInput
from crm_tui.services import board, pipelines, users
from crm_tui.services.pipelines import DEFAULT_STAGES

app = typer.Typer(name="pipeline", help="Pipelines and their stages.", no_args_is_help=True)

PIPELINE_HELP = "Pipeline id or name; the default pipeline otherwise."
STAGE_HELP = "Stage id or name."


@app.command("list")
def list_(
    ctx: typer.Context,
    archived: bool = typer.Option(False, "--archived", help="Include archived pipelines."),
    as_json: output.Json = False,
) -> None:
    """List pipelines with their stages in order."""
    with state(ctx).read() as (session, _actor):
        found = pipelines.list_pipelines(session, include_archived=archived)
    if as_json:
        output.emit_json({"items": found})
        return
    for pipeline in found:
        default = " (default)" if pipeline.is_default else " (archived)" if pipeline.archived else ""
        output.table(["#", "Stage ID", "Stage", "Kind", "Probability", "Rotting days"],
                     [(i + 1, s.id, s.name, s.kind, f"{s.probability}%", s.rotting_days)
                      for i, s in enumerate(pipeline.stages)],
                     title=f"Pipeline #{pipeline.id} {pipeline.name}{default}")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Pipeline name."),
    stage: list[str] = typer.Option([], "--stage", help="An open stage (repeat, in order); Won and Lost are added."),
    as_json: output.Json = False,
) -> None:
    """Add a pipeline: the usual stages, or the open stages you name followed by Won and Lost."""
    specs = None
    if stage:
        closing = [s for s in DEFAULT_STAGES if s.kind != "open"]
        specs = [{"name": s} for s in stage] + [s.model_dump() for s in closing]
    with state(ctx).write() as (session, actor):
        pipeline = pipelines.create_pipeline(session, name=name, stages=specs, actor=actor)
    if as_json:
        output.emit_json(pipeline)
    else:
        output.say(f"added pipeline #{pipeline.id} {pipeline.name}: " + " → ".join(s.name for s in pipeline.stages))


@app.command("rename")
def rename(
    ctx: typer.Context,
    pipeline: str = typer.Argument(..., help="Pipeline id or name."),
    new_name: str = typer.Argument(..., help="The new name."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
) -> None:
    """Rename a pipeline."""
    with state(ctx).write() as (session, actor):
        found = pipelines.resolve_pipeline(session, pipeline)
        renamed = pipelines.rename_pipeline(session, pipeline_id=found.id, name=new_name, actor=actor, version=version)
    output.say(f"renamed pipeline #{renamed.id} to {renamed.name}")


@app.command("default")
def default(
    ctx: typer.Context,
    pipeline: str = typer.Argument(..., help="Pipeline id or name."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
) -> None:
    """Make a pipeline the default: the one the board, lists and reports open on."""
    with state(ctx).write() as (session, actor):
        found = pipelines.resolve_pipeline(session, pipeline)
        chosen = pipelines.set_default_pipeline(session, pipeline_id=found.id, actor=actor, version=version)
    output.say(f"pipeline #{chosen.id} {chosen.name} is the default")


@app.command("archive")
def archive(
    ctx: typer.Context,
    pipeline: str = typer.Argument(..., help="Pipeline id or name."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
) -> None:
    """Archive a pipeline: it leaves the board and the lists; its deals and their history stay."""
    _set_archived(ctx, pipeline, True, version)


@app.command("unarchive")
def unarchive(
    ctx: typer.Context,
    pipeline: str = typer.Argument(..., help="Pipeline id or name."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
) -> None:
    """Bring an archived pipeline back."""
    _set_archived(ctx, pipeline, False, version)


def _set_archived(ctx: typer.Context, pipeline: str, archived: bool, version: int | None) -> None:
    with state(ctx).write() as (session, actor):
        found = pipelines.resolve_pipeline(session, pipeline)
        done = pipelines.set_pipeline_archived(session, pipeline_id=found.id, archived=archived, actor=actor,
                                               version=version)
        now_default = pipelines.default_pipeline(session)
    if not archived:
        output.say(f"pipeline #{done.id} {done.name} is back")
        return
    note = f"; {now_default.name} is the default now" if found.is_default else ""
    output.say(f"archived pipeline #{done.id} {done.name}{note}")


def _position(value: int | None) -> int | None:
    """People count stages from 1; the service counts open stages from 0."""
    if value is None:
        return None
    if value < 1:
        raise InvalidInput(f"position counts from 1 (got {value})")
    return value - 1


@app.command("add-stage")
def add_stage(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Stage name."),
    pipeline: str | None = typer.Option(None, "--pipeline", help=PIPELINE_HELP),
    probability: int = typer.Option(0, "--probability", help="Win probability, 0-100."),
    rotting_days: int | None = typer.Option(None, "--rotting-days", help="Flag deals idle here this many days."),
    position: int | None = typer.Option(None, "--position", help="1 = first; the last open stage otherwise."),
) -> None:
    """Add an open stage to a pipeline."""
    with state(ctx).write() as (session, actor):
        found = pipelines.resolve_pipeline(session, pipeline)
        stage = pipelines.add_stage(session, pipeline_id=found.id, actor=actor, position=_position(position),
                                    spec={"name": name, "probability": probability, "rotting_days": rotting_days})
    output.say(f"added stage #{stage.id} {stage.name} to {found.name} at position {stage.position + 1}")


@app.command("edit-stage")
def edit_stage(
    ctx: typer.Context,
    stage: str = typer.Argument(..., help=STAGE_HELP),
    pipeline: str | None = typer.Option(None, "--pipeline", help=PIPELINE_HELP),
    name: str | None = typer.Option(None, "--name", help="New name."),
    probability: int | None = typer.Option(None, "--probability", help="Win probability, 0-100."),
    rotting_days: int | None = typer.Option(None, "--rotting-days", help="Flag deals idle here this many days."),
    no_rotting: bool = typer.Option(False, "--no-rotting", help="Never flag deals idle in this stage."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
) -> None:
    """Rename a stage or change its probability or rotting days."""
    with state(ctx).write() as (session, actor):
        found = pipelines.resolve_stage(session, pipelines.resolve_pipeline(session, pipeline).id, stage)
        updated = pipelines.update_stage(session, stage_id=found.id, actor=actor, name=name, probability=probability,
                                         rotting_days=rotting_days, clear_rotting=no_rotting, version=version)
    rotting = f", rotting after {updated.rotting_days} days" if updated.rotting_days is not None else ""
    output.say(f"stage #{updated.id} {updated.name}: {updated.probability}%{rotting}")


@app.command("move-stage")
def move_stage(
    ctx: typer.Context,
    stage: str = typer.Argument(..., help=STAGE_HELP),
    position: int = typer.Argument(..., help="New position among the open stages, 1 = first."),
    pipeline: str | None = typer.Option(None, "--pipeline", help=PIPELINE_HELP),
) -> None:
    """Reorder an open stage (Won and Lost always come last)."""
    with state(ctx).write() as (session, actor):
        found = pipelines.resolve_stage(session, pipelines.resolve_pipeline(session, pipeline).id, stage)
        order = pipelines.move_stage(session, stage_id=found.id, position=_position(position), actor=actor)
    output.say("stages: " + " → ".join(s.name for s in order))


@app.command("delete-stage")
def delete_stage(
    ctx: typer.Context,
    stage: str = typer.Argument(..., help=STAGE_HELP),
    pipeline: str | None = typer.Option(None, "--pipeline", help=PIPELINE_HELP),
    move_to: str | None = typer.Option(None, "--move-to", help="Stage to move its deals to (needed if it has any)."),
) -> None:
    """Delete an open stage, moving its deals to another stage first."""
    with state(ctx).write() as (session, actor):
        pipeline_id = pipelines.resolve_pipeline(session, pipeline).id
        found = pipelines.resolve_stage(session, pipeline_id, stage)
        target = pipelines.resolve_stage(session, pipeline_id, move_to) if move_to is not None else None
        try:
            moved = pipelines.delete_stage(session, stage_id=found.id, actor=actor,
                                           move_to_stage_id=target.id if target else None)
        except InvalidInput as exc:
            if target is None and "deal" in exc.message:
                raise InvalidInput(f"{exc.message} with --move-to STAGE") from None
            raise
    where = f"; {moved} deal(s) moved to {target.name}" if moved else ""
    output.say(f"deleted stage {found.name}{where}")


@app.command("show")
def show(
    ctx: typer.Context,
    pipeline: str | None = typer.Argument(None, help=PIPELINE_HELP),
    owner: str | None = typer.Option(None, "--owner", help="Only deals owned by this user (login)."),
    search: str | None = typer.Option(None, "--search", "-s", help="Only deals whose title or company matches."),
    close: str = typer.Option("any", "--close", help="Expected close: " + ", ".join(board.CLOSE_PERIODS) + "."),
    stale: bool = typer.Option(False, "--stale", help="Only deals longer in their stage than its rotting days."),
    as_json: output.Json = False,
) -> None:
    """The board's totals: per stage the deals, their amount and weighted amount; then the forecast."""
    st = state(ctx)
    with st.read() as (session, _actor):
        found = pipelines.resolve_pipeline(session, pipeline)
        owner_id = users.resolve_user(session, owner).id if owner else None
        filters = board.BoardFilter(owner_id=owner_id, text=search or "", close=close, stale_only=stale)
        totals = board.board_totals(session, pipeline_id=found.id, filters=filters, now=utcnow(), zone=st.zone)
    if as_json:
        output.emit_json({"pipeline": found.name, "stages": [
            {"id": s.id, "name": s.name, "kind": s.kind, "probability": s.probability,
             "count": totals.stage(s.id).count,
             "amounts": {m.currency: m.amount_minor for m in totals.stage(s.id).amounts},
             "weighted": {m.currency: m.amount_minor for m in totals.stage(s.id).weighted}} for s in found.stages],
            "open": {"count": totals.open_count, "amounts": {m.currency: m.amount_minor for m in totals.open_amounts},
                     "forecast": {m.currency: m.amount_minor for m in totals.forecast}}})
        return

    def sums(values) -> str:
        return " + ".join(output.money(m.amount_minor, m.currency) for m in values) or "—"

    output.table(["Stage", "Deals", "Amount", "Prob.", "Weighted"],
                 [(s.name, totals.stage(s.id).count, sums(totals.stage(s.id).amounts), f"{s.probability}%",
                   sums(totals.stage(s.id).weighted)) for s in found.stages], title=f"Pipeline {found.name}")
    output.say(f"open: {totals.open_count} deal(s), {sums(totals.open_amounts)}; "
               f"weighted forecast {sums(totals.forecast)}")


@app.command("lost-reasons")
def lost_reasons(
    ctx: typer.Context,
    add: list[str] = typer.Option([], "--add", help="Add a reason to the list (repeat for more)."),
    remove: list[str] = typer.Option([], "--remove", help="Take a reason off the list (repeat for more)."),
    as_json: output.Json = False,
) -> None:
    """The list of reasons offered when a deal is lost; --add and --remove edit it."""
    st = state(ctx)
    if add or remove:
        with st.write() as (session, actor):
            for name in add:
                pipelines.add_lost_reason(session, name=name, actor=actor)
            for name in remove:
                pipelines.remove_lost_reason(session, name=name, actor=actor)
            found = pipelines.list_lost_reasons(session)
    else:
        with st.read() as (session, _actor):
            found = pipelines.list_lost_reasons(session)
    if as_json:
        output.emit_json({"items": found})
    else:
        output.table(["#", "Lost reason"], [(i + 1, name) for i, name in enumerate(found)], title="Lost reasons")
