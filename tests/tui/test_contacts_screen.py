"""The app shell and the contacts area, driven through the real app with a pilot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.binding import Binding
from textual.widgets import Input, OptionList

from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.screens.help import HelpScreen, binding_rows
from crm_tui.screens.welcome import WelcomeScreen
from crm_tui.services import activities, companies, contacts, tasks, users, views
from crm_tui.widgets.area_bar import AreaBar
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle

PEOPLE = [
    ("Ada", "Lovelace", "Analytical Engines", "lead"),
    ("Grace", "Hopper", "Navy Labs", "customer"),
    ("Alan", "Turing", "Bletchley Park", "prospect"),
    ("Edsger", "Dijkstra", "Analytical Engines", "customer"),
    ("Barbara", "Liskov", None, "lead"),
]


@pytest.fixture
def people(db, actor, now):
    ids = {}
    with db.write() as session:
        bob = users.create_user(session, data={"login": "bob", "name": "Bob", "role": "sales"}, actor=actor, now=now)
        made = {}
        for first, last, company, stage in PEOPLE:
            company_id = None
            if company:
                if company not in made:
                    made[company] = companies.create_company(session, data={"name": company}, actor=actor, now=now).id
                company_id = made[company]
            contact = contacts.create_contact(session, data={
                "first_name": first, "last_name": last, "emails": [f"{first.lower()}@example.com"],
                "company_id": company_id, "lifecycle": stage, "owner_id": actor.user_id if stage == "customer" else bob.id,
            }, actor=actor, now=now)
            ids[first] = contact.id
    return ids


def _table(app) -> KeysetTable:
    return app.screen.query_one("#contact-list", KeysetTable)


def _names(app) -> list[str]:
    return [row.full_name for row in _table(app).visible_rows()]


def _before_each_query(monkeypatch, hook):
    """Run `hook(kw)`, in the fetch's thread, before each page or count the contacts screen asks
    list_contacts for (a hook records, holds the query at a gate, or raises). Returns the real one."""
    from crm_tui.services import contacts  # the screen imports it where it fetches (after the first frame)

    real = contacts.list_contacts

    def list_contacts(session, **kw):
        hook(kw)
        return real(session, **kw)

    monkeypatch.setattr(contacts, "list_contacts", list_contacts)
    return real


async def test_list_shows_contacts_sorted_with_total(db, actor, now, people):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        table = _table(app)
        assert table.total == 5
        assert _names(app) == ["Ada Lovelace", "Alan Turing", "Barbara Liskov", "Edsger Dijkstra", "Grace Hopper"]
        assert "Contacts · 5" in str(table.border_title)
        await pilot.press("s")  # by company: contacts without one last
        await settle(app, pilot)
        assert _names(app)[-1] == "Barbara Liskov"
        assert _names(app)[:2] == ["Ada Lovelace", "Edsger Dijkstra"]


async def test_search_then_enter_moves_into_the_list_and_opens_the_contact(db, actor, now, people):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"analytical")
        await pilot.press("enter")
        await settle(app, pilot)
        table = _table(app)
        assert app.focused is table
        assert _names(app) == ["Ada Lovelace", "Edsger Dijkstra"]
        assert table.total == 2
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen)
        assert app.screen.contact_id == people["Edsger"]
        assert "Edsger Dijkstra" in str(app.screen.query_one("#contact-card").render())
        await pilot.press("escape")
        assert isinstance(app.screen, ContactsScreen)


async def test_typing_searches_at_once_and_the_last_keystroke_wins(db, actor, now, people):
    """No Enter, no pause: each keystroke searches, the keys typed while a search is fetched wait for
    it, and the list ends on the whole text typed."""
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"analytical")
        await settle(app, pilot)
        screen = app.screen
        assert screen.query_text == "analytical" and screen._waiting is None
        assert _names(app) == ["Ada Lovelace", "Edsger Dijkstra"]
        assert isinstance(app.focused, Input)  # still typing
        await pilot.press(*["backspace"] * 10, "d", "i", "j")
        await settle(app, pilot)
        assert screen.query_text == "dij" and _names(app) == ["Edsger Dijkstra"]


async def test_the_count_waits_until_the_rows_are_painted(db, actor, now, people, monkeypatch):
    """The rows first, the total after: a COUNT running in another thread while the first rows are
    drawn slows that drawing down, so a list's count starts once its rows are on screen. Until the
    count is in, the title shows no total (the one it had was the previous list's)."""
    import threading

    painted, counts, gate = [False], [], threading.Event()
    real_line = KeysetTable.render_line

    def render_line(self, y):
        if y >= 1 and self.visible_rows():
            painted[0] = True
        return real_line(self, y)

    def hold_the_count(kw):
        if kw.get("with_total"):
            counts.append((kw.get("query"), painted[0]))
            if kw.get("query") == "ada":
                assert gate.wait(10), "the test never opened the gate"

    monkeypatch.setattr(KeysetTable, "render_line", render_line)
    _before_each_query(monkeypatch, hold_the_count)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = _table(app)
        assert counts == [(None, True)] and table.total == 5 and table.border_title == "Contacts · 5"
        painted[0] = False
        app.screen.search_now("ada")
        for _ in range(100):  # until the rows are in and the held count has begun
            await pilot.pause()
            if counts[-1][0] == "ada":
                break
        assert table.counting and _names(app) == ["Ada Lovelace"]
        assert table.border_title == "Contacts · …" and not table.border_subtitle  # not the old 5
        gate.set()
        await settle(app, pilot)
        assert counts == [(None, True), ("ada", True)] and table.total == 1 and not table.counting
        assert table.border_title == "Contacts · 1" and table.border_subtitle == "1 of 1"


async def test_no_count_runs_for_text_typed_over(db, actor, now, people, monkeypatch):
    """A search that replaced another's rows counts after COUNT_DELAY_S; a key typed within it
    drops that count, so only the text the typist stops at is counted."""
    counted, pending, stopped = [], [], []
    real_timer = KeysetTable.set_timer

    def set_timer(self, delay, callback=None, **kw):
        timer = real_timer(self, delay, callback, **kw)
        if delay == KeysetTable.COUNT_DELAY_S:
            pending.append((timer, callback))  # fired by hand below: no waiting on the clock
            stop = timer.stop
            timer.stop = lambda: (stopped.append(timer), stop())
        return timer

    monkeypatch.setattr(KeysetTable, "COUNT_DELAY_S", 30.0)
    monkeypatch.setattr(KeysetTable, "set_timer", set_timer)
    _before_each_query(monkeypatch, lambda kw: kw.get("with_total") and counted.append(kw.get("query")))
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = _table(app)
        assert counted == [None] and not pending  # the first list counts once its rows are painted
        for text in ("a", "ad", "ada"):
            app.screen.search_now(text)
            await settle(app, pilot)
            assert table.counting and table.border_title == "Contacts · …"
        assert counted == [None] and len(pending) == 3
        assert stopped == [pending[0][0], pending[1][0]]  # each new search stopped the count before it
        for _timer, callback in pending:  # had one fired anyway, it would count nothing
            callback()
        await settle(app, pilot)
        assert counted == [None, "ada"] and table.total == 1 and table.border_title == "Contacts · 1"


async def test_keys_typed_while_a_search_is_fetched_wait_and_only_the_newest_runs(db, actor, now, people,
                                                                                 monkeypatch):
    import threading

    gate, asked = threading.Event(), []

    def hold_a(kw):
        if kw.get("query") is not None and not kw.get("with_total"):
            asked.append(kw["query"])
            if kw["query"] == "a":
                assert gate.wait(10), "the test never opened the gate"

    _before_each_query(monkeypatch, hold_a)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "a")
        await pilot.pause()
        assert app.screen.table.fetching and asked == ["a"]
        await pilot.press("d", "a")  # typed while "a" is being fetched
        assert app.screen._waiting == "ada" and asked == ["a"]
        gate.set()
        await settle(app, pilot)
        assert asked == ["a", "ada"]  # "ad" was skipped: one query at a time, the newest next
        assert app.screen.query_text == "ada" and _names(app) == ["Ada Lovelace"]


