"""Printing a report: the same cells for the app, the terminal table, CSV and JSON."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

from crm_tui.services import validation as v
from crm_tui.services.files import csv_safe
from crm_tui.services.words import span
from crm_tui.services.reports.bucketing import bucket_label
from crm_tui.services.reports.shapes import Column, Report, Table


def format_cell(column: Column, value: Any, currency: str) -> str:
    """A value as a person reads it: $1,250.00, 66.7%, 12.5 d, Nov 2026."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if column.kind == "money":
        return v.format_money(int(value), currency)
    if column.kind == "percent":
        return f"{value:.1f}%"
    if column.kind == "days":
        return f"{value:.1f}"
    if column.kind == "minutes":
        return span(int(value))
    if column.kind == "score":
        return f"{value:.2f}"
    if column.kind == "signed":
        return f"{value:+.1f}"
    if column.kind in ("week", "month", "quarter") and isinstance(value, date):
        return bucket_label(column.kind, value)
    if column.kind == "int":
        return f"{value:,}"
    return str(value)


def major_units(amount_minor: int, currency: str) -> str:
    """An amount in minor units as a plain decimal in major units ("1250.00"), exactly."""
    digits = v.currency_digits(currency)
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


def _plain(column: Column, value: Any, currency: str) -> Any:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if column.kind == "money" and isinstance(value, int):
        return major_units(value, currency)
    return value


def csv_key(column: Column) -> str:
    return column.key.removesuffix("_minor") if column.kind == "money" else column.key


def to_csv(report: Report, table: Table, *, raw_formulas: bool = False) -> str:
    """The table as CSV: machine values (ISO dates, money as decimals in major units, no separators).
    Text a spreadsheet would run as a formula (an owner, source or company named "=HYPERLINK(...)")
    gets a leading ' as in every export, unless `raw_formulas`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_key(c) for c in table.columns])
    for row in table.rows:
        cells = ["" if (val := _plain(c, row.values.get(c.key), report.currency)) is None else val
                 for c in table.columns]
        writer.writerow(cells if raw_formulas else [csv_safe(v) if isinstance(v, str) else v for v in cells])
    return out.getvalue()


def to_json(report: Report) -> dict:
    """The whole report as plain JSON values; money stays integer minor units (keys end in _minor)."""
    def values(cols: list[Column], data: dict) -> dict:
        return {c.key: (data.get(c.key).isoformat() if isinstance(data.get(c.key), date) else data.get(c.key))
                for c in cols if c.key in data}
    return {
        "report": report.name, "title": report.title, "currency": report.currency, "time_zone": report.zone,
        "period": {"from": report.period.start.isoformat(), "to": report.period.last_day.isoformat(),
                   "label": report.period.label, "kind": report.period.kind},
        "as_of_now": not report.uses_period, "owner_id": report.owner_id, "owner": report.owner_login,
        "pipeline_id": report.pipeline_id, "by": report.by, "converted": report.converted, "notes": report.notes,
        "tables": [{"key": t.key, "title": t.title, "columns": [{"key": c.key, "title": c.title, "kind": c.kind}
                                                                 for c in t.columns],
                    "rows": [values(t.columns, r.values) for r in t.rows],
                    "total": values(t.columns, t.total) if t.total else None} for t in report.tables],
    }
