"""Child-process workers of the deal items concurrency test (module level, so a child imports them)."""

from __future__ import annotations


def add_items(url: str, deal_id: int, actor, sku: str, count: int, barrier, queue) -> None:
    """Wait for the sibling, then add `count` items to the deal, each in its own transaction."""
    from crm_tui.db import open_database
    from crm_tui.services import deal_items

    try:
        db = open_database(url, migrate=False)
        barrier.wait(timeout=60)
        for _ in range(count):
            with db.write() as s:
                deal_items.add_item(s, actor, deal_id, sku_or_product_id=sku, quantity=1)
        db.dispose()
        queue.put("ok")
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what we report
        queue.put(f"{exc.__class__.__name__}: {exc}")
