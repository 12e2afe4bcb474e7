"""Keyset pagination: a page after or before a cursor, by an index, never by OFFSET.

The logical order is the sort column in the chosen direction, ties broken by id, with NULL
sort values last (ordered by id). Each part is one index range scan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, select, tuple_, union, union_all
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
# the page and its cursor need no SQLAlchemy: the app's first frame shows a page before it loads
from crm_tui.shapes import END, MAX_PAGE, Cursor, Page  # noqa: F401 - the services' names for them

@dataclass(frozen=True)
class SortKey:
    """How a list is ordered: one column (may be nullable) and the id as tie-breaker."""

    column: Any
    id_column: Any
    descending: bool = False
    nullable: bool = False


def _as_cursor(token: str | Cursor | None, key: SortKey) -> Cursor | None:
    if token is None or isinstance(token, Cursor):
        return token
    cursor = Cursor.decode(token)
    if not _fits(cursor.value, key):
        # garbage, or a cursor of another sort: it would reach the database as a bad parameter
        raise InvalidInput(f"invalid page cursor {token!r} for this list and sort; start from the first page")
    return cursor


def _fits(value: Any, key: SortKey) -> bool:
    """Whether `value` can be a value of the sort column."""
    if value is None:
        return key.nullable
    type_ = key.column.type
    type_ = getattr(type_, "impl_instance", type_)  # a TypeDecorator (UTCDateTime) stores its impl's values
    try:
        expected = type_.python_type
    except NotImplementedError:
        return isinstance(value, (str, int, float))
    if expected is datetime:
        return isinstance(value, datetime) and value.tzinfo is not None
    if expected is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def keyset_page(
    session: Session,
    stmt: Select,
    key: SortKey,
    *,
    row_key: Callable[[Any], tuple[Any, int]],
    after: str | Cursor | None = None,
    before: str | Cursor | None = None,
    limit: int = 50,
    any_of: Sequence[ColumnElement] = (),
) -> tuple[list[Any], str | None, str | None]:
    """Rows of `stmt` after `after` (or before `before`, or from the start), in key order.

    Returns (rows, next_cursor, prev_cursor). `row_key` reads (sort value, id) off a row.
    `before=END` gives the last page. `any_of`: rows must also match one of these conditions;
    each is walked on its own, in key order and limited, and the walks are merged (a UNION),
    where one OR would make the database gather and sort every match first. With `any_of`,
    `stmt` must select the key's column and id, and only columns a UNION can compare.
    """
    _check_limit(limit)
    if after is not None and before is not None:
        raise InvalidInput("give either after or before, not both")
    if before == END:
        rows = _walk(session, stmt, key, None, limit + 1, forward=False, any_of=any_of)
        more_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        prev_ = _cursor(rows[0], row_key) if rows and more_before else None
        return rows, None, prev_
    after_c, before_c = _as_cursor(after, key), _as_cursor(before, key)
    if before_c is not None:
        rows = _walk(session, stmt, key, before_c, limit + 1, forward=False, any_of=any_of)
        more_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        prev_ = _cursor(rows[0], row_key) if rows and more_before else None
        next_ = _cursor(rows[-1], row_key) if rows else before_c.encode()
        return rows, next_, prev_
    rows = _walk(session, stmt, key, after_c, limit + 1, forward=True, any_of=any_of)
    more_after = len(rows) > limit
    rows = rows[:limit]
    next_ = _cursor(rows[-1], row_key) if rows and more_after else None
    prev_ = _cursor(rows[0], row_key) if rows and after_c is not None else None
    return rows, next_, prev_


def first_pages(
    session: Session,
    walks: Sequence[tuple[Select, SortKey]],
    *,
    row_key: Callable[[Any], tuple[Any, int]],
    walk_of: Callable[[Any], int],
    limit: int = 50,
) -> list[tuple[list[Any], str | None]]:
    """The first page of each walk (a statement and its key), as keyset_page gives it from the
    start, in one query: each walk in key order and limited in its own subquery, the walks joined
    by UNION ALL (one statement per walk costs more in Python than the database takes for all).
    Returns (rows, next_cursor) per walk; `walk_of(row)` says which walk, by index, a row is from.
    The keys may not be nullable (keyset_page walks a nullable key's NULLs apart)."""
    _check_limit(limit)
    if any(key.nullable for _, key in walks):
        raise ValueError("first_pages takes keys that are never NULL; use keyset_page")
    if not walks:
        return []
    parts = [select(stmt.order_by(*_ordered([key.column, key.id_column], not key.descending)).limit(limit + 1)
                    .subquery()) for stmt, key in walks]
    found: list[list[Any]] = [[] for _ in walks]
    for row in session.execute(parts[0] if len(parts) == 1 else union_all(*parts)).all():
        found[walk_of(row)].append(row)
    pages = []
    for rows, (_, key) in zip(found, walks, strict=True):
        rows.sort(key=row_key, reverse=key.descending)  # a UNION keeps no order
        more = len(rows) > limit
        rows = rows[:limit]
        pages.append((rows, _cursor(rows[-1], row_key) if rows and more else None))
    return pages


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"page size must be between 1 and {MAX_PAGE}")


