"""The catalogue of reports (name, title, what it takes, the permission it needs) and run_report, the
one way to compute one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import User
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor
from crm_tui.services.reports.periods import Period
from crm_tui.services.reports.queries import (
    activity_report, forecast_report, lost_reasons_report, pipeline_report, revenue_report, sources_report,
    stale_report, win_rate_report,
)
from crm_tui.services.reports.sales import (
    discount_report, quotes_report, revenue_by_product_report, revenue_by_product_seller_report,
)
from crm_tui.services.reports.service import (
    cases_report, csat_report, nps_report, report_scope, sla_report, times_report,
)
from crm_tui.services.reports.shapes import GROUPINGS, Report, Scope


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    summary: str
    run: Callable[[Session, Scope], Report]
    uses_pipeline: bool
    uses_period: bool = True
    groupings: tuple[str, ...] = ()  # besides the owner (see GROUPINGS)
    # sums deal amounts that --convert can convert into one currency (per currency otherwise)
    converts: bool = False
    # the permission it takes (and whose "own" scope limits it)
    needs: str = "report.view"


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("pipeline", "Pipeline by stage", "Open deals, amount and weighted per stage; stage-to-stage conversion",
               pipeline_report, True, converts=True),
    ReportSpec("forecast", "Forecast", "Open deals by month of expected close, raw and weighted, beside won",
               forecast_report, True, converts=True),
    ReportSpec("win-rate", "Win rate and sales cycle", "Won ÷ (won + lost), days to win; overall, by owner, by source",
               win_rate_report, True, groupings=("team",)),
    ReportSpec("revenue", "Revenue against goal", "Won amount per user per month or quarter against the goal",
               revenue_report, True, groupings=("team",), converts=True),
    ReportSpec("activity", "Team activity", "Calls, emails, meetings, notes per user per week; tasks done, overdue",
               activity_report, False, groupings=("team",)),
    ReportSpec("sources", "Sources", "New contacts per source per month, and each source's conversion",
               sources_report, False, needs="report.sources"),
    ReportSpec("stale", "Stale deals", "Open deals past their stage's rotting days, with owner and days in stage",
               stale_report, True, uses_period=False, converts=True),
    ReportSpec("lost-reasons", "Lost reasons", "Deals lost in the period: count and amount per reason",
               lost_reasons_report, True, converts=True),
    ReportSpec("revenue-by-product", "Revenue by product", "Won deals' items: net revenue per product, converted",
               revenue_by_product_report, True),
    ReportSpec("revenue-by-product-seller", "Revenue by product per seller",
               "Won deals' items: net revenue per deal owner and product, converted",
               revenue_by_product_seller_report, True),
    ReportSpec("quotes", "Quotes", "Created, sent, accepted, declined, expired; acceptance rate, days to accept",
               quotes_report, True),
    ReportSpec("discounts", "Average discount per seller", "Discount ÷ gross of won deals' items per owner",
               discount_report, True),
    # the service desk (issue 23): --owner is the case's assignee (the CSAT's agent, the NPS contact's owner)
    ReportSpec("cases", "Cases opened and closed", "Cases opened, resolved, closed per day, week or month; the "
               "backlog", cases_report, False, needs="case.view"),
    ReportSpec("case-times", "Response and resolution times", "Median and p90 minutes to first response and to "
               "resolution per agent, team, priority, category", times_report, False, needs="case.view"),
    ReportSpec("sla", "SLA hit rate", "First responses and resolutions on time per period, priority and team",
               sla_report, False, needs="case.view"),
    ReportSpec("csat", "Customer satisfaction (CSAT)", "Average and 1-5 distribution of CSAT answers per agent "
               "and team", csat_report, False, needs="case.view"),
    ReportSpec("nps", "Net Promoter Score (NPS)", "Promoters, passives, detractors and the score per period",
               nps_report, False, needs="case.view"),
)}


def _grouping(spec: ReportSpec, by: str | None) -> str:
    key = (by or "owner").strip().lower()
    if key not in GROUPINGS:
        raise InvalidInput(f"invalid grouping {by!r}: choose one of {', '.join(GROUPINGS)}")
    if key != "owner" and key not in spec.groupings:
        can = [name for name, other in REPORTS.items() if key in other.groupings]
        raise InvalidInput(f"report {spec.name} cannot group by {key}; these can: {', '.join(can)}")
    return key


def run_report(session: Session, *, name: str, period: Period, zone: tzinfo, currency: str,
               owner_id: int | None = None, pipeline_id: int | None = None, grain: str | None = None,
               now: datetime | None = None, actor: Actor | None = None, by: str | None = None,
               convert: bool = False) -> Report:
    """Compute one report. `zone` is the team's: every day, week and month boundary is there.
    `by` "team" groups the per-owner reports (revenue, win-rate, activity) by the owners' team.
    `convert` adds the deals of every currency, converted into `currency` at the rate of each
    deal's close day (today's for open deals), in the reports that sum deal amounts; by default
    they sum the deals in `currency` only and count the others in a note (the per-currency view).
    The product reports always convert."""
    spec = REPORTS.get((name or "").strip().lower())
    cases_of = None
    if spec is not None and spec.needs == "case.view":
        owner_id, cases_of = report_scope(session, actor, owner_id)
    else:
        owner_id = permissions.report_owner(session, actor, name or "", owner_id)
    if spec is None:
        raise InvalidInput(f"no report {name!r}: choose one of {', '.join(REPORTS)}")
    by = _grouping(spec, by)
    scope = Scope(period=period, zone=zone, now=resolve_now(now), currency=v.currency_code(currency),
                  owner_id=owner_id, pipeline_id=pipeline_id if spec.uses_pipeline else None, grain=grain, by=by,
                  convert=convert and spec.converts, cases_of=cases_of)
    report = spec.run(session, scope)
    report.zone = getattr(zone, "key", None) or str(zone)
    report.uses_period = spec.uses_period
    report.by = by
    report.converted = report.converted or scope.convert
    if spec.needs == "case.view":  # counts of cases and answers, no money; --owner picks an agent
        report.money, report.owner_word = False, "contact owner" if spec.name == "nps" else "agent"
    if owner_id is not None:
        report.owner_login = session.scalar(select(User.login).where(User.id == owner_id))
    return report
