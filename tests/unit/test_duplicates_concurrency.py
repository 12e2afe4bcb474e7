"""Several OS processes adding the same contact or company at once: exactly one is added, the
others are refused as duplicates (issue 17 #3), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.models import Company, Contact
from tests.unit import proc_workers

pytestmark = pytest.mark.slow
WRITERS = 4


def add_same_record(url: str, kind: str, actor, now, barrier, queue) -> None:
    """Wait for the siblings, then add Ann (or Globex); report "ok", "duplicate" or the error."""
    from crm_tui.db import open_database
    from crm_tui.errors import Duplicate
    from crm_tui.services import companies, contacts

    try:
        db = open_database(url, migrate=False)
        barrier.wait(timeout=60)
        with db.write() as session:
            if kind == "contact":
                contacts.create_contact(session, data={"first_name": "Ann", "emails": ["ann@example.com"]},
                                        actor=actor, now=now)
            else:
                companies.create_company(session, data={"name": "Globex", "domain": "globex.com"}, actor=actor,
                                         now=now)
        queue.put("ok")
    except Duplicate:
        queue.put("duplicate")
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what we report
        queue.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("kind, table", [("contact", Contact), ("company", Company)])
def test_concurrent_adds_of_one_record_make_one(db, db_url, actor, now, kind, table):
    reports = proc_workers.run_in_processes(add_same_record, [(db_url, kind, actor, now)] * WRITERS)
    assert sorted(reports) == ["duplicate"] * (WRITERS - 1) + ["ok"], reports
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(table)) == 1
