"""A range filter on a typed custom field, in the list's order, reads an index (issue 20): on
PostgreSQL the field's range index (list order, id, value) tests the range on index entries; on
SQLite the few matches are read off the field's index. Checked with EXPLAIN, as the other sorts are."""

from __future__ import annotations

from sqlalchemy import select, text

from crm_tui.models import Contact, Deal
from crm_tui.services import contacts, deals, fields


def _plan(s, stmt) -> str:
    sql = str(stmt.compile(s.bind, compile_kwargs={"literal_binds": True}))
    if s.bind.dialect.name == "sqlite":
        return " ".join(str(r[-1]) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
    s.execute(text("SET LOCAL enable_seqscan = off"))
    s.execute(text("SET LOCAL enable_sort = off"))  # the page comes in the list's order off an index
    return " ".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))


def test_a_range_in_the_list_order_reads_an_index(db, actor, now):
    with db.write() as s:
        seats = fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
        renewal = fields.add_field(s, kind="contact", key="renewal", type="date", actor=actor, now=now)
        arr = fields.add_field(s, kind="deal", key="arr", type="money", actor=actor, now=now)
        for i in range(40):
            contacts.create_contact(s, data={"first_name": f"P{i:02d}", "custom": {
                "seats": i * 25, "renewal": f"2027-{1 + i % 12:02d}-01"}}, actor=actor, now=now)
            deals.create_deal(s, data={"title": f"D{i:02d}"}, custom={"arr": str(i * 100)}, actor=actor, now=now)
    with db.read() as s:
        page = contacts.list_contacts(s, filters={"custom": ["seats>=950"]})
        assert [r.full_name for r in page.items] == ["P38", "P39"]
        page = contacts.list_contacts(s, filters={"custom": ["renewal<2027-02-01"]})
        assert [r.full_name for r in page.items] == ["P00", "P12", "P24", "P36"]
        cases = [(Contact, Contact.sort_name, "contact", seats, ">=", "950"),
                 (Contact, Contact.sort_name, "contact", renewal, "<", "2027-02-01"),
                 (Deal, Deal.title_key, "deal", arr, ">", "3500")]
        for model, order, kind, field, op, value in cases:
            stmt = (select(model.id).where(model.archived.is_(False), fields.condition(s, kind, field.key, op, value))
                    .order_by(order, model.id).limit(51))
            plan = _plan(s, stmt)
            table = model.__tablename__
            if s.bind.dialect.name == "sqlite":
                assert f"ix_cf_{table}_{field.id}_sort" in plan, plan
            else:
                assert f"ix_cf_{table}_{field.id}_walk" in plan and "Index Cond" in plan, plan


def test_the_deals_list_sorts_by_a_custom_field_keyset_paged_on_its_index(db, actor, now):
    from crm_tui.errors import InvalidInput
    from crm_tui.services import deal_list, views

    with db.write() as s:
        arr = fields.add_field(s, kind="deal", key="arr", type="money", actor=actor, now=now)
        fields.add_field(s, kind="deal", key="renewal", type="date", actor=actor, now=now)
        for i, value in enumerate(["300", None, "100", "200", None, "100"]):
            deals.create_deal(s, data={"title": f"D{i}"}, custom={"arr": value} if value else {}, actor=actor,
                              now=now)
    with db.read() as s:
        seen, cursor = [], None
        while True:
            page = deal_list.list_deals(s, sort="custom.arr", limit=2, after=cursor, with_total=True)
            seen += [d.title for d in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ["D2", "D5", "D3", "D0", "D1", "D4"]  # by value, then id; empty ones last
        back = deal_list.list_deals(s, sort="custom.arr", limit=2, before=deal_list.list_deals(
            s, sort="custom.arr", limit=4).next_cursor)
        assert [d.title for d in back.items] == ["D5", "D3"]  # the two before D0
        try:
            deal_list.list_deals(s, sort="custom.nope")
            raise AssertionError("an unknown field sorts nothing")
        except InvalidInput as error:
            assert "no deal field 'nope'" in str(error)
        key = deal_list.sort_key(s, "custom.arr")
        stmt = select(Deal.id).where(Deal.archived.is_(False), key.column.is_not(None)) \
            .order_by(key.column, Deal.id).limit(51)
        plan = _plan(s, stmt)
        assert f"ix_cf_deals_{arr.id}_sort" in plan, plan
    with db.write() as s:  # a saved deal list keeps the sort
        view = views.create_view(s, data={"name": "By ARR", "entity": "deal", "sort": "custom.arr"}, actor=actor,
                                 now=now)
        assert view.sort == "custom.arr"
