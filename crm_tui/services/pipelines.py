"""Pipelines and stages: list, add, rename, reorder, tune probabilities, and delete safely; and the
team's list of lost reasons."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, literal, select, true, update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import Forbidden, InvalidInput, NotFound
from crm_tui.models import Activity, ActivityKind, AuditEvent, Deal, LostReason, Pipeline, Stage, StageKind
from crm_tui.models.schemas import PipelineRead, StageRead, StageSpec
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_shape
from crm_tui.services.common import is_id, parse_id

DEFAULT_STAGES = [
    StageSpec(name="New", probability=10, rotting_days=14),
    StageSpec(name="Qualified", probability=25, rotting_days=21),
    StageSpec(name="Proposal", probability=50, rotting_days=21),
    StageSpec(name="Negotiation", probability=75, rotting_days=14),
    StageSpec(name="Won", probability=100, kind="won"),
    StageSpec(name="Lost", probability=0, kind="lost"),
]


def _stage_read(stage: Stage) -> StageRead:
    return StageRead.model_validate(stage, from_attributes=True)


def _stages(session: Session, pipeline_id: int) -> list[Stage]:
    return list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id)
                                .order_by(Stage.position, Stage.id)))


# pipelines with their stages in one query each, as rows of plain columns, the statements built once
# (the board opens with the default pipeline: two ORM queries and their objects took twice as long)
_PIPELINE_COLUMNS = (Pipeline.id, Pipeline.name, Pipeline.position, Pipeline.is_default, Pipeline.archived,
                     Pipeline.version)
MAX_ROTTING_DAYS = 3650  # ten years: a stage idle longer is not "rotting"; and the date sums stay in range
_STAGE_COLUMNS = (Stage.id, Stage.pipeline_id, Stage.name, Stage.position, Stage.probability, Stage.rotting_days,
                  Stage.kind, Stage.version)


def _with_stages(condition, order=()):
    return (select(*_PIPELINE_COLUMNS, *(c.label(f"stage_{c.key}") for c in _STAGE_COLUMNS))
            .outerjoin(Stage, Stage.pipeline_id == Pipeline.id).where(condition)
            .order_by(*order, Pipeline.id, Stage.position, Stage.id))


_LISTED = {archived: _with_stages(true() if archived else Pipeline.archived.is_(False), (Pipeline.position,))
           for archived in (False, True)}
_BY_ID = _with_stages(Pipeline.id == bindparam("pipeline_id"))
_DEFAULT = _with_stages(Pipeline.id == select(Pipeline.id).where(Pipeline.archived.is_(False))
                        .order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id).limit(1)
                        .scalar_subquery())


def _reads(session: Session, stmt, **params) -> list[PipelineRead]:
    """The pipelines of one of the statements above, each with its stages in order."""
    found: dict[int, PipelineRead] = {}
    for row in session.execute(stmt, params):
        pipeline = found.get(row.id)
        if pipeline is None:
            pipeline = found[row.id] = PipelineRead(id=row.id, name=row.name, position=row.position,
                                                    is_default=row.is_default, archived=row.archived,
                                                    version=row.version)
        if row.stage_id is not None:
            pipeline.stages.append(StageRead(id=row.stage_id, pipeline_id=row.stage_pipeline_id, name=row.stage_name,
                                             position=row.stage_position, probability=row.stage_probability,
                                             rotting_days=row.stage_rotting_days, kind=row.stage_kind,
                                             version=row.stage_version))
    return list(found.values())


def list_pipelines(session: Session, *, include_archived: bool = False) -> list[PipelineRead]:
    return _reads(session, _LISTED[include_archived])


def get_pipeline(session: Session, *, pipeline_id: int) -> PipelineRead:
    found = _reads(session, _BY_ID, pipeline_id=pipeline_id) if is_id(pipeline_id, session, Pipeline) else None
    if not found:
        raise NotFound(f"no pipeline with id {pipeline_id}")
    return found[0]


def default_pipeline(session: Session) -> PipelineRead:
    found = _reads(session, _DEFAULT)
    if not found:
        raise NotFound("there is no pipeline; add one first", see="crm pipeline add NAME")
    return found[0]


def resolve_pipeline(session: Session, ref: str | int | None) -> PipelineRead:
    """A pipeline by id or name (case-insensitive); the default one when ref is None."""
    if ref is None or str(ref).strip() == "":
        return default_pipeline(session)
    text = str(ref).strip()
    if (pipeline_id := parse_id(text)) is not None:
        return get_pipeline(session, pipeline_id=pipeline_id)
    pipeline_id = session.scalar(select(Pipeline.id).where(func.lower(Pipeline.name) == text.lower()))
    if pipeline_id is None:
        names = ", ".join(p.name for p in list_pipelines(session))
        raise NotFound(f"no pipeline {text!r}; pipelines: {names}")
    return get_pipeline(session, pipeline_id=pipeline_id)


def resolve_stage(session: Session, pipeline_id: int, ref: str | int) -> StageRead:
    """A stage of the pipeline by id or name (case-insensitive)."""
    text = str(ref).strip()
    stages = _stages(session, pipeline_id)
    for stage in stages:
        if stage.id == parse_id(text) or stage.name.lower() == text.lower():
            return _stage_read(stage)
    names = ", ".join(s.name for s in stages)
    raise NotFound(f"no stage {text!r} in this pipeline; stages: {names}")


def _spec(spec: StageSpec | dict) -> StageSpec:
    spec = parse_shape(StageSpec, spec)
    return StageSpec(
        name=v.required_text(spec.name, "stage name", max_length=100),
        probability=v.percent(spec.probability),
        rotting_days=v.non_negative(spec.rotting_days, "rotting days", maximum=MAX_ROTTING_DAYS),
        kind=v.choice(spec.kind, StageKind, "stage kind"),
    )


def create_pipeline(session: Session, *, name: str, actor: Actor, stages: list[StageSpec | dict] | None = None,
                    now: datetime | None = None) -> PipelineRead:
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    name = v.required_text(name, "pipeline name", max_length=100)
    if session.scalar(select(Pipeline.id).where(func.lower(Pipeline.name) == name.lower())) is not None:
        raise InvalidInput(f"a pipeline named {name!r} already exists")
    specs = [_spec(s) for s in (stages or DEFAULT_STAGES)]
    _check_kinds(specs)
    position = (session.scalar(select(func.max(Pipeline.position))) or 0) + 1
    is_default = session.scalar(select(func.count()).select_from(Pipeline)) == 0
    pipeline = Pipeline(name=name, position=position, is_default=is_default, created_at=now, updated_at=now)
    session.add(pipeline)
    flush(session, "pipeline", f"pipeline {name!r}")
    for i, spec in enumerate(specs):
        session.add(Stage(pipeline_id=pipeline.id, position=i, created_at=now, updated_at=now, **spec.model_dump()))
    flush(session, "pipeline", f"pipeline {name!r}")
    audit(session, actor=actor, entity="pipeline", entity_id=pipeline.id, action="create", now=now,
          summary=f"{name}: " + " → ".join(s.name for s in specs))
    return get_pipeline(session, pipeline_id=pipeline.id)


def _check_kinds(specs: list[StageSpec]) -> None:
    kinds = [s.kind for s in specs]
    if StageKind.OPEN not in kinds or kinds.count(StageKind.WON) != 1 or kinds.count(StageKind.LOST) != 1:
        raise InvalidInput("a pipeline needs at least one open stage, exactly one won and one lost stage")
    names = [s.name.lower() for s in specs]
    if len(set(names)) != len(names):
        raise InvalidInput("stage names in a pipeline must differ")


def rename_pipeline(session: Session, *, pipeline_id: int, name: str, actor: Actor,
                    version: int | None = None, now: datetime | None = None) -> PipelineRead:
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    pipeline = get_or_404(session, Pipeline, pipeline_id, "pipeline")
    check_version(session, pipeline, version, "pipeline", f"pipeline {pipeline.name!r}")
    name = v.required_text(name, "pipeline name", max_length=100)
    clash = session.scalar(select(Pipeline.id).where(func.lower(Pipeline.name) == name.lower(), Pipeline.id != pipeline_id))
    if clash is not None:
        raise InvalidInput(f"a pipeline named {name!r} already exists")
    changed = apply_changes(pipeline, {"name": name})
    if changed:
        pipeline.updated_at = now
        flush(session, "pipeline", f"pipeline {name!r}")
        audit(session, actor=actor, entity="pipeline", entity_id=pipeline.id, action="update", now=now, changes=changed)
    return get_pipeline(session, pipeline_id=pipeline.id)


def set_default_pipeline(session: Session, *, pipeline_id: int, actor: Actor, version: int | None = None,
                         now: datetime | None = None) -> PipelineRead:
    """Make a pipeline the default: the one the board, the lists and the reports open on."""
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    pipeline = get_or_404(session, Pipeline, pipeline_id, "pipeline")
    check_version(session, pipeline, version, "pipeline", f"pipeline {pipeline.name!r}")
    if pipeline.archived:
        raise InvalidInput(f"pipeline {pipeline.name!r} is archived; unarchive it before making it the default")
    if pipeline.is_default:
        return get_pipeline(session, pipeline_id=pipeline.id)
    old = session.scalars(select(Pipeline).where(Pipeline.is_default.is_(True))).all()
    for each in old:
        each.is_default, each.updated_at = False, now
    pipeline.is_default, pipeline.updated_at = True, now
    flush(session, "pipeline", f"pipeline {pipeline.name!r}")
    audit(session, actor=actor, entity="pipeline", entity_id=pipeline.id, action="update", now=now,
          changes={"default": (", ".join(p.name for p in old) or None, pipeline.name)})
    return get_pipeline(session, pipeline_id=pipeline.id)


def set_pipeline_archived(session: Session, *, pipeline_id: int, archived: bool, actor: Actor,
                          version: int | None = None, now: datetime | None = None) -> PipelineRead:
    """Archive a pipeline (its deals stay, and stay in the reports of their dates) or bring it back.
    The last pipeline in use cannot go; archiving the default makes the next one the default."""
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    pipeline = get_or_404(session, Pipeline, pipeline_id, "pipeline")
    check_version(session, pipeline, version, "pipeline", f"pipeline {pipeline.name!r}")
    if pipeline.archived == archived:
        return get_pipeline(session, pipeline_id=pipeline.id)
    changes: dict = {"archived": (pipeline.archived, archived)}
    if archived:
        successor = session.scalars(select(Pipeline).where(Pipeline.archived.is_(False), Pipeline.id != pipeline.id)
                                    .order_by(Pipeline.position, Pipeline.id).limit(1)).first()
        if successor is None:
            raise InvalidInput(f"pipeline {pipeline.name!r} is the only one in use; add another before archiving it")
        if pipeline.is_default:
            pipeline.is_default, successor.is_default, successor.updated_at = False, True, now
            changes["default"] = (pipeline.name, successor.name)
    pipeline.archived, pipeline.updated_at = archived, now
    flush(session, "pipeline", f"pipeline {pipeline.name!r}")
    audit(session, actor=actor, entity="pipeline", entity_id=pipeline.id, action="archive" if archived else "unarchive",
          now=now, changes=changes)
    return get_pipeline(session, pipeline_id=pipeline.id)


def stage_ids_named(session: Session, ref: str | int) -> list[int]:
    """The stages of every pipeline in use that a stage id or name (case-insensitive) names: what
    `--stage Won` means when no pipeline is given (a team's deals need not be in the default one)."""
    text = str(ref).strip()
    condition = Stage.id == int(text) if text.isdigit() else func.lower(Stage.name) == text.lower()
    ids = list(session.scalars(select(Stage.id).join(Pipeline, Pipeline.id == Stage.pipeline_id)
                               .where(condition, Pipeline.archived.is_(False)).order_by(Stage.id)))
    if not ids:
        names = sorted({s.name for p in list_pipelines(session) for s in p.stages}, key=str.lower)
        raise NotFound(f"no stage {text!r} in any pipeline; stages: {', '.join(names)}")
    return ids


def add_stage(session: Session, *, pipeline_id: int, spec: StageSpec | dict, actor: Actor,
              position: int | None = None, now: datetime | None = None) -> StageRead:
    """Add a stage; by default the last open stage, before Won and Lost."""
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    pipeline = get_or_404(session, Pipeline, pipeline_id, "pipeline")
    spec = _spec(spec)
    if spec.kind != StageKind.OPEN:
        raise InvalidInput("a pipeline has exactly one won and one lost stage; new stages are open stages")
    stages = _stages(session, pipeline_id)
    if any(s.name.lower() == spec.name.lower() for s in stages):
        raise InvalidInput(f"stage {spec.name!r} already exists in pipeline {pipeline.name!r}")
    open_count = sum(1 for s in stages if s.kind == StageKind.OPEN)
    index = open_count if position is None else max(0, min(position, open_count))
    stage = Stage(pipeline_id=pipeline_id, created_at=now, updated_at=now, **spec.model_dump())
    stages.insert(index, stage)
    session.add(stage)
    _renumber(stages)
    flush(session, "stage", f"stage {spec.name!r}")
    audit(session, actor=actor, entity="stage", entity_id=stage.id, action="create", now=now,
          summary=f"{pipeline.name}: {stage.name} ({stage.probability}%)")
    return _stage_read(stage)


def _renumber(stages: list[Stage]) -> None:
    for i, stage in enumerate(stages):
        if stage.position != i:
            stage.position = i


def update_stage(session: Session, *, stage_id: int, actor: Actor, name: str | None = None,
                 probability: int | None = None, rotting_days: int | None = None, clear_rotting: bool = False,
                 version: int | None = None, now: datetime | None = None) -> StageRead:
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    stage = get_or_404(session, Stage, stage_id, "stage")
    check_version(session, stage, version, "stage", f"stage {stage.name!r}")
    values: dict = {}
    if name is not None:
        values["name"] = v.required_text(name, "stage name", max_length=100)
        clash = session.scalar(select(Stage.id).where(Stage.pipeline_id == stage.pipeline_id, Stage.id != stage.id,
                                                      func.lower(Stage.name) == values["name"].lower()))
        if clash is not None:
            raise InvalidInput(f"stage {values['name']!r} already exists in this pipeline")
    if probability is not None:
        values["probability"] = v.percent(probability)
    if rotting_days is not None or clear_rotting:
        values["rotting_days"] = (None if clear_rotting
                                  else v.non_negative(rotting_days, "rotting days", maximum=MAX_ROTTING_DAYS))
    changed = apply_changes(stage, values)
    if changed:
        stage.updated_at = now
        flush(session, "stage", f"stage {stage.name!r}")
        audit(session, actor=actor, entity="stage", entity_id=stage.id, action="update", now=now, changes=changed)
    return _stage_read(stage)


def move_stage(session: Session, *, stage_id: int, position: int, actor: Actor,
               now: datetime | None = None) -> list[StageRead]:
    """Reorder an open stage among the open stages (Won and Lost stay last)."""
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    stage = get_or_404(session, Stage, stage_id, "stage")
    if stage.kind != StageKind.OPEN:
        raise InvalidInput("the won and lost stages always come last")
    stages = _stages(session, stage.pipeline_id)
    open_stages = [s for s in stages if s.kind == StageKind.OPEN and s.id != stage.id]
    closed = [s for s in stages if s.kind != StageKind.OPEN]
    old = stage.position
    open_stages.insert(max(0, min(position, len(open_stages))), stage)
    _renumber(open_stages + closed)
    if stage.position != old:
        flush(session, "stage", f"stage {stage.name!r}")
        audit(session, actor=actor, entity="stage", entity_id=stage.id, action="reorder", now=now,
              changes={"position": (old, stage.position)})
    return [_stage_read(s) for s in open_stages + closed]


def delete_stage(session: Session, *, stage_id: int, actor: Actor, move_to_stage_id: int | None = None,
                 now: datetime | None = None) -> int:
    """Delete a stage. Its deals move to `move_to_stage_id`, which is required when it has any.
    Returns how many deals moved."""
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    stage = get_or_404(session, Stage, stage_id, "stage")
    if stage.kind != StageKind.OPEN:
        raise InvalidInput("the won and lost stages cannot be deleted")
    stages = _stages(session, stage.pipeline_id)
    if sum(1 for s in stages if s.kind == StageKind.OPEN) == 1:
        raise InvalidInput("a pipeline needs at least one open stage")
    count = session.scalar(select(func.count()).select_from(Deal).where(Deal.stage_id == stage.id))
    if count and move_to_stage_id is None:
        raise InvalidInput(f"stage {stage.name!r} has {count} deal(s); choose a stage to move them to")
    if count:
        target = get_or_404(session, Stage, move_to_stage_id, "stage")
        if target.pipeline_id != stage.pipeline_id or target.id == stage.id:
            raise InvalidInput("move the deals to another stage of the same pipeline")
        if target.kind != StageKind.OPEN:
            raise InvalidInput("move the deals to an open stage; mark them won or lost one by one")
        _require_moving(session, actor, stage, count)
        _move_all_deals(session, stage, target, actor, now)
    audit(session, actor=actor, entity="stage", entity_id=stage.id, action="delete", now=now,
          summary=f"{stage.name} deleted; {count} deal(s) moved")
    session.delete(stage)
    flush(session, "stage", f"stage {stage.name!r}")
    _renumber([s for s in stages if s.id != stage.id])
    flush(session, "stage", "stages")
    return count


def _require_moving(session: Session, actor: Actor, stage: Stage, count: int) -> None:
    """Moving the stage's deals is a change of each deal: it needs deal.edit on every owner's deals,
    as moving them one by one would. The stage row and the deals are locked first (FOR UPDATE on
    PostgreSQL), so no deal enters the stage or changes hands between this check and the move."""
    session.get(Stage, stage.id, with_for_update=True)
    owners = {owner for _, owner in session.execute(
        select(Deal.id, Deal.owner_id).where(Deal.stage_id == stage.id).with_for_update())}
    for owner in owners:
        try:
            permissions.require(session, actor, "deal.edit", owner=owner)
        except Forbidden as exc:
            raise Forbidden(f"{exc.message} (deleting stage {stage.name!r} would move its {count} deal(s))") from None


def _move_all_deals(session: Session, source: Stage, target: Stage, actor: Actor, now: datetime) -> None:
    """Set-based: one audit row and one stage-change activity per deal from a SELECT, then one
    UPDATE (bumping each version)."""
    session.execute(insert(Activity).from_select(
        ["kind", "occurred_at", "subject", "deal_id", "contact_id", "company_id", "user_id", "outcome", "version",
         "created_at", "updated_at"],
        select(literal(ActivityKind.STAGE_CHANGE.value), literal(now, Activity.occurred_at.type),
               literal(f"{source.name} → {target.name} (stage deleted)"), Deal.id, Deal.contact_id, Deal.company_id,
               literal(actor.user_id, Activity.user_id.type), literal("open"), literal(1),
               literal(now, Activity.created_at.type), literal(now, Activity.updated_at.type))
        .where(Deal.stage_id == source.id),
    ))
    session.execute(insert(AuditEvent).from_select(
        ["at", "actor_id", "actor", "via", "entity", "entity_id", "action", "field", "old_value", "new_value"],
        select(literal(now, AuditEvent.at.type), literal(actor.user_id), literal(actor.login),
               literal(actor.via, AuditEvent.via.type), literal("deal"),
               Deal.id, literal("move"), literal("stage_id"), literal(str(source.id)), literal(str(target.id)))
        .where(Deal.stage_id == source.id),
    ))
    session.execute(
        update(Deal).where(Deal.stage_id == source.id)
        .values(stage_id=target.id, stage_entered_at=now, updated_at=now, version=Deal.version + 1)
        .execution_options(synchronize_session=False)
    )


def stage_deal_counts(session: Session, *, pipeline_id: int) -> dict[int, int]:
    """{stage id: deals in it (archived ones too: deleting the stage would move them)}, one GROUP BY."""
    rows = session.execute(select(Deal.stage_id, func.count(Deal.id)).where(Deal.pipeline_id == pipeline_id)
                           .group_by(Deal.stage_id)).all()
    return {stage_id: int(n) for stage_id, n in rows}


# --- lost reasons ---------------------------------------------------------------------------


def list_lost_reasons(session: Session) -> list[str]:
    """The team's lost reasons in order (a seller may also type their own)."""
    return list(session.scalars(select(LostReason.name).where(LostReason.archived.is_(False))
                                .order_by(LostReason.position, LostReason.id)))


def add_lost_reason(session: Session, *, name: str, actor: Actor, now: datetime | None = None) -> list[str]:
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    name = v.required_text(name, "lost reason", max_length=200)
    existing = session.scalars(select(LostReason).where(func.lower(LostReason.name) == name.lower())).first()
    position = (session.scalar(select(func.max(LostReason.position))) or 0) + 1
    if existing is not None and not existing.archived:
        raise InvalidInput(f"lost reason {name!r} is already in the list")
    if existing is not None:
        existing.archived, existing.position, existing.updated_at = False, position, now
        reason = existing
    else:
        reason = LostReason(name=name, position=position, created_at=now, updated_at=now)
        session.add(reason)
    flush(session, "lost_reason", f"lost reason {name!r}")
    audit(session, actor=actor, entity="lost_reason", entity_id=reason.id, action="create", now=now, summary=name)
    return list_lost_reasons(session)


def remove_lost_reason(session: Session, *, name: str, actor: Actor, now: datetime | None = None) -> list[str]:
    """Take a reason off the list (deals lost for it keep their reason)."""
    now = resolve_now(now)
    permissions.require(session, actor, "pipeline.admin")
    text = (name or "").strip()
    reason = session.scalars(select(LostReason).where(func.lower(LostReason.name) == text.lower(),
                                                      LostReason.archived.is_(False))).first()
    if reason is None:
        raise NotFound(f"no lost reason {text!r}; reasons: {', '.join(list_lost_reasons(session)) or '(none)'}")
    reason.archived, reason.updated_at = True, now
    flush(session, "lost_reason", f"lost reason {reason.name!r}")
    audit(session, actor=actor, entity="lost_reason", entity_id=reason.id, action="archive", now=now,
          summary=reason.name)
    return list_lost_reasons(session)
