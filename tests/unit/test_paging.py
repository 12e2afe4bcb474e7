"""Keyset paging of the contact list: every sort walks forward and back over exactly the rows of
one ORDER BY, in its order, with ties broken by id and empty sort values last."""

from __future__ import annotations

import base64
import functools
import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from crm_tui.errors import InvalidInput
from crm_tui.services import activities, companies, contacts, users
from crm_tui.services.paging import END, MAX_PAGE
from tests.conftest import BACKENDS, FROZEN_NOW, shared_database

LIMIT = 7
# The reference order of each sort, written out by hand: the sort column in its direction, ties
# by id in the same direction, and rows without a value (NULL) after all rows with one.
REFERENCE_ORDER = {
    "name": "sort_name ASC, id ASC",
    "company": "CASE WHEN company_key IS NULL THEN 1 ELSE 0 END, company_key ASC, id ASC",
    "last_contacted": "CASE WHEN last_contacted_at IS NULL THEN 1 ELSE 0 END, last_contacted_at DESC, id DESC",
    "created": "created_at DESC, id DESC",
}
FIRST = ["Anna", "anna", "Émile", "Zoë", "bob", "", "Ömer", "Li", "Ada", "Zack"]
LAST = ["Lee", "lee", "O'Brien", "Åberg", "Smith", "", "van Dijk", "Ng", "Zimmer"]
COMPANIES = ["Acme", "beta corp", "Échelle", "Zeta", "ACME Labs"]
TWINS = ("Sam", "Lee")  # every tenth contact: a run of equal names longer than a page


def _contact_data(i: int, company_ids: list[int]) -> dict:
    first, last = (TWINS if i % 10 == 5 else (FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]))
    # a fifth of the emails start with "a", some of them of people whose names do too
    email = f"a.person{i}@example.com" if i % 5 == 0 else f"person{i}@example.com"
    return {"first_name": first, "last_name": last, "emails": [email],
            "company_id": None if i % 4 == 0 else company_ids[i % len(company_ids)]}


@pytest.fixture(scope="module", params=BACKENDS)
def people(request):
    """~120 contacts: equal names, no company for a quarter, never contacted for a third, equal
    created and contacted times, and three archived (which the list must leave out). Made once per
    backend for the module: its tests only read them."""
    with shared_database(request) as db:
        _seed(db, FROZEN_NOW)
        yield db


def _seed(db, now) -> None:
    with db.write() as session:  # as the `actor` fixture makes ann
        actor = users.actor_for(session, login="ann", now=now)
    with db.write() as session:
        company_ids = [companies.create_company(session, data={"name": n}, actor=actor, now=now).id
                       for n in COMPANIES]
        for i in range(123):
            created = now - timedelta(hours=(i * 37) % 50)
            contact = contacts.create_contact(session, data=_contact_data(i, company_ids), actor=actor, now=created)
            if i % 3:
                activities.log_activity(session, actor=actor, now=now, data={
                    "kind": "call", "contact_id": contact.id, "occurred_at": now - timedelta(days=(i * 11) % 30)})
            if i % 40 == 39:
                contacts.set_contact_archived(session, contact_id=contact.id, archived=True, actor=actor, now=now)


def _reference(db, sort: str, where: str = "1 = 1") -> list[int]:
    with db.read() as session:
        return list(session.execute(text(
            f"SELECT id FROM contacts WHERE archived = :no AND ({where}) ORDER BY {REFERENCE_ORDER[sort]}"),
            {"no": False}).scalars())


def _walk_forward(session, sort: str, now, query: str | None = None) -> list:
    pages = [contacts.list_contacts(session, sort=sort, limit=LIMIT, now=now, query=query)]
    while pages[-1].next_cursor is not None:
        assert len(pages) < 100, "the walk does not end"
        pages.append(contacts.list_contacts(session, sort=sort, limit=LIMIT, after=pages[-1].next_cursor, now=now,
                                            query=query))
    return pages


def _ids(page) -> list[int]:
    return [row.id for row in page.items]


def test_every_sort_has_a_reference_order():
    assert set(REFERENCE_ORDER) == set(contacts.SORTS)


def _check_walks(db, session, sort: str, now, query: str | None = None, reference: list[int] | None = None) -> None:
    if reference is None:
        reference = _reference(db, sort)
        assert len(reference) == 120
    fetch = functools.partial(contacts.list_contacts, session, sort=sort, limit=LIMIT, now=now, query=query)
    forward = _walk_forward(session, sort, now, query)
    assert [i for page in forward for i in _ids(page)] == reference, f"forward walk by {sort}"
    assert all(len(page.items) == LIMIT for page in forward[:-1])
    assert forward[0].prev_cursor is None

    # back from the last page, one `before` at a time, to the first
    backward = [forward[-1]]
    while backward[-1].prev_cursor is not None:
        assert len(backward) < 100, "the walk does not end"
        backward.append(fetch(before=backward[-1].prev_cursor))
    walked_back = [i for page in backward for i in reversed(_ids(page))]
    assert walked_back == list(reversed(reference)), f"backward walk by {sort}"
    assert [_ids(p) for p in reversed(backward)] == [_ids(p) for p in forward]

    # the End key's page is the last page of the forward walk, full-sized, and leads back
    last = fetch(before=END)
    assert _ids(last) == reference[-LIMIT:], f"last page by {sort}"
    assert last.next_cursor is None
    before_last = fetch(before=last.prev_cursor)
    assert _ids(before_last) == reference[-2 * LIMIT:-LIMIT]

    # a page reached going back leads forward again to the page it came from
    for earlier, later in zip(reversed(backward[1:]), reversed(backward[:-1])):
        again = fetch(after=earlier.next_cursor)
        assert _ids(again) == _ids(later), f"next page after going back, by {sort}"


