"""The pipeline board's reads: one column's cards a keyset page at a time (with each card's next
task), the header totals of every column in one GROUP BY, and a deal's stage history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from crm_tui.errors import InvalidInput
from crm_tui.models import AuditEvent, Company, Deal, Stage, StageKind, Task, User
from crm_tui.services import validation as v
from crm_tui.services.common import get_or_404
from crm_tui.services import paging
from crm_tui.services.paging import Page, SortKey, keyset_page
from crm_tui.services.search import like_pattern
# the board's plain shapes and rules (no ORM: the board's first frame is drawn with them before it loads)
from crm_tui.shapes import (  # noqa: F401 - the services' names for them
    CLOSE_PERIODS, BoardFilter, BoardTotals, Card, Money, StageTotal, days_in_stage, is_stale,
)

# open columns show the deal longest in its stage first (the one going stale); Won and Lost the newest
OLDEST_IN_STAGE = SortKey(Deal.stage_entered_at, Deal.id)
NEWEST_IN_STAGE = SortKey(Deal.stage_entered_at, Deal.id, descending=True)


@dataclass(frozen=True)
class StageStay:
    """One stay of a deal in a stage: when it entered, when it left (None: still there), how long."""

    stage_id: int | None
    stage_name: str
    entered_at: datetime
    left_at: datetime | None
    days: int


# --- rules ------------------------------------------------------------------------------------


def stale_before(rotting_days: int, now: datetime) -> datetime:
    """A deal that entered its stage at or before this moment is stale (days > rotting_days)."""
    return now - timedelta(days=rotting_days + 1)


def close_range(period: str, now: datetime, zone: tzinfo) -> tuple[date | None, date | None]:
    """[start, end) of an expected-close period in the user's calendar; None means unbounded."""
    if period not in CLOSE_PERIODS:
        raise InvalidInput(f"invalid close period {period!r}: choose one of {', '.join(CLOSE_PERIODS)}")
    today = now.astimezone(zone).date()
    month = today.replace(day=1)
    quarter = month.replace(month=(month.month - 1) // 3 * 3 + 1)
    if period == "overdue":
        return None, today
    if period == "this_week":
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=7)
    if period == "this_month":
        return month, _add_months(month, 1)
    if period == "next_month":
        return _add_months(month, 1), _add_months(month, 2)
    if period == "this_quarter":
        return quarter, _add_months(quarter, 3)
    if period == "next_quarter":
        return _add_months(quarter, 3), _add_months(quarter, 6)
    return None, None


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1, day=1)


def _conditions(filters: BoardFilter, stages: list[Stage], now: datetime, zone: tzinfo) -> list:
    conditions = [Deal.archived.is_(False)]
    if filters.owner_id is not None:
        conditions.append(Deal.owner_id == filters.owner_id)
    text = v.fold(filters.text or "")
    if text:
        pattern = like_pattern(text)
        companies = select(Company.id).where(Company.name_key.like(pattern, escape="\\"))
        conditions.append(or_(Deal.title_key.like(pattern, escape="\\"), Deal.company_id.in_(companies)))
    if filters.close == "none":
        conditions.append(Deal.expected_close.is_(None))
    elif filters.close != "any":
        start, end = close_range(filters.close, now, zone)
        if start is not None:
            conditions.append(Deal.expected_close >= start)
        if end is not None:
            conditions.append(Deal.expected_close < end)
    if filters.stale_only:
        rotting = [and_(Deal.stage_id == s.id, Deal.stage_entered_at <= stale_before(s.rotting_days, now))
                   for s in stages if s.rotting_days is not None and s.kind == StageKind.OPEN]
        conditions.append(or_(*rotting) if rotting else false())
    return conditions


# --- a column, a page at a time ---------------------------------------------------------------


