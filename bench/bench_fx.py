"""Converted reports benchmark: the pipeline, forecast and revenue reports converted into USD at each
deal's close-day rate (--convert), beside the same reports per currency (the baseline), measured in
the same run on the same 20k deals, and the board's header totals both ways.

    .venv/bin/python bench/bench_fx.py [--url sqlite:///bench/out/fx.db | postgresql+psycopg://...]
                                       [--deals 20000] [--samples 15]

Without --url it builds a SQLite file in a temp dir. The deals: 70% USD, 18% EUR, 7% GBP, 5% JPY;
a third open, the rest won or lost over two years; rates: EUR/USD every day of the two years,
GBP/USD every month, USD/JPY every month (JPY deals convert by the inverse pair). The database must
be empty of deals (a fresh one); PostgreSQL: give a scratch database.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).parent))
from bench_foundation import _ms, p50, p95  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import Deal, Stage  # noqa: E402
from crm_tui.models.product import FxRate  # noqa: E402
from crm_tui.services import board, reports  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
ZONE = ZoneInfo("America/New_York")
SEED = 22
CURRENCIES = (("USD", 70), ("EUR", 18), ("GBP", 7), ("JPY", 5))


def load(url: str, deals: int) -> None:
    database = open_database(url)
    rng = random.Random(SEED)
    try:
        with database.write() as s:
            if s.scalar(select(Deal.id).limit(1)) is not None:
                raise SystemExit("the database has deals already: give a fresh one")
            stages = list(s.scalars(select(Stage).order_by(Stage.position)))
            pipeline_id = stages[0].pipeline_id
            open_ids = [st.id for st in stages if st.kind == "open" and st.pipeline_id == pipeline_id]
            won = next(st.id for st in stages if st.kind == "won" and st.pipeline_id == pipeline_id)
            lost = next(st.id for st in stages if st.kind == "lost" and st.pipeline_id == pipeline_id)
            start = date(2024, 11, 24)
            rates = []
            for i in range(731):
                day = start + timedelta(days=i)
                rates.append(dict(base="EUR", quote="USD", valid_from=day, rate_e9=1_050_000_000 + rng.randrange(80_000_000),
                                  created_at=NOW, updated_at=NOW))
                if day.day == 1:
                    rates.append(dict(base="GBP", quote="USD", valid_from=day,
                                      rate_e9=1_230_000_000 + rng.randrange(90_000_000), created_at=NOW, updated_at=NOW))
                    rates.append(dict(base="USD", quote="JPY", valid_from=day,
                                      rate_e9=140_000_000_000 + rng.randrange(15_000_000_000), created_at=NOW,
                                      updated_at=NOW))
            s.execute(insert(FxRate), rates)
            codes = [c for c, weight in CURRENCIES for _ in range(weight)]
            rows = []
            for i in range(deals):
                kind = rng.random()
                created = NOW - timedelta(days=rng.randrange(1, 720), hours=rng.randrange(24))
                currency = rng.choice(codes)
                amount = rng.randrange(1_000, 5_000_000) * (1 if currency != "JPY" else 1)
                row = dict(title=f"Deal {i}", title_key=f"deal {i}", pipeline_id=pipeline_id, amount_minor=amount,
                           currency=currency, created_at=created, updated_at=created, stage_entered_at=created,
                           expected_close=(NOW + timedelta(days=rng.randrange(-30, 180))).date())
                if kind < 0.34:
                    row.update(stage_id=rng.choice(open_ids), status="open", closed_at=None)
                else:
                    closed = min(NOW, created + timedelta(days=rng.randrange(1, 120)))
                    row.update(stage_id=won if kind < 0.7 else lost, status="won" if kind < 0.7 else "lost",
                               closed_at=closed)
                rows.append(row)
            for i in range(0, len(rows), 2000):
                s.execute(insert(Deal), rows[i:i + 2000])
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        database.dispose()


def measure(url: str, samples: int) -> list[tuple[str, float, float, float, float]]:
    database = open_database(url)
    out = []
    try:
        with database.read() as s:
            period = reports.preset_period("this-year", now=NOW, zone=ZONE)
            pipeline_id = s.scalar(select(Stage.pipeline_id).limit(1))

            def timing(call) -> list[float]:
                call()  # warm: statement caches, babel's tables
                return [_ms(call) for _ in range(samples)]
            for name in ("pipeline", "forecast", "revenue", "lost-reasons"):
                def run(convert: bool, name: str = name):
                    return reports.run_report(s, name=name, period=period, zone=ZONE, currency="USD", now=NOW,
                                              convert=convert)
                base, conv = timing(lambda: run(False)), timing(lambda: run(True))
                out.append((f"report {name}", p50(base), p95(base), p50(conv), p95(conv)))
            def totals(convert: bool):
                return board.board_totals(s, pipeline_id=pipeline_id, now=NOW, zone=ZONE,
                                          convert_to="USD" if convert else None)
            base, conv = timing(lambda: totals(False)), timing(lambda: totals(True))
            out.append(("board totals", p50(base), p95(base), p50(conv), p95(conv)))
            missing = reports.run_report(s, name="pipeline", period=period, zone=ZONE, currency="USD", now=NOW,
                                         convert=True).notes
            print("pipeline notes (converted):", *missing, sep="\n  ")
    finally:
        database.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'fx.db'}"
        load(url, args.deals)
        rows = measure(url, args.samples)
    print(f"{args.deals:,} deals, {args.samples} samples; ms")
    header = ("measure", "per-currency p50", "p95", "converted p50", "p95", "ratio p50")
    table = [header] + [(m, f"{a:.1f}", f"{b:.1f}", f"{c:.1f}", f"{d:.1f}", f"{c / a:.2f}x") for m, a, b, c, d in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