def test_walking_forward_and_back_visits_the_reference_order(people, now):
    # one test for every sort: building the contacts is most of the time
    with people.read() as session:
        for sort in REFERENCE_ORDER:
            _check_walks(people, session, sort, now)


def test_a_short_search_walks_its_name_and_email_matches_as_one_list(people, now):
    """One letter: names or emails that start with it, each walked along its own index and merged.
    A contact that matches both comes once; every sort walks forward and back in its order."""
    where = "substr(sort_name, 1, 1) = 'a' OR substr(email, 1, 1) = 'a'"
    with people.read() as session:
        for sort in REFERENCE_ORDER:
            reference = _reference(people, sort, where)
            by_name = _reference(people, sort, "substr(sort_name, 1, 1) = 'a'")
            by_email = _reference(people, sort, "substr(email, 1, 1) = 'a'")
            assert set(by_name) & set(by_email) and set(by_name) - set(by_email) and set(by_email) - set(by_name)
            assert len(reference) > 3 * LIMIT
            _check_walks(people, session, sort, now, query="A", reference=reference)
            assert contacts.count_contacts(session, query="a", now=now) == len(reference)


def test_equal_names_are_ordered_by_id_across_pages(people, now):
    with people.read() as session:
        rows = [row for page in _walk_forward(session, "name", now) for row in page.items]
    twins = [row.id for row in rows if row.full_name == " ".join(TWINS)]
    assert len(twins) == 12 > LIMIT
    assert twins == sorted(twins)
    first = next(i for i, row in enumerate(rows) if row.id == twins[0])
    assert [row.id for row in rows[first:first + len(twins)]] == twins  # one unbroken run


def test_page_size_and_totals(people, now):
    with people.read() as session:
        whole = contacts.list_contacts(session, limit=MAX_PAGE, with_total=True, now=now)
        assert [row.id for row in whole.items] == _reference(people, "name")
        assert whole.next_cursor is None and whole.prev_cursor is None
        assert whole.total == contacts.count_contacts(session, now=now) == 120
        one = contacts.list_contacts(session, limit=1, with_total=True, now=now)
        assert len(one.items) == 1 and one.total == 120 and one.next_cursor is not None
        never = contacts.list_contacts(session, filters={"never_contacted": True}, with_total=True, now=now)
        assert never.total == len(never.items) == 40
        for bad in (0, -1, MAX_PAGE + 1):
            with pytest.raises(InvalidInput, match="page size"):
                contacts.list_contacts(session, limit=bad, now=now)


def _token(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


GARBAGE = [
    "garbage!!",
    "",
    _token({"a": 1}),
    _token(["x", "dt", 1]),  # says datetime, is not one
    _token(["x", None, "one"]),  # id not a number
    _token([{"x": 1}, None, 1]),  # a value no column holds
    _token([[1, 2], None, 1]),
]


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_cursor_is_invalid_input(db, token, now):
    with db.read() as session:
        for direction in ("after", "before"):
            with pytest.raises(InvalidInput, match="cursor"):
                contacts.list_contacts(session, now=now, **{direction: token})


def test_cursor_of_another_sort_or_both_directions_are_refused(people, now):
    with people.read() as session:
        by_name = contacts.list_contacts(session, sort="name", limit=LIMIT, now=now).next_cursor
        with pytest.raises(InvalidInput, match="cursor"):
            contacts.list_contacts(session, sort="created", after=by_name, now=now)
        with pytest.raises(InvalidInput, match="cursor"):
            contacts.list_contacts(session, sort="last_contacted", before=by_name, now=now)
        with pytest.raises(InvalidInput):
            contacts.list_contacts(session, after=by_name, before=by_name, now=now)


def test_first_pages_take_only_keys_that_are_never_null(db):
    """first_pages walks each key's values in one subquery; a nullable key's NULLs need a walk of
    their own (keyset_page), so it is refused rather than paged wrongly. Its limit is keyset_page's."""
    from sqlalchemy import select

    from crm_tui.models import Contact
    from crm_tui.services.paging import SortKey, first_pages

    nullable = SortKey(Contact.last_contacted_at, Contact.id, nullable=True)
    with db.read() as session:
        with pytest.raises(ValueError, match="never NULL"):
            first_pages(session, [(select(Contact.id), nullable)], row_key=lambda r: (None, r.id),
                        walk_of=lambda r: 0)
        with pytest.raises(InvalidInput, match="page size"):
            first_pages(session, [], row_key=lambda r: (None, r.id), walk_of=lambda r: 0, limit=MAX_PAGE + 1)
        assert first_pages(session, [], row_key=lambda r: (None, r.id), walk_of=lambda r: 0) == []