# built once: making a statement (and its joins) costs more than SQLite takes to run it
_NEXT = aliased(Task, name="next_task")
# a deal's next task: its first task with the open ones first, then the earliest due, undated last
# (looked up per card through ix_tasks_deal_id; done_at stays out of the subquery's WHERE, or SQLite
# would walk the done_at index over every open task of the CRM). It counts only if it is open.
_NEXT_TASK_ID = (
    select(Task.id).where(Task.deal_id == Deal.id)
    .order_by(Task.done_at.is_not(None), Task.due_at.is_(None), Task.due_at, Task.id)
    .limit(1).correlate(Deal).scalar_subquery()
)
# the page and each card's next task in one query (a second query per page cost more in Python
# than both take in the database)
_CARDS = (
    select(Deal.id, Deal.title, Company.name.label("company_name"), User.login.label("owner_login"),
           Deal.amount_minor, Deal.currency, Deal.expected_close, Deal.stage_id, Deal.stage_entered_at,
           Deal.status, Deal.version, _NEXT.title.label("next_task"), _NEXT.due_at.label("next_task_due"))
    .outerjoin(Company, Company.id == Deal.company_id)
    .outerjoin(User, User.id == Deal.owner_id)
    .outerjoin(_NEXT, and_(_NEXT.id == _NEXT_TASK_ID, _NEXT.done_at.is_(None)))
)


def _card_key(row) -> tuple[datetime, int]:
    return row[8], row[0]  # stage_entered_at, id


def column_page(session: Session, *, stage_id: int, filters: BoardFilter | None = None, now: datetime,
                zone: tzinfo, after: str | None = None, before: str | None = None,
                limit: int = 50) -> Page[Card]:
    """One keyset page of a stage's deals, each with its next open task (one query for the page,
    never one per card)."""
    stage = get_or_404(session, Stage, stage_id, "stage")
    filters = filters or BoardFilter()
    stmt = _CARDS.where(Deal.stage_id == stage.id, *_conditions(filters, [stage], now, zone))
    rows, next_, prev_ = keyset_page(session, stmt, _column_key(stage), row_key=_card_key, after=after,
                                     before=before, limit=limit)
    return Page([Card(*row) for row in rows], next_, prev_)


def first_pages(session: Session, *, stages: list, filters: BoardFilter | None = None, now: datetime,
                zone: tzinfo, limit: int = 50) -> list[Page[Card]]:
    """The first page of each of `stages` (the caller's stage records: id, kind, rotting_days), the
    same pages column_page gives, in one query (paging.first_pages). A board opens with all of
    them; one statement per column cost several times what the database takes to run them all."""
    filters = filters or BoardFilter()
    walks = [(_CARDS.where(Deal.stage_id == stage.id, *_conditions(filters, [stage], now, zone)), _column_key(stage))
             for stage in stages]
    index = {stage.id: i for i, stage in enumerate(stages)}
    found = paging.first_pages(session, walks, row_key=_card_key, walk_of=lambda row: index[row[7]],  # stage_id
                               limit=limit)
    return [Page([Card(*row) for row in rows], next_) for rows, next_ in found]


def _column_key(stage) -> SortKey:
    return OLDEST_IN_STAGE if stage.kind == StageKind.OPEN else NEWEST_IN_STAGE


# --- the headers, in one aggregate ----------------------------------------------------------------


