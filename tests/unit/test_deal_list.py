"""The deals list's service (issue 20): every deal filtered and sorted, a page at a time by keyset on an
index of its own per sort; its filters from typed text; saved deal lists. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, update

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Deal
from crm_tui.services import companies, contacts, deal_list, deals, views
from tests.conftest import seeded_fixtures


def _seed(db, actor, now) -> dict[str, int]:
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
        ann = contacts.create_contact(s, data={"first_name": "Ann", "tags": ["vip"]}, actor=actor, now=now).id
        ids = {}
        for i, (title, amount, close, company, contact) in enumerate([
                ("Anvils", "1000", "2027-01-10", acme, ann), ("Bolts", "500", "2027-02-01", None, None),
                ("Cogs", "2000", None, acme, None), ("Dynamo", "4000", "2027-01-20", None, None),
                ("Engines", "1000", None, None, None)]):
            ids[title] = deals.create_deal(s, data={"title": title, "amount": amount, "expected_close": close,
                                                    "company_id": company, "contact_id": contact},
                                           actor=actor, now=now - timedelta(days=i)).id
        deals.mark_won(s, deal_id=ids["Cogs"], actor=actor, now=now)
        deals.mark_lost(s, deal_id=ids["Bolts"], reason="Price", actor=actor, now=now + timedelta(hours=1))
        deals.set_deal_archived(s, deal_id=ids["Dynamo"], archived=True, actor=actor, now=now)
        s.execute(update(Deal).where(Deal.id == ids["Engines"]).values(custom={"segment": "SMB", "seats": 12}))
    return ids


seeded_rows, db_url, seeded = seeded_fixtures(_seed, "seeded")


def titles(db, **kwargs) -> list[str]:
    with db.read() as s:
        return [row.title for row in deal_list.list_deals(s, **kwargs).items]


def walk(db, sort: str, size: int, **kwargs) -> list[str]:
    """Every page forward, then every page back from the end: both must give the same order."""
    out, after = [], None
    with db.read() as s:
        while True:
            page = deal_list.list_deals(s, sort=sort, limit=size, after=after, **kwargs)
            out += [r.title for r in page.items]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        back, before = [], "end"
        while before is not None:
            page = deal_list.list_deals(s, sort=sort, limit=size, before=before, **kwargs)
            back = [r.title for r in page.items] + back
            before = page.prev_cursor
    assert back == out, sort
    return out


def test_every_sort_pages_forward_and_back_in_one_order(db, seeded):
    expected = {
        "title": ["Anvils", "Bolts", "Cogs", "Engines"],
        "amount": ["Cogs", "Engines", "Anvils", "Bolts"],  # largest first, ties newest id first
        "close": ["Anvils", "Bolts", "Cogs", "Engines"],  # no close date last
        "created": ["Anvils", "Bolts", "Cogs", "Engines"],  # newest first
        "closed": ["Bolts", "Cogs", "Engines", "Anvils"],  # latest closed first, open ones last
        "stage_entered": ["Engines", "Anvils", "Cogs", "Bolts"],
    }
    for sort, order in expected.items():
        for size in (1, 2, 50):
            assert walk(db, sort, size) == order, (sort, size)
    assert set(walk(db, "updated", 3)) == set(expected["title"])


def test_filters(db, actor, seeded):
    acme = seeded["Anvils"]
    assert titles(db, filters={"status": ["won", "lost"]}) == ["Bolts", "Cogs"]
    assert titles(db, filters={"archived": True}) == ["Dynamo"]
    assert titles(db, filters={"tag": "VIP"}) == ["Anvils"]
    assert titles(db, filters={"amount_min": 100_000, "amount_max": 150_000}) == ["Anvils", "Engines"]
    assert titles(db, filters={"close_from": date(2027, 1, 1), "close_to": "2027-01-31"}) == ["Anvils"]
    assert titles(db, filters={"owner_id": actor.user_id, "status": ["open"]}) == ["Anvils", "Engines"]
    assert titles(db, filters={"unowned": True}) == []
    assert titles(db, filters={"custom": {"segment": "smb"}}) == ["Engines"]
    assert titles(db, filters={"custom": ["seats=12"]}) == ["Engines"]
    assert titles(db, filters={"custom": ["segment"]}) == ["Engines"]
    assert titles(db, query="NGIN") == ["Engines"]
    with db.read() as s:
        company_id = deals.get_deal(s, deal_id=acme).company_id
        assert deal_list.count_deals(s, filters={"company_id": company_id}) == 2
        page = deal_list.list_deals(s, filters={"company_id": company_id}, sort="amount", with_total=True)
    assert ([r.title for r in page.items], page.total) == (["Cogs", "Anvils"], 2)
    assert titles(db, filters={"amount_min": 100_000, "amount_max": 150_000}, sort="amount") == ["Engines", "Anvils"]


def test_filters_from_typed_text(db, actor, now, seeded):
    with db.read() as s:
        parsed = deal_list.parse_filters(s, actor=actor, now=now, status="won, lost", company="acme",
                                         owner="me", amount_min="1,000", close_to="2027-01-31",
                                         stages=["Won"], custom=["segment=smb, seats"], tag="#VIP")
    assert parsed["status"] == ["won", "lost"] and parsed["owner_id"] == actor.user_id
    assert parsed["amount_min"] == 100_000 and parsed["close_to"] == "2027-01-31" and parsed["tag"] == "vip"
    assert parsed["custom"] == ["segment=smb", "seats"] and len(parsed["stage_ids"]) == 1
    with db.read() as s:
        for kwargs, text in (({"status": "maybe"}, "invalid status"), ({"close_from": "whenever"}, "whenever"),
                             ({"amount_min": "5", "amount_max": "1"}, "smaller"),
                             ({"custom": ["=x"]}, "custom field name")):
            with pytest.raises(InvalidInput, match=text):
                deal_list.parse_filters(s, actor=actor, now=now, **kwargs)
        with pytest.raises(NotFound):
            deal_list.parse_filters(s, actor=actor, now=now, owner="nobody-such")
        with pytest.raises(InvalidInput, match="invalid sort"):
            deal_list.list_deals(s, sort="colour")


def test_saved_deal_lists_and_builtins(db, actor, now, seeded):
    with db.write() as s:
        saved = views.create_view(s, data={"name": "Big ones", "entity": "deal", "sort": "amount",
                                           "filters": {"amount_min": 150_000}}, actor=actor, now=now)
        with pytest.raises(InvalidInput, match="invalid sort"):
            views.create_view(s, data={"name": "Bad", "entity": "deal", "sort": "name"}, actor=actor, now=now)
        with pytest.raises(InvalidInput):
            views.create_view(s, data={"name": "Bad", "entity": "deal", "filters": {"status": 5}},
                              actor=actor, now=now)
    with db.read() as s:
        names = [v.name for v in views.deal_views(s, actor=actor)]
        assert names[-1] == "Big ones" and {"Won", "Lost", "Archived deals"} <= set(names)
        assert views.find_deal_view(s, name="won", actor=actor).filters == {"status": ["won"]}
        assert views.find_deal_view(s, name="big ones", actor=actor).id == saved.id
        mine = views.find_deal_view(s, name="My open deals", actor=actor)
        page = deal_list.list_deals(s, filters=views.resolve_filters(mine.filters, actor), sort=mine.sort)
    assert [r.title for r in page.items] == ["Anvils", "Engines"]


def _page_sql(db, **kwargs) -> tuple[str, dict]:
    """The statement (and parameters) list_deals sends for one page."""
    seen: list = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "ORDER BY" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        with db.read() as s:
            deal_list.list_deals(s, **kwargs)
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return seen[0]


@pytest.mark.parametrize("sort", list(deal_list.SORTS))
def test_each_sort_walks_an_index_without_sorting(db, seeded, sort):
    """A page's rows come in index order: no sort step over the deals (a whole table sorted at 20k
    deals is what keyset paging avoids). PostgreSQL is told to avoid table scans, as a large table would."""
    with db.read() as s:
        first = deal_list.list_deals(s, sort=sort, limit=1)
    for cursor in (None, first.next_cursor):
        statement, params = _page_sql(db, sort=sort, limit=2, after=cursor)
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                            params))
                assert "TEMP B-TREE" not in plan and "USING" in plan, plan
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                conn.exec_driver_sql("SET LOCAL enable_sort = off")
                plan = " | ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", params))
                assert "Index" in plan and " Sort " not in plan and "Sort Key" not in plan, plan


def test_a_typed_field_filters_as_its_type_and_an_untyped_one_as_text(db, actor, seeded):
    """Once `seats` is a number field, 12.0 finds the deal with 12; `segment` stays untyped text."""
    from crm_tui.services import fields

    assert titles(db, filters={"custom": ["seats=12.0"]}) == []  # untyped: compared as text
    with db.write() as s:
        fields.add_field(s, kind="deal", key="seats", type="number", actor=actor)
    assert titles(db, filters={"custom": ["seats=12.0"]}) == ["Engines"]
    assert titles(db, filters={"custom": {"seats": "12"}, "status": ["open"]}) == ["Engines"]
    assert titles(db, filters={"custom": ["seats", "segment=smb"]}) == ["Engines"]
