"""Deals: create, edit, move between stages, win, lose, reopen, list by keyset, and sum per company."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, ActivityKind, Company, Contact, Deal, DealStatus, Pipeline, Stage, StageKind, User
from crm_tui.models.product import DealItem
from crm_tui.models.schemas import DealCreate, DealFilter, DealRead, DealRow, DealUpdate
from crm_tui.services import deal_list, fields, permissions, sequences
from crm_tui.services import validation as v
from crm_tui.services.common import (
    Actor,
    apply_changes,
    audit,
    check_version,
    flush,
    get_or_404,
    parse_shape,
    set_archived,
)
from crm_tui.services.dates import day_in_range, parse_day, team_zone
from crm_tui.services.paging import Page

ENTITY = "deal"
DEFAULT_CURRENCY = "USD"  # when neither the deal nor the config names one


def _label(deal: Deal) -> str:
    return f"deal {deal.title!r}"


def _close_date(value: date | str | None, actor: Actor, now: datetime) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return day_in_range(value)
    if not str(value).strip():
        return None
    # a calendar day in the team's zone: "end of month" is the same day for everyone, and the
    # forecast buckets it there
    return parse_day(str(value), now=now, zone=team_zone(actor), order=actor.date_order)


def _check_links(session: Session, values: dict) -> None:
    if values.get("company_id") is not None:
        get_or_404(session, Company, values["company_id"], "company")
    if values.get("contact_id") is not None:
        get_or_404(session, Contact, values["contact_id"], "contact")
    if values.get("owner_id") is not None:
        get_or_404(session, User, values["owner_id"], "user")


def create_deal(session: Session, *, data: DealCreate | dict, actor: Actor, now: datetime | None = None,
                default_currency: str = DEFAULT_CURRENCY, custom: dict | None = None) -> DealRead:
    """Add a deal; `custom`: its custom values (typed fields checked, defaults filled in:
    services/fields.py)."""
    data = parse_shape(DealCreate, data)
    now = resolve_now(now)
    permissions.require(session, actor, "deal.edit", owner=actor.user_id if data.owner_id is None else data.owner_id)
    title = v.required_text(data.title, "deal title")
    currency = v.currency_code(data.currency or default_currency)
    amount = v.money(data.amount, currency, locale=actor.locale)
    if data.pipeline_id is not None:
        pipeline = get_or_404(session, Pipeline, data.pipeline_id, "pipeline")
    else:
        pipeline = session.scalars(select(Pipeline).where(Pipeline.archived.is_(False))
                                   .order_by(Pipeline.is_default.desc(), Pipeline.position)).first()
        if pipeline is None:
            raise InvalidInput("there is no pipeline; add one first", see="crm pipeline add NAME")
    stage = _stage_for(session, pipeline, data.stage_id)
    values = {"company_id": data.company_id, "contact_id": data.contact_id, "owner_id": data.owner_id}
    _check_links(session, values)
    if values["company_id"] is None and values["contact_id"] is not None:
        values["company_id"] = session.get(Contact, values["contact_id"]).company_id
    deal = Deal(
        title=title, title_key=v.fold(title), pipeline_id=pipeline.id, stage_id=stage.id,
        amount_minor=amount, currency=currency, expected_close=_close_date(data.expected_close, actor, now),
        status=DealStatus.OPEN, stage_entered_at=now, created_at=now, updated_at=now,
        owner_id=values["owner_id"] if values["owner_id"] is not None else actor.user_id,
        company_id=values["company_id"], contact_id=values["contact_id"],
        custom=fields.new_record_values(session, ENTITY, custom),
    )
    if stage.kind != StageKind.OPEN:
        raise InvalidInput("a new deal starts in an open stage; mark it won or lost afterwards")
    session.add(deal)
    flush(session, ENTITY, _label(deal))
    audit(session, actor=actor, entity=ENTITY, entity_id=deal.id, action="create", now=now,
          summary=f"{title} ({v.format_money(amount, currency)}) in {stage.name}")
    return get_deal(session, deal_id=deal.id)


def _stage_for(session: Session, pipeline: Pipeline, stage_id: int | None) -> Stage:
    if stage_id is not None:
        stage = get_or_404(session, Stage, stage_id, "stage")
        if stage.pipeline_id != pipeline.id:
            raise InvalidInput(f"stage {stage.name!r} is not in pipeline {pipeline.name!r}")
        return stage
    stage = session.scalars(select(Stage).where(Stage.pipeline_id == pipeline.id, Stage.kind == StageKind.OPEN)
                            .order_by(Stage.position)).first()
    if stage is None:
        raise InvalidInput(f"pipeline {pipeline.name!r} has no open stage")
    return stage


def update_deal(session: Session, *, deal_id: int, changes: DealUpdate | dict, actor: Actor,
                version: int | None = None, now: datetime | None = None) -> DealRead:
    changes = parse_shape(DealUpdate, changes)
    now = resolve_now(now)
    deal = get_or_404(session, Deal, deal_id, "deal")
    permissions.require(session, actor, "deal.edit", owner=deal.owner_id)
    check_version(session, deal, version, ENTITY, _label(deal))
    values = changes.model_dump(exclude_unset=True)
    permissions.require_assign(session, actor, "deal.assign", old=deal.owner_id, new=values.get("owner_id", deal.owner_id))
    if "title" in values:
        values["title"] = v.required_text(values["title"], "deal title")
        values["title_key"] = v.fold(values["title"])
    currency = v.currency_code(values.pop("currency", None) or deal.currency)
    values["currency"] = currency
    if "amount" in values:
        values["amount_minor"] = v.money(values.pop("amount") or 0, currency, locale=actor.locale)
    _refuse_manual_total(session, deal, values)
    if "expected_close" in values:
        values["expected_close"] = _close_date(values["expected_close"], actor, now)
    _check_links(session, values)
    changed = apply_changes(deal, values)
    changed.pop("title_key", None)
    if changed:
        deal.updated_at = now
        flush(session, ENTITY, _label(deal))
        audit(session, actor=actor, entity=ENTITY, entity_id=deal.id, action="update", now=now, changes=changed)
    return get_deal(session, deal_id=deal.id)


def _refuse_manual_total(session: Session, deal: Deal, values: dict) -> None:
    """A deal with line items has their total as its amount, priced in its currency: a manual
    amount or currency change is refused (services/deal_items.py)."""
    amount = values.get("amount_minor", deal.amount_minor) != deal.amount_minor
    currency = values.get("currency", deal.currency) != deal.currency
    if not (amount or currency):
        return
    count = session.scalar(select(func.count(DealItem.id)).where(DealItem.deal_id == deal.id))
    if count:
        what = "amount" if amount else "currency"
        raise InvalidInput(f"{_label(deal)} has {count} line item{'s' if count != 1 else ''}: its amount is their "
                           f"total, so its {what} cannot be set by hand; change the items instead",
                           see=f"crm deal item list {deal.id}")


def _check_move(session: Session, deal: Deal, version: int | None, from_stage_id: int | None) -> None:
    """A move decided on a stale view of the deal (`version`). When the deal is still in the stage
    the mover saw it in (`from_stage_id`), a teammate changed other fields only, and the move
    applies on top of their change; when it was moved meanwhile, or the caller cannot say where it
    saw it, the move is refused, naming who changed it."""
    if version is None or deal.version == version:
        return
    if from_stage_id is not None and deal.stage_id == from_stage_id:
        return
    label = _label(deal)
    if from_stage_id is not None:
        label += f" (now in {session.get(Stage, deal.stage_id).name})"
    check_version(session, deal, version, ENTITY, label)


def overturns(current_status: str, target_kind: str) -> bool:
    """Whether closing a deal this way reverses how it closed: a lost deal won, a won deal lost.
    Every path asks the person first (the app's confirmation, the CLI's --yes)."""
    return {current_status, target_kind} == {DealStatus.WON.value, DealStatus.LOST.value}


def move_deal(session: Session, *, deal_id: int, stage_id: int, actor: Actor, version: int | None = None,
              now: datetime | None = None, lost_reason: str | None = None,
              from_stage_id: int | None = None, overturn: bool = False) -> DealRead:
    """Put a deal in another stage of its pipeline: resets the time in stage, logs the change as an
    activity and an audit event. Moving to the won or lost stage closes it; out of one reopens it.
    `from_stage_id`: the stage the mover saw the deal in (see _check_move). Winning a lost deal or
    losing a won one needs `overturn`: the person confirmed it."""
    now = resolve_now(now)
    deal = get_or_404(session, Deal, deal_id, "deal")
    permissions.require(session, actor, "deal.edit", owner=deal.owner_id)
    _check_move(session, deal, version, from_stage_id)
    target = get_or_404(session, Stage, stage_id, "stage")
    if target.pipeline_id != deal.pipeline_id:
        raise InvalidInput(f"stage {target.name!r} is not in this deal's pipeline")
    if target.id == deal.stage_id:
        return get_deal(session, deal_id=deal.id)
    if overturns(deal.status, target.kind) and not overturn:
        raise InvalidInput(f"{_label(deal)} was {deal.status}; marking it {target.kind} needs your confirmation "
                           "(--yes)")
    source = session.get(Stage, deal.stage_id)
    status = {StageKind.OPEN: DealStatus.OPEN, StageKind.WON: DealStatus.WON, StageKind.LOST: DealStatus.LOST}[
        StageKind(target.kind)]
    values: dict = {"stage_id": target.id, "status": status.value}
    if status == DealStatus.LOST:
        values["lost_reason"] = v.required_text(lost_reason, "lost reason", max_length=500)
    else:
        values["lost_reason"] = None
    values["closed_at"] = now if status != DealStatus.OPEN else None
    changed = apply_changes(deal, values)
    deal.stage_entered_at = now
    deal.updated_at = now
    flush(session, ENTITY, _label(deal))
    action = {DealStatus.OPEN: "move", DealStatus.WON: "won", DealStatus.LOST: "lost"}[status]
    if source.kind != StageKind.OPEN and status == DealStatus.OPEN:
        action = "reopen"
    audit(session, actor=actor, entity=ENTITY, entity_id=deal.id, action=action, now=now, changes=changed)
    if status != DealStatus.OPEN and deal.contact_id is not None:  # won or lost: their sequences stop
        sequences.stop_for_contacts(session, [deal.contact_id], f"deal_{status.value}", actor=actor, now=now)
    subject = f"{source.name} → {target.name}"
    session.add(Activity(
        kind=ActivityKind.STAGE_CHANGE, occurred_at=now, subject=subject, deal_id=deal.id, contact_id=deal.contact_id,
        company_id=deal.company_id, user_id=actor.user_id, body=values.get("lost_reason"),
        outcome=status.value, created_at=now, updated_at=now,
    ))
    flush(session, "activity", "activity")
    return get_deal(session, deal_id=deal.id)


def step_deal(session: Session, *, deal_id: int, step: int, actor: Actor, version: int | None = None,
              now: datetime | None = None, from_stage_id: int | None = None) -> DealRead:
    """Move an open deal to the next (step 1) or previous (step -1) open stage of its pipeline."""
    if step not in (-1, 1):
        raise InvalidInput("a deal steps one stage forward or back")
    deal = get_or_404(session, Deal, deal_id, "deal")
    _check_move(session, deal, version, from_stage_id)  # a step from where the deal no longer is would go wrong
    if deal.status != DealStatus.OPEN:
        raise InvalidInput(f"{_label(deal)} is {deal.status}; move it to an open stage first", see="crm deal move")
    stages = list(session.scalars(select(Stage.id).where(Stage.pipeline_id == deal.pipeline_id,
                                                         Stage.kind == StageKind.OPEN)
                                  .order_by(Stage.position, Stage.id)))
    index = stages.index(deal.stage_id) + step
    if not 0 <= index < len(stages):
        where = "first" if step < 0 else "last open"
        hint = "" if step < 0 else "; mark it won or lost"
        raise InvalidInput(f"{_label(deal)} is already in the {where} stage{hint}")
    return move_deal(session, deal_id=deal_id, stage_id=stages[index], actor=actor, version=version, now=now,
                     from_stage_id=from_stage_id)


def _closing_stage(session: Session, deal: Deal, kind: StageKind) -> Stage:
    stage = session.scalars(select(Stage).where(Stage.pipeline_id == deal.pipeline_id, Stage.kind == kind)).first()
    if stage is None:
        raise InvalidInput(f"this deal's pipeline has no {kind.value} stage")
    return stage


def mark_won(session: Session, *, deal_id: int, actor: Actor, version: int | None = None,
             now: datetime | None = None, from_stage_id: int | None = None, overturn: bool = False) -> DealRead:
    deal = get_or_404(session, Deal, deal_id, "deal")
    if deal.status == DealStatus.WON:
        raise InvalidInput(f"{_label(deal)} is already won")
    stage = _closing_stage(session, deal, StageKind.WON)
    return move_deal(session, deal_id=deal_id, stage_id=stage.id, actor=actor, version=version, now=now,
                     from_stage_id=from_stage_id, overturn=overturn)


def mark_lost(session: Session, *, deal_id: int, reason: str, actor: Actor, version: int | None = None,
              now: datetime | None = None, from_stage_id: int | None = None, overturn: bool = False) -> DealRead:
    deal = get_or_404(session, Deal, deal_id, "deal")
    if deal.status == DealStatus.LOST:
        raise InvalidInput(f"{_label(deal)} is already lost")
    stage = _closing_stage(session, deal, StageKind.LOST)
    return move_deal(session, deal_id=deal_id, stage_id=stage.id, actor=actor, version=version, now=now,
                     lost_reason=reason, from_stage_id=from_stage_id, overturn=overturn)


def reopen_deal(session: Session, *, deal_id: int, actor: Actor, stage_id: int | None = None,
                version: int | None = None, now: datetime | None = None) -> DealRead:
    """Put a won or lost deal back in an open stage of its pipeline (the first one unless given)."""
    deal = get_or_404(session, Deal, deal_id, "deal")
    if deal.status == DealStatus.OPEN:
        raise InvalidInput(f"{_label(deal)} is open already: move it to another stage instead", see="crm deal move")
    open_stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == deal.pipeline_id,
                                                           Stage.kind == StageKind.OPEN)
                                       .order_by(Stage.position, Stage.id)))
    if stage_id is None:
        target = open_stages[0]
    else:
        target = next((s for s in open_stages if s.id == stage_id), None)
        if target is None:
            names = ", ".join(s.name for s in open_stages)
            raise InvalidInput(f"a deal reopens in an open stage of its pipeline: {names}")
    return move_deal(session, deal_id=deal_id, stage_id=target.id, actor=actor, version=version, now=now)


def set_deal_archived(session: Session, *, deal_id: int, archived: bool, actor: Actor,
                      version: int | None = None, now: datetime | None = None) -> DealRead:
    permissions.require(session, actor, "deal.edit", owner=permissions.owner_of(session, Deal, deal_id))
    set_archived(session, Deal, id_=deal_id, archived=archived, actor=actor, entity=ENTITY, label=_label,
                 version=version, now=resolve_now(now))
    return get_deal(session, deal_id=deal_id)


def get_deal(session: Session, *, deal_id: int) -> DealRead:
    deal = get_or_404(session, Deal, deal_id, "deal")
    stage = session.get(Stage, deal.stage_id)
    pipeline = session.get(Pipeline, deal.pipeline_id)
    company = session.get(Company, deal.company_id) if deal.company_id else None
    contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
    owner = session.get(User, deal.owner_id) if deal.owner_id else None
    return DealRead.model_validate(deal, from_attributes=True, update={
        "stage_name": stage.name, "probability": stage.probability, "pipeline_name": pipeline.name,
        "company_name": company.name if company else None, "contact_name": contact.full_name if contact else None,
        "owner_login": owner.login if owner else None,
    })


def list_deals(session: Session, *, pipeline_id: int | None = None, stage_id: int | None = None,
               stage_ids: list[int] | None = None, status: str | None = None, owner_id: int | None = None,
               company_id: int | None = None, contact_id: int | None = None, query: str | None = None,
               archived: bool = False, sort: str = "title", after: str | None = None, before: str | None = None,
               limit: int = 50, with_total: bool = False) -> Page[DealRow]:
    """A page of deals by these filters, as keywords: the deals list's one query (services/deal_list.py)."""
    filters = DealFilter(pipeline_id=pipeline_id, stage_ids=[stage_id] if stage_id is not None else stage_ids,
                         status=[status] if status else None, owner_id=owner_id, company_id=company_id,
                         contact_id=contact_id, archived=archived)
    return deal_list.list_deals(session, query=query, filters=filters, sort=sort, after=after, before=before,
                                limit=limit, with_total=with_total)