def board_totals(session: Session, *, pipeline_id: int, filters: BoardFilter | None = None, now: datetime,
                 zone: tzinfo, convert_to: str | None = None) -> BoardTotals:
    """Count, amount and weighted amount of every stage under the filter: one GROUP BY over the
    pipeline's deals (per stage and currency; amounts in different currencies never add). With
    `convert_to`, every deal is converted into that currency at the rate of its close day (today's
    for open deals; services/conversion.py) and one sum per stage is made; the deals with no rate
    are counted in `unconverted`."""
    filters = filters or BoardFilter()
    stages = list(session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id)))
    if convert_to is not None:
        return _converted_totals(session, pipeline_id, stages, filters, now, zone, v.currency_code(convert_to))
    rows = session.execute(
        select(Deal.stage_id, Deal.currency, func.count(Deal.id).label("n"),
               func.coalesce(func.sum(Deal.amount_minor), 0).label("total"))
        .where(Deal.pipeline_id == pipeline_id, *_conditions(filters, stages, now, zone))
        .group_by(Deal.stage_id, Deal.currency)
    ).all()
    by_stage: dict[int, list] = {}
    for row in rows:  # one row per stage and currency: a handful, not one per deal
        by_stage.setdefault(row.stage_id, []).append(row)
    probability = {s.id: s.probability for s in stages}
    open_ids = {s.id for s in stages if s.kind == StageKind.OPEN}
    totals, open_sum, forecast, open_count = {}, {}, {}, 0
    for stage_id, group in by_stage.items():
        group.sort(key=lambda r: (-int(r.total), r.currency))
        amounts = tuple(Money(r.currency, int(r.total)) for r in group)
        weighted = tuple(Money(m.currency, m.amount_minor * probability.get(stage_id, 0) // 100) for m in amounts)
        count = sum(int(r.n) for r in group)
        totals[stage_id] = StageTotal(stage_id, count, amounts, weighted)
        if stage_id in open_ids:
            open_count += count
            for m, w in zip(amounts, weighted, strict=True):
                open_sum[m.currency] = open_sum.get(m.currency, 0) + m.amount_minor
                forecast[m.currency] = forecast.get(m.currency, 0) + w.amount_minor
    order = sorted(open_sum, key=lambda c: (-open_sum[c], c))
    return BoardTotals(totals, open_count, tuple(Money(c, open_sum[c]) for c in order),
                       tuple(Money(c, forecast[c]) for c in order))


def _converted_totals(session: Session, pipeline_id: int, stages: list[Stage], filters: BoardFilter, now: datetime,
                      zone: tzinfo, team: str) -> BoardTotals:
    from crm_tui.services import conversion  # babel's currency table: loaded when first converting

    amount = conversion.deal_amount(team, now.astimezone(zone).date())
    inner = (select(Deal.stage_id, amount.label("a"))
             .where(Deal.pipeline_id == pipeline_id, *_conditions(filters, stages, now, zone)).subquery())
    rows = session.execute(
        select(inner.c.stage_id, func.count().label("n"), func.coalesce(func.sum(inner.c.a), 0).label("total"),
               func.count(inner.c.a).label("priced")).group_by(inner.c.stage_id)).all()
    probability = {s.id: s.probability for s in stages}
    open_ids = {s.id for s in stages if s.kind == StageKind.OPEN}
    totals, open_count, open_sum, forecast, missing = {}, 0, 0, 0, 0
    for row in rows:
        total = int(row.total)
        weighted = total * probability.get(row.stage_id, 0) // 100
        totals[row.stage_id] = StageTotal(row.stage_id, int(row.n), (Money(team, total),), (Money(team, weighted),))
        missing += int(row.n) - int(row.priced)
        if row.stage_id in open_ids:
            open_count, open_sum, forecast = open_count + int(row.n), open_sum + total, forecast + weighted
    return BoardTotals(totals, open_count, (Money(team, open_sum),), (Money(team, forecast),), team, missing)


# --- a deal's way through the stages -----------------------------------------------------------------


def stage_history(session: Session, *, deal_id: int, now: datetime) -> list[StageStay]:
    """Each stage the deal was in, oldest first, from the audit trail of its stage changes (one
    indexed query); the current stay starts at the deal's stage_entered_at."""
    deal = get_or_404(session, Deal, deal_id, "deal")
    moves = session.execute(
        select(AuditEvent.at, AuditEvent.old_value, AuditEvent.new_value)
        .where(AuditEvent.entity == "deal", AuditEvent.entity_id == deal_id, AuditEvent.field == "stage_id")
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    stays: list[tuple[int | None, datetime]] = [(_stage_id(moves[0].old_value) if moves else deal.stage_id,
                                                 deal.created_at)]
    stays += [(_stage_id(m.new_value), m.at) for m in moves]
    # the deal row is the authority on the current stay (imports and demo data have no audit of it)
    stays[-1] = (deal.stage_id, deal.stage_entered_at)
    names = dict(session.execute(select(Stage.id, Stage.name).where(
        Stage.id.in_({s for s, _ in stays if s is not None}))).all())
    out = []
    for i, (stage_id, entered) in enumerate(stays):
        left = stays[i + 1][1] if i + 1 < len(stays) else None
        out.append(StageStay(stage_id, names.get(stage_id, "(deleted stage)"), entered, left,
                             max(0, ((left or now) - entered).days)))
    return out


def _stage_id(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