async def test_typing_while_a_page_is_being_turned_still_searches(db, actor, now, people, monkeypatch):
    """Only a search in flight holds the next one back; a page fetched ahead does not."""
    import threading

    gate = threading.Event()

    def hold_a_turn(kw):
        if kw.get("after") is not None:  # a page turn
            assert gate.wait(10), "the test never opened the gate"

    real = _before_each_query(monkeypatch, hold_a_turn)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        with db.read() as session:  # a real cursor to turn the page at (the list fits one page)
            table.window.pages[-1].next_cursor = real(session, limit=1, now=now).next_cursor
        table._turn("next")
        assert table.fetching and not table.reloading
        await pilot.press("slash", *"dij")
        await pilot.pause()
        assert app.screen.query_text == "dij" and app.screen._waiting is None
        gate.set()
        await settle(app, pilot)
        assert _names(app) == ["Edsger Dijkstra"]


async def test_a_slow_search_says_loading_and_a_failed_one_does_not_keep_saying_it(db, actor, now, people,
                                                                                monkeypatch):
    import threading

    from textual.worker import WorkerFailed

    from crm_tui.errors import InvalidInput
    from crm_tui.services import contacts as contacts_service

    gate = threading.Event()

    def failing(session, **kw):
        assert gate.wait(10), "the test never opened the gate"
        raise InvalidInput("the database said no")

    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        monkeypatch.setattr(contacts_service, "list_contacts", failing)
        await pilot.press("slash", "z")
        table._show_slow(table.window.generation)  # what the SLOW_LOAD_S timer does, without the wait
        assert table.border_subtitle == "loading…"
        gate.set()
        with pytest.raises(WorkerFailed):  # the search's worker fails, as it should
            await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.border_subtitle != "loading…" and not table.fetching
        assert any(n.title == "Could not load contacts" for n in app._notifications)


