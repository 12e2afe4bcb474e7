"""Five OS processes create quotes at the same moment, on a SQLite file and on PostgreSQL: every
number is unique, and the numbers have no gaps, though a third of the transactions roll back
after taking theirs."""

from __future__ import annotations

from sqlalchemy import select

from crm_tui.models import Quote, QuoteCounter
from tests.unit.proc_workers import run_in_processes
from tests.unit.quote_fixtures import deal_with_items
from tests.unit.quote_workers import create_quotes

PROCESSES, EACH = 5, 6


def test_five_processes_get_unique_gapless_numbers(db, db_url, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    reports = run_in_processes(create_quotes, [(db_url, deal.id, actor, EACH, now) for _ in range(PROCESSES)])
    assert [errors for _n, _r, errors in reports] == [[]] * PROCESSES
    numbers = [n for committed, _r, _e in reports for n in committed]
    assert sum(r for _n, r, _e in reports) == PROCESSES * (EACH // 3)
    expected = PROCESSES * EACH - PROCESSES * (EACH // 3)
    assert sorted(numbers) == [f"Q-2026-{i:04d}" for i in range(1, expected + 1)]
    with db.read() as s:
        stored = sorted(s.scalars(select(Quote.seq)))
        assert stored == list(range(1, expected + 1))
        assert s.scalar(select(QuoteCounter.last).where(QuoteCounter.year == 2026)) == expected
