"""The paged-window engine on its own (no app): a fresh window, page turns that keep it a window,
and asks of an older generation dropped."""

from __future__ import annotations

from crm_tui.services.paging import Page
from crm_tui.widgets.paged_window import COUNT, FIRST, LAST, NEXT, PREV, RESET, PagedWindow


def _page(rows, *, after="n", before="p") -> Page:
    return Page(list(rows), next_cursor=after, prev_cursor=before)


def _window(**kw) -> PagedWindow:
    window = PagedWindow(None, **kw)  # no host: nothing here runs a worker
    window.fetch = lambda **ask: _page([])
    return window


def test_a_fresh_window_then_turns_keep_at_most_window_pages():
    window = _window(window_pages=2)
    fresh = window.ask_fresh(FIRST, limit=3, keep_at=0)
    assert (fresh.kind, window.loading, fresh.context) == (RESET, RESET, {"keep_at": 0})
    assert window.accept(fresh, _page([1, 2, 3], before=None), offset=0) and window.loading is None
    assert window.rows == [1, 2, 3] and window.at_start and not window.at_end

    turn = window.ask_turn(NEXT, limit=3)
    assert (turn.kind, turn.after, turn.before, window.loading) == (NEXT, "n", None, NEXT)
    assert window.ask_turn(NEXT, limit=3) is None  # one at a time
    window.accept(turn, _page([4, 5, 6]))
    window.accept(window.ask_turn(NEXT, limit=3), _page([7, 8, 9], after=None))
    assert window.rows == [4, 5, 6, 7, 8, 9] and window.offset == 3 and window.at_end
    assert window.ask_turn(NEXT, limit=3) is None  # the end of the list

    back = window.ask_turn(PREV, limit=3)
    assert (back.before, back.after) == ("p", None)
    window.accept(back, _page([1, 2, 3], before=None))
    assert window.rows == [1, 2, 3, 4, 5, 6] and window.offset == 0


def test_a_page_of_an_older_ask_is_dropped_and_its_failure_changes_nothing():
    window = _window()
    old = window.ask_fresh(FIRST, limit=3)
    new = window.ask_fresh(LAST, limit=3)
    assert not window.accept(old, _page([1])) and window.loading == RESET
    assert not window.failed(old) and window.loading == RESET
    assert window.failed(new) and window.loading is None
    window.accept(window.ask_fresh(limit=3), _page([1, 2]))
    window.drop_pending()  # a card taken out by hand: what is on its way is stale
    count = window.ask_count()
    assert (count.kind, count.with_total, count.limit) == (COUNT, True, 1)
    window.ask_fresh(limit=3)
    assert not window.accept(count, _page([]))


def test_an_ask_runs_with_any_fetch_of_the_one_protocol_and_remembers_its_anchor():
    window = _window()
    asked = []

    def fetch(*, after, before, limit, with_total):
        asked.append((after, before, limit, with_total))
        return _page(["a"])

    page = window.ask_fresh(("after", "tok"), limit=7, with_total=True).run(fetch)
    assert asked == [("tok", None, 7, True)] and page.extra["anchor"] == ("after", "tok")