async def test_a_failed_count_leaves_no_older_list_s_total_in_the_title(db, actor, now, people, monkeypatch):
    from textual.worker import WorkerFailed

    from crm_tui.errors import InvalidInput

    def count_fails(kw):
        if kw.get("with_total"):
            raise InvalidInput("the count timed out")

    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.table
        assert table.border_title == "Contacts · 5"
        _before_each_query(monkeypatch, count_fails)
        app.screen.search_now("ada")
        for _ in range(100):
            try:
                await app.workers.wait_for_complete()
            except WorkerFailed:  # the count's worker fails, as it should
                pass
            await pilot.pause()
            if any(n.title == "Could not load contacts" for n in app._notifications):
                break
        assert _names(app) == ["Ada Lovelace"] and not table.counting
        assert table.border_title == "Contacts" and table.total is None  # not the 5 of the list before


async def test_a_search_that_matches_nothing_says_so(db, actor, now, people):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"zzqx", "enter")
        await settle(app, pilot)
        assert _table(app).total == 0
        assert _table(app).visible_rows() == []
        lines = [app.screen.query_one(KeysetTable).render_line(y).text for y in range(4)]
        assert any("No contacts match" in line for line in lines)


async def test_detail_shows_the_timeline_newest_first(db, actor, now, people):
    with db.write() as session:
        for days, subject in ((3, "intro call"), (1, "demo"), (2, "follow-up email")):
            activities.log_activity(session, actor=actor, now=now, data={
                "kind": "call", "contact_id": people["Ada"], "subject": subject,
                "occurred_at": now - timedelta(days=days)})
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.push_screen(ContactDetailScreen(people["Ada"]))
        await settle(app, pilot)
        timeline = app.screen.query_one("#timeline", KeysetTable)
        assert [a.subject for a in timeline.visible_rows()] == ["demo", "follow-up email", "intro call"]
        history = app.screen.query_one("#history", KeysetTable)
        assert history.visible_rows(), "the contact's creation is in its history"


