"""Exchange rates: set, import, list and remove the rates reports and board totals convert with.

A rate says 1 `base` = rate `quote`, from its `valid_from` day until the day before the pair's next
rate (there is no end date: the latest rate stays in force). It is stored exactly, as an integer
scaled by 10^9 (`rate_e9`): "1.08" is 1_080_000_000, so at most nine decimal places.

When only one direction of a pair has rates (EUR→USD) and the other is asked for (USD→EUR), the
inverse of the one in force is used, 10^18 / rate_e9 rounded half up (services/conversion.py does
the same in SQL); a rate of the asked direction in force that day always wins over an inverse.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.clock import UTC, resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models.product import RATE_SCALE, FxRate
from crm_tui.services import dates, permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit, check_version, flush, get_or_404
from crm_tui.services.paging import Page, SortKey, keyset_page

ENTITY = "fx_rate"
PERMISSION = "fx.edit"
MAX_RATE = Decimal(10) ** 9  # far above any real rate (1 BTC in VND is ~2.5e9: use a smaller unit)
MAX_IMPORT_ROWS = 100_000
NEWEST_FIRST = SortKey(FxRate.valid_from, FxRate.id, descending=True)
_HEADERS = {
    "base": ("base", "from", "from currency", "base currency", "source"),
    "quote": ("quote", "to", "to currency", "quote currency", "target", "counter"),
    "rate": ("rate", "exchange rate", "fx rate", "price", "value"),
    "date": ("date", "valid from", "valid_from", "from date", "day", "effective", "as of"),
}
ORDER = ("base", "quote", "rate", "date")


@dataclass(frozen=True)
class FxRateRead:
    id: int
    base: str
    quote: str
    valid_from: date
    rate: str  # the rate as exact decimal text ("1.08")
    rate_e9: int
    version: int

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool


def _read(rate: FxRate) -> FxRateRead:
    return FxRateRead(rate.id, rate.base, rate.quote, rate.valid_from, rate_text(rate.rate_e9), rate.rate_e9,
                      rate.version)


def rate_text(rate_e9: int) -> str:
    """1_080_000_000 -> "1.08": the decimal a rate_e9 stands for, without trailing zeros."""
    text = f"{Decimal(rate_e9).scaleb(-9):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_rate(value: str | Decimal | int) -> int:
    """A rate as typed ("1.08", "0.0067", "150") in units of 10^-9, exactly; > 0, at most 9 decimals."""
    raw = str(value).strip()
    try:
        number = Decimal(raw.replace("_", ""))
    except InvalidOperation:
        raise InvalidInput(f"invalid rate {raw!r}: use a decimal number such as 1.08") from None
    if not number.is_finite() or "e" in raw.lower():
        raise InvalidInput(f"invalid rate {raw!r}: use a decimal number such as 1.08")
    if number <= 0:
        raise InvalidInput(f"a rate must be greater than 0 (got {raw})")
    if number >= MAX_RATE:
        raise InvalidInput(f"rate {raw} is too large: rates stay below {MAX_RATE:,}")
    scaled = number.scaleb(9)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"rate {raw} has more than 9 decimal places")
    return int(scaled)


def parse_pair(text: str) -> tuple[str, str]:
    """"EUR/USD" (or "EUR USD", "eur-usd") -> ("EUR", "USD")."""
    parts = (text or "").replace("/", " ").replace("-", " ").replace(":", " ").split()
    if len(parts) != 2:
        raise InvalidInput(f"invalid pair {text!r}: use BASE/QUOTE such as EUR/USD")
    return _pair(parts[0], parts[1])


def _pair(base: str, quote: str) -> tuple[str, str]:
    b, q = v.currency_code(base), v.currency_code(quote)
    if b == q:
        raise InvalidInput(f"a rate converts between two currencies; {b} to {b} is always 1")
    return b, q


def _day(value: date | str, zone: tzinfo, now: datetime) -> date:
    if isinstance(value, datetime):
        return dates.day_in_range(value.astimezone(zone).date())
    if isinstance(value, date):
        return dates.day_in_range(value)
    return dates.parse_day(str(value), now=now, zone=zone)


def _label(base: str, quote: str, day: date) -> str:
    return f"rate {base}/{quote} from {day.isoformat()}"


def set_rate(session: Session, *, actor: Actor, base: str, quote: str, rate: str | Decimal, valid_from: date | str,
             version: int | None = None, now: datetime | None = None, zone: tzinfo = UTC) -> FxRateRead:
    """Set the rate of a pair from a day on: a new rate, or a change of the pair's rate that day."""
    now = resolve_now(now)
    permissions.require(session, actor, PERMISSION)
    b, q = _pair(base, quote)
    rate_e9 = parse_rate(rate)
    day = _day(valid_from, zone, now)
    return _upsert(session, actor, b, q, rate_e9, day, version, now)[0]


