"""Board header totals converted into the team's currency ($ on the board), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from crm_tui.models import Stage
from crm_tui.services import board
from crm_tui.shapes import Money
from tests.unit.test_reports import NY
from tests.unit.test_reports_fx import build_sales


def test_board_totals_converted(db, actor, now):
    build_sales(db, actor, now)
    with db.read() as s:
        stages = {st.name: st for st in s.scalars(select(Stage))}
        pipeline_id = stages["New"].pipeline_id
        ids = {name: st.id for name, st in stages.items()}
        negotiation_probability = stages["Negotiation"].probability
        plain = board.board_totals(s, pipeline_id=pipeline_id, now=now, zone=NY)
        converted = board.board_totals(s, pipeline_id=pipeline_id, now=now, zone=NY, convert_to="USD")
    # per currency: Delta's EUR stays apart
    assert plain.open_amounts == (Money("USD", 100000 + 250050 + 33333), Money("EUR", 120000))
    assert plain.converted_to is None and plain.unconverted == 0
    # converted: Delta 1,200.00 EUR open, at today's (Nov 23) 1.08 = 1,296.00
    assert converted.open_amounts == (Money("USD", 100000 + 250050 + 33333 + 129600),)
    assert converted.open_count == 4 and converted.converted_to == "USD"
    won = converted.stage(ids["Won"])
    # Orion, Vega, Lyra in USD; Pavo 900 EUR won Nov 15 at 1.08; Nova 150,000 JPY at 1/150; Zeta (GBP): no rate
    assert (won.count, won.amounts) == (6, (Money("USD", 500000 + 70000 + 123456 + 97200 + 100000),))
    assert converted.unconverted == 1
    negotiation = converted.stage(ids["Negotiation"])
    assert negotiation.weighted == (Money("USD", 129600 * negotiation_probability // 100),)