async def test_areas_switch_by_key_and_inbox_shows_due_count(db, actor, now, people):
    with db.write() as session:
        for due in (now - timedelta(days=2), now + timedelta(hours=2), now + timedelta(days=5)):
            tasks.create_task(session, data={"title": "call", "due_at": due, "assignee_id": actor.user_id,
                                             "contact_id": people["Ada"]}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert (app.inbox_overdue, app.inbox_due) == (1, 2)
        assert "Inbox 2" in app.screen.query_one(AreaBar).text().plain
        await pilot.press("3")
        assert app.current_mode == "pipeline"
        assert app.screen.query_one(AreaBar).current == "pipeline"
        await pilot.press("1")
        assert isinstance(app.screen, ContactsScreen)


async def test_help_lists_the_screens_keys(db, actor, now, people):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[3] for row in binding_rows(app.screen.for_screen)}
        assert {"contacts.search", "contacts.sort", "contact.log_call", "list.page_down", "app.help"} <= ids
        await pilot.press("escape")
        assert isinstance(app.screen, ContactsScreen)


def test_every_binding_of_ours_has_an_id():
    import crm_tui.app
    import crm_tui.screens.contacts.detail
    import crm_tui.screens.pipeline.deal
    import crm_tui.screens.contacts.filters
    import crm_tui.screens.help
    import crm_tui.screens.welcome
    import crm_tui.widgets.keyset_table  # noqa: F401
    from textual.dom import DOMNode

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(DOMNode) if c.__module__.startswith("crm_tui")]
    assert len(ours) > 8
    for cls in ours:
        for binding in cls.__dict__.get("BINDINGS", []):
            assert isinstance(binding, Binding) and binding.id, f"{cls.__name__}: {binding}"


async def test_save_the_current_list_as_a_smart_list_and_reopen_it(db, actor, now, people):
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        screen.filters = {"lifecycle": ["customer"]}
        screen.reload()
        await settle(app, pilot)
        assert _names(app) == ["Edsger Dijkstra", "Grace Hopper"]
        await pilot.press("S")
        await pilot.press(*"Key accounts", "enter")
        await settle(app, pilot)
        with db.read() as session:
            saved = [v for v in views.list_views(session, actor=actor) if v.name == "Key accounts"]
        assert len(saved) == 1 and saved[0].filters == {"lifecycle": ["customer"]}

        await pilot.press("x")  # clear: everyone again
        await settle(app, pilot)
        assert _table(app).total == 5
        option_list = screen.query_one("#views", OptionList)
        labels = [str(option_list.get_option_at_index(i).prompt) for i in range(option_list.option_count)]
        assert any(label.startswith("Key accounts") and label.endswith("  2") for label in labels)
        option_list.focus()
        option_list.highlighted = next(i for i, label in enumerate(labels) if label.startswith("Key accounts"))
        await pilot.press("enter")
        await settle(app, pilot)
        assert _names(app) == ["Edsger Dijkstra", "Grace Hopper"]
        assert screen.view_name == "Key accounts"


async def test_the_first_page_of_a_local_database_is_read_on_the_spot(db, actor, now, people, monkeypatch):
    """SQLite: the screen reads its first page as it composes, in the app's own thread (starting a
    thread for it costs more than the read), and the rows are there before anything is awaited.
    A server database (PostgreSQL) reads it in a thread."""
    import threading

    threads = []
    _before_each_query(monkeypatch, lambda kw: threads.append((kw.get("with_total"), threading.get_ident())))
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        assert threads[0][0] is False  # the page (its count may have begun since)
        assert (threads[0][1] == threading.get_ident()) is db.is_sqlite
        if db.is_sqlite:
            assert _names(app)[:2] == ["Ada Lovelace", "Alan Turing"]
        await settle(app, pilot)
        assert _names(app)[:2] == ["Ada Lovelace", "Alan Turing"]
        assert [with_total for with_total, _ in threads] == [False, True]  # the count, after
        assert threads[1][1] != threading.get_ident()


async def test_a_slow_first_page_does_not_hold_the_first_frame(db, actor, now, people, monkeypatch):
    """On a server database the screen waits a moment for its first page as it composes; a
    database slower than that does not keep the app from showing itself: the list says it is
    loading, and the page, fetched once, lands when it comes. The fetch is held here on an
    event, not a timer."""
    import threading

    from crm_tui.db import Database

    monkeypatch.setattr(Database, "local_reads", property(lambda self: False))  # as PostgreSQL
    gate, asked = threading.Event(), []
    real = contacts.list_contacts

    def held(*args, **kwargs):
        asked.append(kwargs.get("with_total"))
        assert gate.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(contacts, "list_contacts", held)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        table = _table(app)
        assert table.fetching and not table.visible_rows() and asked == [False]
        gate.set()
        await settle(app, pilot)
        assert _names(app)[:2] == ["Ada Lovelace", "Alan Turing"]
        assert asked.count(False) == 1  # the page was fetched once; the count came after


