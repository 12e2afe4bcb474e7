"""Reports: the eight numbers a sales team runs on, each a few GROUP BY queries whose date buckets
give the same answer on SQLite and PostgreSQL, and keyset pages of the deals or contacts behind a row.

Buckets: SQLite has no time zone database, so no SQL date function can say which local month a
UTC instant falls in. Instead the bucket edges (local midnights of each month or week, in the
team's zone) are worked out here with zoneinfo, and the query compares timestamps against them,
which both databases evaluate the same. Over the big tables (activities, contacts) the edges are a
small table of [lo, hi) rows joined to the facts, so each bucket is one index range scan
(`bucket_table`); over the few thousand deals a nested CASE (a binary search) is as good.

Money: every sum is over integer minor units, in one currency (deals in other currencies are
counted in the report's notes, not added in); weighted amounts sum amount x probability exactly
and divide by 100 once, at the end.

The package, one idea a module: periods (what a report covers), bucketing (dates into buckets
the same way on both databases), shapes (what a report is made of), queries (the eight reports),
catalogue (their names and run_report), drill (the records under a row), render (CSV, JSON and
the cells of a table). Callers import the public names from here.
"""

from crm_tui.services.reports.bucketing import MAX_BUCKETS, Buckets, buckets
from crm_tui.services.reports.catalogue import REPORTS, ReportSpec, run_report
from crm_tui.services.reports.drill import drill_page
from crm_tui.services.reports.periods import DEFAULT_PRESET, PRESETS, Period, local_midnight, preset_period, resolve_period
from crm_tui.services.reports.render import csv_key, format_cell, major_units, to_csv, to_json
from crm_tui.services.reports.shapes import GROUPINGS, Chart, Column, Drill, Report, Row, Scope, Table

__all__ = [
    "DEFAULT_PRESET", "GROUPINGS", "MAX_BUCKETS", "PRESETS", "REPORTS", "Buckets", "Chart", "Column", "Drill",
    "Period", "Report", "ReportSpec", "Row", "Scope", "Table", "buckets", "csv_key", "drill_page", "format_cell",
    "local_midnight", "major_units", "preset_period", "resolve_period", "run_report", "to_csv", "to_json",
]