def _upsert(session: Session, actor: Actor, base: str, quote: str, rate_e9: int, day: date, version: int | None,
            now: datetime) -> tuple[FxRateRead, str]:
    found = session.scalars(select(FxRate).where(FxRate.base == base, FxRate.quote == quote,
                                                 FxRate.valid_from == day)).first()
    label = _label(base, quote, day)
    if found is None:
        if version is not None:
            raise InvalidInput(f"there is no {label} to update at version {version}")
        found = FxRate(base=base, quote=quote, valid_from=day, rate_e9=rate_e9, created_at=now, updated_at=now)
        session.add(found)
        flush(session, ENTITY, label)
        audit(session, actor=actor, entity=ENTITY, entity_id=found.id, action="create", now=now,
              summary=f"{label}: {rate_text(rate_e9)}")
        return _read(found), "created"
    check_version(session, found, version, ENTITY, label)
    if found.rate_e9 == rate_e9:
        return _read(found), "unchanged"
    old = found.rate_e9
    found.rate_e9, found.updated_at = rate_e9, now
    flush(session, ENTITY, label)
    audit(session, actor=actor, entity=ENTITY, entity_id=found.id, action="update", now=now,
          changes={"rate": (rate_text(old), rate_text(rate_e9))})
    return _read(found), "updated"


def remove_rate(session: Session, *, actor: Actor, rate_id: int, version: int | None = None,
                now: datetime | None = None) -> FxRateRead:
    now = resolve_now(now)
    permissions.require(session, actor, PERMISSION)
    found = get_or_404(session, FxRate, rate_id, "exchange rate")
    label = _label(found.base, found.quote, found.valid_from)
    check_version(session, found, version, ENTITY, label)
    gone = _read(found)
    audit(session, actor=actor, entity=ENTITY, entity_id=found.id, action="delete", now=now,
          summary=f"{label}: {rate_text(found.rate_e9)}")
    session.delete(found)
    flush(session, ENTITY, label)
    return gone


def find_rate(session: Session, *, base: str, quote: str, valid_from: date | str, now: datetime | None = None,
              zone: tzinfo = UTC) -> FxRateRead:
    """The rate a pair has from exactly that day (for `crm fx remove EUR USD --date ...`)."""
    now = resolve_now(now)
    b, q = _pair(base, quote)
    day = _day(valid_from, zone, now)
    found = session.scalars(select(FxRate).where(FxRate.base == b, FxRate.quote == q, FxRate.valid_from == day)).first()
    if found is None:
        raise InvalidInput(f"no {_label(b, q, day)}", see=f"crm fx list --pair {b}/{q}")
    return _read(found)


def list_rates(session: Session, *, pair: str | None = None, after: str | None = None, before: str | None = None,
               limit: int = 50) -> Page[FxRateRead]:
    """One keyset page of rates, the newest day first (ties by id), of one pair or all."""
    stmt = select(FxRate)
    if pair:
        b, q = parse_pair(pair)
        stmt = stmt.where(FxRate.base == b, FxRate.quote == q)
    rows, next_, prev_ = keyset_page(session, stmt, NEWEST_FIRST, row_key=lambda r: (r[0].valid_from, r[0].id),
                                     after=after, before=before, limit=limit)
    return Page([_read(row[0]) for row in rows], next_, prev_)