async def test_the_lists_sidebar_and_the_search_box_come_in_the_places_kept_for_them(db, actor, now, people,
                                                                                     monkeypatch):
    """The first frame has the rows; the Lists sidebar mounts once its lists are read and the search
    Input once the first frame is drawn. Until then the body keeps the sidebar's width free and a
    line of text stands where the search box goes, so nothing moves when they come. Both are held
    back here to look at the screen before they come. At 80 columns the sidebar is hidden until v
    opens it."""
    held: list = []
    load_views, search_box = ContactsScreen.load_views, ContactsScreen.search_box
    monkeypatch.setattr(ContactsScreen, "load_views", lambda self: held.append("views"))
    monkeypatch.setattr(ContactsScreen, "search_box", lambda self: held.append("search"))
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert set(held) == {"views", "search"}
        assert not screen.query("#views") and not screen.query("#search")
        table = _table(app).region
        assert (table.x, table.right) == (30, 120) and _names(app)
        wait = screen.query_one("#search-wait").region
        assert "Search name, email" in str(screen.query_one("#search-wait").render())
        load_views(screen)
        box = search_box(screen)
        await settle(app, pilot)
        assert not screen.query("#search-wait") and screen.query_one("#search", Input) is box
        assert box.region == wait
        sidebar = screen.query_one("#views", OptionList)
        assert sidebar.display and sidebar.region.width == 30 and _table(app).region == table
        assert str(sidebar.get_option_at_index(0).prompt).startswith("All contacts")
    monkeypatch.undo()
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        sidebar = app.screen.query_one("#views", OptionList)
        assert not sidebar.display
        await pilot.press("v")
        assert sidebar.display and app.focused is sidebar
        await pilot.press("v")
        assert not sidebar.display and app.focused is _table(app)


async def test_builtin_lists_have_live_counts(db, actor, now, people):
    with db.read() as session:
        found = views.contact_views(session, actor=actor)
        counts = views.view_counts(session, views=found, actor=actor, now=now)
    by_name = {v.name: counts[v.id] for v in found}
    assert by_name["All contacts"] == 5
    assert by_name["My contacts"] == 2
    assert by_name["New leads"] == 2
    assert by_name["Customers"] == 2
    assert by_name["Recently added"] == 5


async def test_first_run_on_an_empty_database_offers_demo_data(db, actor, now, monkeypatch):
    from crm_tui.screens import welcome

    monkeypatch.setattr(welcome, "DEMO_CONTACTS", 300)  # the demo's size is demo.py's tests' business
    app = make_app(db, actor, now, welcome=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("d")
        await settle(app, pilot, rounds=200)
        assert isinstance(app.screen, ContactsScreen)
        with db.read() as session:
            assert contacts.count_contacts(session, now=now) == 300
        assert _table(app).total == 300


async def test_first_run_start_empty(db, actor, now):
    app = make_app(db, actor, now, welcome=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("e")
        assert isinstance(app.screen, ContactsScreen)
        assert _table(app).total == 0


async def test_archive_asks_first_and_u_undoes_it(db, actor, now, people):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        await pilot.press("n")  # no: nothing changes
        await settle(app, pilot)
        assert _table(app).total == 5
        await pilot.press("a")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert _table(app).total == 4
        with db.read() as session:
            assert contacts.get_contact(session, contact_id=people["Ada"]).archived
        await pilot.press("u")
        await settle(app, pilot)
        assert _table(app).total == 5
        with db.read() as session:
            assert not contacts.get_contact(session, contact_id=people["Ada"]).archived


async def test_palette_goes_to_a_contact_by_name(db, actor, now, people):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"hopper")
        await settle(app, pilot)
        for _ in range(50):  # the palette searches in its own task; wait for the hit to show
            await pilot.pause()
            from textual.command import CommandList
            options = app.screen.query_one(CommandList)
            if any("Grace Hopper" in str(options.get_option_at_index(i).prompt) for i in range(options.option_count)):
                break
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen)
        assert app.screen.contact_id == people["Grace"]