def _ordered(columns: Sequence[Any], ascending: bool) -> list[Any]:
    return [c.asc() if ascending else c.desc() for c in columns]


def _cursor(row: Any, row_key: Callable[[Any], tuple[Any, int]]) -> str:
    value, id_ = row_key(row)
    return Cursor(value, id_).encode()


def _walk(session: Session, stmt: Select, key: SortKey, cursor: Cursor | None, n: int, *, forward: bool,
          any_of: Sequence[ColumnElement] = ()) -> list:
    """Up to n rows strictly past `cursor` in logical order (forward) or against it (backward)."""
    non_null_first = forward
    in_null_part = cursor is not None and cursor.value is None and key.nullable
    parts = ["values", "nulls"] if non_null_first else ["nulls", "values"]
    rows: list = []
    for part in parts:
        if len(rows) >= n:
            break
        if part == "nulls" and not key.nullable:
            continue
        if part == "values" and in_null_part and forward:
            continue  # already past every non-null value
        # the cursor bounds only the part it sits in
        bound = cursor if (cursor is not None and (part == "nulls") == in_null_part) else None
        if part == "nulls" and not forward and cursor is not None and not in_null_part:
            continue  # walking back from a non-null value never reaches the nulls
        rows.extend(_part(session, stmt, key, part, bound, n - len(rows), forward, any_of))
    return rows


def _part(session: Session, stmt: Select, key: SortKey, part: str, bound: Cursor | None, n: int, forward: bool,
          any_of: Sequence[ColumnElement]) -> Sequence:
    ascending = forward != key.descending
    col, idc = key.column, key.id_column
    if part == "nulls":
        q = stmt.where(col.is_(None))
        if bound is not None:
            q = q.where(idc > bound.id if ascending else idc < bound.id)
        order = [idc]
    else:
        q = stmt.where(col.is_not(None)) if key.nullable else stmt
        if bound is not None:
            left = tuple_(col, idc)
            right = tuple_(literal(bound.value, col.type), literal(bound.id, idc.type))
            q = q.where(left > right if ascending else left < right)
        order = [col, idc]

    if not any_of:
        return session.execute(q.order_by(*_ordered(order, ascending)).limit(n)).all()
    # each branch in its own subquery: a compound SELECT takes no ORDER BY or LIMIT in its parts
    walks = [select(q.where(cond).order_by(*_ordered(order, ascending)).limit(n).subquery()) for cond in any_of]
    merged = union(*walks).subquery()
    outer = select(merged).order_by(*_ordered([merged.corresponding_column(c) for c in order], ascending))
    return session.execute(outer.limit(n)).all()
