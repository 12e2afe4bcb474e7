"""Issue 20's words: counts in the singular, no CLI option names in what the app shows, a conflict
that says what happened apart from the command line's advice."""

from __future__ import annotations

from datetime import timezone

import pytest

from crm_tui.errors import Conflict, InvalidInput
from crm_tui.services import contacts
from crm_tui.services.reports.periods import resolve_period
from crm_tui.services.words import plural, span


def test_plural():
    assert [plural(1, "deal"), plural(2, "deal"), plural(0, "row"), plural(1204, "row")] == [
        "1 deal", "2 deals", "0 rows", "1,204 rows"]
    assert plural(1, "new company", "new companies") == "1 new company"
    assert plural(3, "new company", "new companies") == "3 new companies"


# one way of writing a span of time: the case list's SLA cell, sla.describe and the service
# reports' durations (their format tests, kept: 60 was "1h 00m" in a report, 1441 "1d 1m" in the list)
@pytest.mark.parametrize(("minutes", "text"), [(0, "0m"), (59, "59m"), (60, "1h"), (90, "1h 30m"), (185, "3h 5m"),
                                               (1440, "1d"), (1441, "1d"), (1560, "1d 2h"), (2940, "2d 1h"),
                                               (3000, "2d 2h"), (-95, "1h 35m")])
def test_span(minutes, text):
    assert span(minutes) == text


def test_a_long_span_fits_the_case_lists_sla_column(now):
    """A breach of 231 days was cut to "-231d 1…" in the 8-character SLA column: it shows its
    largest unit alone when the two do not fit."""
    from datetime import timedelta

    from crm_tui.screens.case_rows import SLA_WIDTH, time_left

    cells = {time_left(now + sign * timedelta(days=d, hours=h, minutes=m), now)
             for sign in (1, -1) for d, h, m in ((231, 14, 0), (99, 23, 0), (9, 14, 0), (0, 23, 59))}
    assert cells == {"231d 14h", "-231d", "99d 23h", "-99d 23h", "9d 14h", "-9d 14h", "23h 59m", "-23h 59m"}
    assert max(len(c) for c in cells) <= SLA_WIDTH
    assert span(333_000, fit=5) == "231d" and span(333_000) == "231d 6h"


def test_the_list_the_describe_and_the_reports_write_a_span_alike(now):
    from datetime import timedelta

    from crm_tui.screens.case_rows import time_left
    from crm_tui.services import sla
    from crm_tui.services.reports.render import format_cell
    from crm_tui.services.reports.shapes import Column

    minutes = 2 * 24 * 60 + 4 * 60 + 10
    assert time_left(now + timedelta(minutes=minutes), now) == "2d 4h"
    assert time_left(now - timedelta(minutes=minutes), now) == "-2d 4h"
    assert sla._span(timedelta(minutes=minutes)) == "2d 4h"
    assert format_cell(Column("wait", "Wait", kind="minutes"), minutes, "USD") == "2d 4h"


@pytest.mark.parametrize("kwargs", [dict(start="blorp"), dict(start="2026-01-01", end="blorp"),
                                    dict(preset="fortnight"), dict(preset="this-month", start="2026-01-01"),
                                    dict(end="2026-01-01")])
def test_period_errors_name_no_cli_option(kwargs, now):
    with pytest.raises(InvalidInput) as caught:
        resolve_period(now=now, zone=timezone.utc, **kwargs)
    assert "--" not in caught.value.message


def test_a_conflict_says_what_happened_without_the_command_lines_advice(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=actor, now=now)
        contacts.update_contact(s, contact_id=ada.id, changes={"title": "CTO"}, actor=actor, now=now)
    with db.write() as s, pytest.raises(Conflict) as caught:
        contacts.update_contact(s, contact_id=ada.id, changes={"title": "CEO"}, actor=actor, now=now,
                                version=ada.version)
    assert "reload it" in caught.value.message  # the CLI's advice stays
    happened = caught.value.what_happened
    assert "was changed" in happened and "reload" not in happened and "version" not in happened


def test_a_percent_chart_is_drawn_against_the_whole_and_labels_use_the_width():
    from crm_tui.services.reports.shapes import Chart
    from crm_tui.widgets.bar_chart import BarChart

    chart = BarChart()
    chart.chart, chart.currency = Chart("Win rate", ["A rather long owner name here", "bob"],
                                        [("win %", [50, 0])], "percent"), "USD"
    lines = chart._bars(100, 10).plain.splitlines()
    assert lines[0].startswith("A rather long owner name here ")  # not cut at 14 at 100 columns
    bar = lines[0].count("█") + sum(lines[0].count(c) for c in "▏▎▍▌▋▊▉")
    room = 100 - len("A rather long owner name here") - len("50%") - 2
    assert abs(bar - room / 2) <= 1  # 50% is half the bar, not all of it


def test_chart_amounts_are_written_as_the_board_writes_them():
    """A chart's "$12.3k" beside the board's "$12.3K": one way of writing thousands."""
    from crm_tui.widgets.bar_chart import compact
    from crm_tui.widgets.kanban import compact_money

    assert compact(1_234_500, "money", "USD") == "$12.3K" == compact_money(1_234_500, "USD")
    assert compact(2_500_000_00, "money", "USD") == "$2.5M" == compact_money(2_500_000_00, "USD")
    assert compact(4_200, "count", "USD") == "4.2K"