async def test_palette_finds_a_call_by_its_notes_and_opens_its_contact(db, actor, now, people):
    """Issue 17 #19: the palette searches what people wrote, not only names."""
    with db.write() as session:
        activities.log_activity(session, data={"kind": "call", "contact_id": people["Grace"], "subject": "Intro",
                                               "body": "Wants the Marrakesh pilot in March"}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"marrakesh")
        await settle(app, pilot)
        from textual.command import CommandList
        for _ in range(50):  # the palette searches in its own task; wait for the hit to show
            await pilot.pause()
            options = app.screen.query_one(CommandList)
            prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
            if any("Activity: Intro" in p for p in prompts):
                break
        assert any("Activity: Intro" in p for p in prompts), prompts
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen)
        assert app.screen.contact_id == people["Grace"]


async def _type_into(app, pilot, widget_id: str, text: str) -> None:
    field = app.screen.query_one(f"#{widget_id}", Input)
    field.focus()
    await pilot.pause()
    field.value = ""
    await pilot.press(*text)


async def test_new_contact_from_the_list_refuses_bad_input_then_saves(db, actor, now, people):
    from crm_tui.screens.forms import ContactForm

    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactForm)
        await _type_into(app, pilot, "first_name", "Katherine")
        await _type_into(app, pilot, "last_name", "Johnson")
        await _type_into(app, pilot, "emails", "katherine@@nasa")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactForm), "the form stays open on bad input"
        assert "email" in str(app.screen.query_one("#form-error").render()).lower()
        with db.read() as session:
            assert contacts.count_contacts(session, now=now) == 5
        await _type_into(app, pilot, "emails", "katherine@nasa.gov")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        assert _table(app).total == 6
        with db.read() as session:
            found = contacts.list_contacts(session, query="katherine", now=now).items
        assert [(c.full_name, c.email) for c in found] == [("Katherine Johnson", "katherine@nasa.gov")]


async def test_log_a_call_with_a_follow_up_from_the_list(db, actor, now, people):
    from crm_tui.screens.forms import LogActivityForm

    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert _table(app).current_row.full_name == "Ada Lovelace"
        await pilot.press("l")
        await settle(app, pilot)
        assert isinstance(app.screen, LogActivityForm)
        await _type_into(app, pilot, "subject", "Pricing call")
        await _type_into(app, pilot, "outcome", "interested")
        await _type_into(app, pilot, "follow_title", "call back")
        await _type_into(app, pilot, "follow_due", "+3d")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        with db.read() as session:
            logged = activities.timeline(session, contact_id=people["Ada"]).items
            follow_ups = tasks.list_tasks(session, status="open", contact_id=people["Ada"], now=now).items
            ada = contacts.get_contact(session, contact_id=people["Ada"])
        assert [(a.kind, a.subject, a.outcome) for a in logged] == [("call", "Pricing call", "interested")]
        assert [(t.title, t.due_at) for t in follow_ups] == [("call back", now + timedelta(days=3))]
        assert ada.last_contacted_at == now
        assert app.inbox_due == 0  # due in three days: not yet in the Inbox count


async def test_edit_with_a_conflict_asks_and_never_overwrites_silently(db, actor, now, people):
    from crm_tui.screens.conflict import FieldConflictScreen
    from crm_tui.screens.forms import ContactForm

    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactForm)
        with db.write() as session:  # a teammate saves first
            contacts.update_contact(session, contact_id=people["Ada"], changes={"title": "Countess"},
                                    actor=actor, now=now)
        await _type_into(app, pilot, "title", "Mathematician")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        with db.read() as session:
            assert contacts.get_contact(session, contact_id=people["Ada"]).title == "Countess"
        await pilot.press("t")  # take theirs
        await settle(app, pilot)
        assert not isinstance(app.screen, (ContactForm, FieldConflictScreen))
        with db.read() as session:
            assert contacts.get_contact(session, contact_id=people["Ada"]).title == "Countess"


