"""What a report is made of: columns, rows, tables, a chart, the drill-down under a row, the scope asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from crm_tui.errors import InvalidInput
from crm_tui.services.reports.periods import Period


KINDS = ("call", "email", "meeting", "note")
CONVERTED_LIFECYCLES = ("customer", "former")
NO_VALUE = ""  # a drill-down's source or lost reason that was left empty (NULL in the database)
NO_TEAM = "(no team)"
# what the per-owner reports can group by instead of the owner (`crm report NAME --by team`)
GROUPINGS = ("owner", "team")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    # text, int, money (minor units of the report's currency), percent, days, day, week, month, quarter;
    # minutes (a wait, printed 3h 5m: words.span), score (2 decimals), signed (+12.5)
    kind: str = "text"


@dataclass(frozen=True)
class Drill:
    """What lies under a report row: the filter of a deal or contact list (see drill_page)."""

    entity: str  # "deal" or "contact"
    title: str
    status: tuple[str, ...] = ()
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    currency: str | None = None
    created: tuple[datetime, datetime] | None = None
    closed: tuple[datetime, datetime] | None = None
    expected: tuple[date, date] | None = None
    lost_reason: str | None = None  # NO_VALUE: no reason given
    source: str | None = None  # NO_VALUE: no source
    converted: bool = False
    stale: tuple[tuple[int, datetime], ...] = ()  # (stage id, entered before) pairs
    touched_by: int | None = None  # contacts with an activity by this user in `touched`
    team: str | None = None  # deals owned by users of this team (NO_VALUE: of no team)
    touched: tuple[datetime, datetime] | None = None
    sort: str = "amount"


@dataclass
class Row:
    values: dict[str, Any]
    drill: Drill | None = None


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[Row]
    total: dict[str, Any] | None = None


@dataclass
class Chart:
    """Bars per label; one or two series (the second is drawn beside the first)."""

    title: str
    labels: list[str]
    series: list[tuple[str, list[int]]]
    kind: str = "int"  # how to print the values: int, money or percent
    over_time: bool = False  # labels are consecutive periods (drawn as columns)


@dataclass
class Report:
    name: str
    title: str
    period: Period
    currency: str
    owner_id: int | None
    pipeline_id: int | None
    tables: list[Table]
    chart: Chart | None = None
    notes: list[str] = field(default_factory=list)
    zone: str = "UTC"
    owner_login: str | None = None
    uses_period: bool = True
    by: str = "owner"
    converted: bool = False  # amounts of every currency converted into `currency` (services/conversion.py)
    money: bool = True  # sums amounts (the heading names the currency)
    owner_word: str = "owner"  # what --owner picks: "owner", or "agent" for the service desk's cases

    @property
    def heading(self) -> str:
        """"Forecast · 2026 Q4 · everyone · USD": what was asked, in one line."""
        when = self.period.label if self.uses_period else "now"
        who = f"{self.owner_word} {self.owner_login}" if self.owner_id is not None else "everyone"
        if self.by != "owner":
            who += f", by {self.by}"
        if not self.money:
            return f"{self.title} · {when} · {who}"
        money = f"{self.currency}, converted" if self.converted else self.currency
        return f"{self.title} · {when} · {who} · {money}"

    @property
    def table(self) -> Table:
        return self.tables[0]

    def find_table(self, key: str | None) -> Table:
        if key is None:
            return self.tables[0]
        for table in self.tables:
            if table.key == key:
                return table
        raise InvalidInput(f"report {self.name} has no table {key!r}: choose one of "
                           f"{', '.join(t.key for t in self.tables)}")


@dataclass(frozen=True)
class Scope:
    """What every report is asked for."""

    period: Period
    zone: tzinfo
    now: datetime
    currency: str
    owner_id: int | None = None
    pipeline_id: int | None = None
    grain: str | None = None
    by: str = "owner"  # or "team": rows per team of the owners, not per owner
    # convert every deal's amount into `currency` (at its close day's rate) rather than leave the
    # deals in other currencies out
    convert: bool = False
    # service reports under an "own" case.view scope: only the cases of this user's accounts or
    # assigned to them (services/reports/service.py)
    cases_of: int | None = None

    @property
    def today(self) -> date:
        """The team's today: the day open deals convert at."""
        return self.now.astimezone(self.zone).date()