# --- an account's deals in sum ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DealTotal:
    """The deals of one status in one currency: how many, and their amounts added up."""

    status: str
    currency: str
    count: int
    amount_minor: int


@dataclass(frozen=True)
class DealSummary:
    """Deal counts and sums per status and currency (amounts of different currencies never add)."""

    totals: tuple[DealTotal, ...] = ()

    def count(self, status: str | None = None) -> int:
        return sum(t.count for t in self.totals if status is None or t.status == status)

    def amounts(self, status: str) -> dict[str, int]:
        """{currency: amount in minor units} of the deals in `status`."""
        return {t.currency: t.amount_minor for t in self.totals if t.status == status}


_STATUS_ORDER = {status.value: i for i, status in enumerate(DealStatus)}


def company_deal_summary(session: Session, *, company_id: int) -> DealSummary:
    """A company's (unarchived) deals, counted and summed per status and currency by one GROUP BY."""
    get_or_404(session, Company, company_id, "company")
    rows = session.execute(
        select(Deal.status, Deal.currency, func.count(Deal.id).label("n"), func.sum(Deal.amount_minor).label("total"))
        .where(Deal.company_id == company_id, Deal.archived.is_(False))
        .group_by(Deal.status, Deal.currency)
    ).all()
    totals = sorted((DealTotal(r.status, r.currency, int(r.n), int(r.total or 0)) for r in rows),
                    key=lambda t: (_STATUS_ORDER.get(t.status, len(_STATUS_ORDER)), t.currency))
    return DealSummary(tuple(totals))