async def test_filter_form_narrows_by_stage_and_mine(db, actor, now, people):
    from textual.widgets import SelectionList

    from crm_tui.screens.contacts.filters import ContactFilterForm

    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactFilterForm)
        form.query_one("#lifecycle", SelectionList).select("lead")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert _names(app) == ["Ada Lovelace", "Barbara Liskov"]
        assert "stage lead" in str(app.screen.query_one("#filter-line").render())

        await pilot.press("f")
        await settle(app, pilot)
        app.screen.query_one("#lifecycle", SelectionList).deselect_all()
        app.screen.query_one("#owner", Input).value = "me"  # the owner picker's "me"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert _names(app) == ["Edsger Dijkstra", "Grace Hopper"]
        assert app.screen.filters == {"owner_id": views.ME}


async def test_the_shell_on_one_start_theme_key_bar_and_a_failed_worker(sqlite_db, actor_sqlite, now):
    """Three checks of the app's shell, on a database with no contacts, in one app start: each
    begins from what the one before left (the theme back to dark, the sort the key bar set, the
    toasts cleared) and reads nothing of it."""
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await _theme_toggles_between_dark_and_light(app, pilot)
        await _key_bar_shows_the_main_keys_and_a_click_presses_one(app, pilot)
        app.clear_notifications()
        await _a_failed_worker_in_a_screen_or_form_shows_a_notification(app, pilot)


async def _theme_toggles_between_dark_and_light(app, pilot):
    assert app.theme == "textual-dark"
    await pilot.press("ctrl+t")
    assert app.theme == "textual-light"
    await pilot.press("ctrl+t")
    assert app.theme == "textual-dark"


async def _key_bar_shows_the_main_keys_and_a_click_presses_one(app, pilot):
    from crm_tui.widgets.key_bar import KeyBar

    bar = app.screen.query_one(KeyBar)
    line = bar.text().plain
    assert "/ Search" in line and "s Sort" in line and line.rstrip().endswith("^p palette")
    assert len(line) <= 80  # keys that don't fit give way to the palette's, at the right edge
    screen = app.screen
    assert screen.sort == "name"
    x = line.index(" s Sort")
    await pilot.click(KeyBar, offset=(x + 1, 0))
    await settle(app, pilot)
    assert screen.sort == "company"


async def _a_failed_worker_in_a_screen_or_form_shows_a_notification(app, pilot):
    """Textual tells only the screen that ran a worker that it failed; the screens hand it on."""
    from textual import work

    from crm_tui.errors import InvalidInput
    from crm_tui.screens.base import AreaScreen

    class Failing(AreaScreen):
        @work(thread=True, exit_on_error=False)
        def fail(self) -> None:
            raise InvalidInput("nothing to do here")

    assert not app._notifications
    screen = Failing()
    await app.push_screen(screen)
    worker = screen.fail()
    for _ in range(100):  # bounded: the failure's message reaches the screen, then the app
        await pilot.pause()
        if app._notifications:
            break
    assert worker.error is not None
    assert [n.message for n in app._notifications] == ["nothing to do here"]


async def test_a_search_with_brackets_shows_as_typed(db, actor, now, people):
    """The filter line is plain text: "[/b]" typed in the search once crashed the app (it went
    into markup) and "[red]" vanished."""
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        for typed in ("[/b]", "[red]x"):
            await pilot.press(*typed)
            await settle(app, pilot)
            assert app.is_running
            assert f"matching “{typed}”" in str(app.screen.query_one("#filter-line").render())
            await pilot.press(*["backspace"] * len(typed))
            await settle(app, pilot)


async def test_a_click_on_a_row_moves_the_cursor_there(db, actor, now, people):
    """The table's click handler is a public on_click (no private Textual name): one click moves the
    cursor to the row clicked, a double click opens it."""
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        table = _table(app)
        assert table.cursor == 0
        await pilot.click(KeysetTable, offset=(5, 3))  # the header is line 0 of the body: row 2
        await settle(app, pilot)
        assert table.cursor == table._top + 2
        await pilot.click(KeysetTable, offset=(5, 1), times=2)
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen)
