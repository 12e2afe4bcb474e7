"""Child-process workers of the quote concurrency test (module level: a child imports them by name)."""

from __future__ import annotations


class _RolledBack(Exception):
    pass


def create_quotes(url: str, deal_id: int, actor, count: int, now, barrier, queue) -> None:
    """Create `count` quotes on one deal, each in its own transaction; every third one is rolled
    back after it took its number. Reports (committed numbers, rolled back, errors)."""
    from crm_tui.db import open_database
    from crm_tui.services import quotes

    numbers, rolled_back, errors = [], 0, []
    try:
        db = open_database(url, migrate=False)
        barrier.wait(timeout=60)
        for i in range(count):
            try:
                with db.write() as session:
                    quote = quotes.create_quote(session, actor=actor, deal_id=deal_id, now=now)
                    if i % 3 == 2:
                        raise _RolledBack
                numbers.append(quote.number)
            except _RolledBack:
                rolled_back += 1
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none hidden
                errors.append(f"{type(exc).__name__}: {exc}")
        db.dispose()
    except BaseException as exc:  # noqa: BLE001
        errors.append(f"{type(exc).__name__}: {exc}")
    queue.put((numbers, rolled_back, errors))
