"""Exchange rates (services/fx.py) and the conversion in SQL (services/conversion.py), against values
worked out by hand here, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import BigInteger, func, literal, select

from crm_tui.errors import Conflict, InvalidInput, PermissionDenied
from crm_tui.models import AuditEvent, Deal, Stage, User
from crm_tui.models.product import FxRate
from crm_tui.services import conversion, fx
from crm_tui.services.common import Actor


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def set_rates(db, actor, *rates) -> None:
    with db.write() as s:
        for base, quote, rate, day in rates:
            fx.set_rate(s, actor=actor, base=base, quote=quote, rate=rate, valid_from=day)


def test_parse_rate_is_exact():
    assert fx.parse_rate("1.08") == 1_080_000_000
    assert fx.parse_rate("0.006712345") == 6_712_345
    assert fx.parse_rate("150") == 150_000_000_000
    assert fx.rate_text(1_080_000_000) == "1.08" and fx.rate_text(150_000_000_000) == "150"
    for bad, words in (("0", "greater than 0"), ("-1.2", "greater than 0"), ("abc", "invalid rate"),
                       ("1e3", "invalid rate"), ("1.0000000001", "more than 9 decimal"), ("nan", "invalid rate"),
                       ("10000000000", "too large")):
        with pytest.raises(InvalidInput, match=words):
            fx.parse_rate(bad)


def test_set_update_list_remove_audited_and_versioned(db, actor, now):
    with db.write() as s:
        first = fx.set_rate(s, actor=actor, base="eur", quote="usd", rate="1.08", valid_from="2026-11-01", now=now)
        fx.set_rate(s, actor=actor, base="EUR", quote="USD", rate="1.10", valid_from=date(2026, 12, 1), now=now)
        fx.set_rate(s, actor=actor, base="USD", quote="JPY", rate="150.5", valid_from=date(2026, 1, 1), now=now)
    assert (first.base, first.quote, first.rate_e9, first.version) == ("EUR", "USD", 1_080_000_000, 1)
    with db.write() as s:
        changed = fx.set_rate(s, actor=actor, base="EUR", quote="USD", rate="1.09", valid_from="2026-11-01",
                              version=1, now=now)
    assert (changed.id, changed.rate, changed.version) == (first.id, "1.09", 2)
    with pytest.raises(Conflict, match="version 1"), db.write() as s:
        fx.set_rate(s, actor=actor, base="EUR", quote="USD", rate="1.07", valid_from="2026-11-01", version=1, now=now)
    with db.read() as s:
        page = fx.list_rates(s, pair="EUR/USD", limit=1)
        assert [(r.valid_from, r.rate) for r in page.items] == [(date(2026, 12, 1), "1.1")]
        rest = fx.list_rates(s, pair="eur-usd", after=page.next_cursor, limit=1)
        assert [(r.valid_from, r.rate) for r in rest.items] == [(date(2026, 11, 1), "1.09")]
        assert rest.next_cursor is None
        assert len(fx.list_rates(s).items) == 3
        actions = s.execute(select(AuditEvent.action, AuditEvent.field, AuditEvent.new_value)
                            .where(AuditEvent.entity == "fx_rate").order_by(AuditEvent.id)).all()
    assert actions == [("create", None, "rate EUR/USD from 2026-11-01: 1.08"),
                       ("create", None, "rate EUR/USD from 2026-12-01: 1.1"),
                       ("create", None, "rate USD/JPY from 2026-01-01: 150.5"),
                       ("update", "rate", "1.09")]
    with db.write() as s:
        gone = fx.remove_rate(s, actor=actor, rate_id=first.id, version=2, now=now)
    assert gone.rate == "1.09"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FxRate)) == 2
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.entity == "fx_rate")
                        .order_by(AuditEvent.id.desc()).limit(1)) == "delete"


def test_bad_input_writes_nothing(db, actor, now):
    for kwargs, words in ((dict(base="EUR", quote="EUR", rate="1"), "always 1"),
                          (dict(base="EUX", quote="USD", rate="1"), "unknown currency"),
                          (dict(base="EUR", quote="USD", rate="0"), "greater than 0"),
                          (dict(base="EUR", quote="USD", rate="1", valid_from="someday"), "date")):
        with pytest.raises(InvalidInput, match=words), db.write() as s:
            fx.set_rate(s, actor=actor, **{"valid_from": "2026-11-01", **kwargs}, now=now)
    with pytest.raises(InvalidInput, match="pair"), db.read() as s:
        fx.list_rates(s, pair="EURUSD")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FxRate)) == 0


def test_needs_the_fx_permission(db, actor, now):
    with db.write() as s:
        s.add(User(login="sam", name="Sam", role="sales", created_at=now, updated_at=now))
        s.flush()
        sam = Actor(user_id=s.scalar(select(User.id).where(User.login == "sam")), login="sam", role="sales")
    with pytest.raises(PermissionDenied), db.write() as s:
        fx.set_rate(s, actor=sam, base="EUR", quote="USD", rate="1.08", valid_from="2026-11-01", now=now)
    with pytest.raises(PermissionDenied), db.write() as s:
        fx.import_rates(s, actor=sam, text="EUR,USD,1.08,2026-11-01\n", now=now)


def test_import_header_dry_run_and_all_or_nothing(db, actor, now):
    text = "Date,From,To,Rate\n2026-11-01,EUR,USD,1.08\n2026-12-01,EUR,USD,1.1\n\n2026-11-01,USD,JPY,150\n"
    with db.write() as s:
        dry = fx.import_rates(s, actor=actor, text=text, dry_run=True, now=now)
    assert (dry.rows, dry.created, dry.updated, dry.dry_run) == (3, 3, 0, True)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FxRate)) == 0
    with db.write() as s:
        done = fx.import_rates(s, actor=actor, text=text, now=now)
    assert (done.created, done.updated, done.unchanged) == (3, 0, 0)
    # no header: base,quote,rate,date in that order; one change, one same, one new
    again = "EUR,USD,1.09,2026-11-01\nEUR,USD,1.1,2026-12-01\nGBP,USD,1.27,2026-11-01\n"
    with db.write() as s:
        assert fx.import_rates(s, actor=actor, text=again, dry_run=True, now=now) == fx.ImportResult(3, 1, 1, 1, True)
        assert fx.import_rates(s, actor=actor, text=again, now=now) == fx.ImportResult(3, 1, 1, 1, False)
    bad_files = (
        ("EUR,USD,1.08,2026-11-01\nEUR,USD,abc,2026-11-02\n", "row 2: invalid rate 'abc'"),
        ("base,quote,rate,date\nEUR,USD,1.08,2026-11-05\nEUR,XXQ,1,2026-11-01\n", "row 3: unknown currency"),
        ("base,quote,rate,date\nEUR,USD,1.08,2026-11-05\nEUR,USD,1.09,2026-11-05\n", "row 3: .* also on row 2"),
        ("base,quote,rate\nEUR,USD,1.08\n", "row 1: the header names no date column"),
        ("EUR,USD,1.08,2026-11-05\nEUR,USD\n", "row 2: 2 cells"),
        ("EUR,USD,-1,2026-11-05\n", "row 1: a rate must be greater than 0"),
        ("", "no rows"),
    )
    for bad, words in bad_files:
        with pytest.raises(InvalidInput, match=words), db.write() as s:
            fx.import_rates(s, actor=actor, text=bad, now=now)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(FxRate)) == 4
        assert s.scalar(select(FxRate.rate_e9).where(FxRate.valid_from == date(2026, 11, 5))) is None


def test_rate_on_applies_until_the_next_and_inverts(db, actor):
    set_rates(db, actor, ("EUR", "USD", "1.08", "2026-11-01"), ("EUR", "USD", "1.10", "2026-12-01"),
              ("USD", "JPY", "150", "2026-01-01"))
    with db.read() as s:
        assert fx.rate_on(s, base="EUR", quote="USD", day=date(2026, 10, 31)) is None
        assert fx.rate_on(s, base="EUR", quote="USD", day=date(2026, 11, 1)) == 1_080_000_000
        assert fx.rate_on(s, base="EUR", quote="USD", day=date(2026, 11, 30)) == 1_080_000_000
        assert fx.rate_on(s, base="EUR", quote="USD", day=date(2027, 5, 1)) == 1_100_000_000
        # only USD->EUR missing: the inverse of EUR->USD, 10^18 / 1.1e9 = 909090909.09 -> 909090909
        assert fx.rate_on(s, base="USD", quote="EUR", day=date(2026, 12, 2)) == 909_090_909
        assert fx.rate_on(s, base="JPY", quote="USD", day=date(2026, 6, 1)) == 6_666_667  # 1/150, half up
        assert fx.rate_on(s, base="USD", quote="USD", day=date(2026, 6, 1)) == 10**9


# --- the SQL expression -----------------------------------------------------------------------------


def _convert(s, amount: int, currency: str, day: date, team: str):
    return s.scalar(select(conversion.converted(literal(amount, BigInteger), literal(currency), literal(day), team)))


CASES = [
    # amount, currency, day, team, expected (worked out by hand)
    (100_00, "EUR", date(2026, 11, 15), "USD", 108_00),  # 100.00 EUR x 1.08
    (100_00, "EUR", date(2026, 12, 1), "USD", 110_00),  # the next rate from its day on
    (100_00, "EUR", date(2026, 10, 31), "USD", None),  # before the first rate: none
    (12_345, "EUR", date(2026, 11, 15), "USD", 13_333),  # 123.45 x 1.08 = 133.326 -> 133.33
    (5, "EUR", date(2026, 11, 15), "USD", 5),  # 0.05 x 1.08 = 0.054 -> 0.05
    (50, "EUR", date(2026, 11, 15), "USD", 54),
    (1_00, "USD", date(2026, 12, 5), "EUR", 91),  # inverse: 1 / 1.1 = 0.909090909 -> 0.91
    (1_000, "JPY", date(2026, 6, 1), "USD", 6_67),  # JPY has no cents: 1000 / 150 = 6.6666667 -> 6.67
    (1_00, "USD", date(2026, 6, 1), "JPY", 150),  # USD cents to whole yen: 1.00 x 150
    (1, "USD", date(2026, 6, 1), "JPY", 2),  # 0.01 USD = 1.5 JPY -> 2 (half up)
    (3, "JPY", date(2026, 6, 1), "USD", 2),  # 3 / 150 = 0.02 USD
    (1_000, "KWD", date(2026, 6, 1), "USD", 3_26),  # KWD has 3 digits: 1.000 x 3.255 = 3.255 -> 3.26
    (7_77, "USD", date(2026, 6, 1), "USD", 7_77),  # same currency, no rate needed
    # a big amount: 10 billion USD in yen, 10^12 x 150.123456789 overflows 64 bits if multiplied at once
    (10**12, "USD", date(2026, 7, 1), "JPY", 1_501_234_567_890),
    (999_999_999_999, "USD", date(2026, 7, 1), "JPY", 1_501_234_567_888),  # 1501234567888.49877 -> down
]


@pytest.fixture
def rates(db, actor):
    set_rates(db, actor, ("EUR", "USD", "1.08", "2026-11-01"), ("EUR", "USD", "1.10", "2026-12-01"),
              ("USD", "JPY", "150", "2026-01-01"), ("USD", "JPY", "150.123456789", "2026-07-01"),
              ("KWD", "USD", "3.255", "2026-01-01"))


def test_converted_matches_hand_values(db, rates):
    with db.read() as s:
        got = [_convert(s, amount, currency, day, team) for amount, currency, day, team, _ in CASES]
    assert got == [expected for *_, expected in CASES]


def test_deal_amount_uses_close_day_or_today(db, actor, now, rates):
    with db.write() as s:
        stages = {st.name: st for st in s.scalars(select(Stage))}

        def deal(title, stage, amount, currency, closed=None):
            st = stages[stage]
            row = Deal(title=title, title_key=title.lower(), pipeline_id=st.pipeline_id, stage_id=st.id,
                       amount_minor=amount, currency=currency, status={"Won": "won", "Lost": "lost"}.get(stage, "open"),
                       closed_at=closed, stage_entered_at=now, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            return row.id
        ids = [deal("won in Nov", "Won", 100_00, "EUR", utc(2026, 11, 30, 23, 59)),  # Nov 30 UTC: 1.08
               deal("won in Dec", "Won", 100_00, "EUR", utc(2026, 12, 1, 0, 0)),  # Dec 1 UTC: 1.10
               deal("won in Oct", "Lost", 100_00, "EUR", utc(2026, 10, 31, 12)),  # before any rate
               deal("open", "New", 100_00, "EUR"),  # today (Nov 23): 1.08
               deal("open yen", "New", 1_500, "JPY")]  # today: 1500 / 150.123456789 = 9.9918 -> 9.99
    with db.read() as s:
        got = dict(s.execute(select(Deal.id, conversion.deal_amount("USD", date(2026, 11, 23)))
                             .where(Deal.id.in_(ids))).all())
    assert [got[i] for i in ids] == [108_00, 110_00, None, 108_00, 9_99]