def rate_on(session: Session, *, base: str, quote: str, day: date) -> int | None:
    """The rate_e9 converting `base` into `quote` on `day`: the pair's rate in force, else the
    inverse of the opposite pair's (10^18 / rate_e9, half up), else None. 10^9 for one currency."""
    b, q = v.currency_code(base), v.currency_code(quote)
    if b == q:
        return RATE_SCALE

    def latest(x: str, y: str) -> int | None:
        return session.scalar(select(FxRate.rate_e9).where(FxRate.base == x, FxRate.quote == y,
                                                           FxRate.valid_from <= day)
                              .order_by(FxRate.valid_from.desc()).limit(1))
    direct = latest(b, q)
    if direct is not None:
        return direct
    inverse = latest(q, b)
    return None if inverse is None else (RATE_SCALE * RATE_SCALE + inverse // 2) // inverse


# --- import -------------------------------------------------------------------------------


def _columns(header: list[str]) -> dict[str, int] | None:
    """Which cell holds base, quote, rate and date, when the first row is a header; None when it is data."""
    names = [" ".join(cell.strip().lower().replace("_", " ").split()) for cell in header]
    found = {}
    for key, spellings in _HEADERS.items():
        for i, name in enumerate(names):
            if name in spellings or name.replace(" ", "_") in spellings:
                found.setdefault(key, i)
    if not found:
        return None
    missing = [k for k in ORDER if k not in found]
    if missing:
        raise InvalidInput(f"row 1: the header names no {' or '.join(missing)} column; "
                           f"use the columns {','.join(ORDER)}")
    return found


def read_rates_csv(text: str, *, now: datetime, zone: tzinfo) -> list[tuple[int, str, str, int, date]]:
    """(row number, base, quote, rate_e9, day) of each data row; the first bad row raises a one-line error."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise InvalidInput("the file has no rows: give base,quote,rate,date lines")
    columns = _columns(rows[0])
    start = 1 if columns is not None else 0
    columns = columns or {k: i for i, k in enumerate(ORDER)}
    out, seen = [], {}
    for number, cells in enumerate(rows[start:], start=start + 1):
        if not any(c.strip() for c in cells):
            continue
        if len(out) >= MAX_IMPORT_ROWS:
            raise InvalidInput(f"row {number}: more than {MAX_IMPORT_ROWS:,} rates in one file; split it")
        try:
            if len(cells) <= max(columns.values()):
                raise InvalidInput(f"{len(cells)} cells, expected {','.join(ORDER)}")
            base, quote = _pair(cells[columns["base"]], cells[columns["quote"]])
            rate_e9 = parse_rate(cells[columns["rate"]])
            day = _day(cells[columns["date"]].strip(), zone, now)
        except InvalidInput as exc:
            raise InvalidInput(f"row {number}: {exc}") from None
        key = (base, quote, day)
        if key in seen:
            raise InvalidInput(f"row {number}: {_label(base, quote, day)} is also on row {seen[key]}")
        seen[key] = number
        out.append((number, base, quote, rate_e9, day))
    if not out:
        raise InvalidInput("the file has no rates: give base,quote,rate,date lines")
    return out


def import_rates(session: Session, *, actor: Actor, text: str, dry_run: bool = False, now: datetime | None = None,
                 zone: tzinfo = UTC) -> ImportResult:
    """Import `base,quote,rate,date` rows (a header row is recognised and may order the columns).
    All or nothing: every row is checked before one is written; a dry run writes none."""
    now = resolve_now(now)
    permissions.require(session, actor, PERMISSION)
    parsed = read_rates_csv(text, now=now, zone=zone)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    if dry_run:
        pairs = {(b, q) for _, b, q, _, _ in parsed}
        existing: dict[tuple[str, str, date], int] = {}
        for b, q in pairs:  # one query per pair in the file (a handful), not one per row
            existing.update({(b, q, d): r for d, r in session.execute(
                select(FxRate.valid_from, FxRate.rate_e9).where(FxRate.base == b, FxRate.quote == q))})
        for _, b, q, rate_e9, day in parsed:
            old = existing.get((b, q, day))
            counts["created" if old is None else "unchanged" if old == rate_e9 else "updated"] += 1
    else:
        for _, b, q, rate_e9, day in parsed:
            counts[_upsert(session, actor, b, q, rate_e9, day, None, now)[1]] += 1
    return ImportResult(len(parsed), counts["created"], counts["updated"], counts["unchanged"], dry_run)
