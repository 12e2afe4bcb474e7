import pytest
from textual.widgets import Input

from crm_tui.app import CrmApp
from tests.tui.conftest import actor_sqlite, sqlite_db  # noqa: F401 - shared fixtures


@pytest.fixture
def demo_app(sqlite_demo_db, sqlite_demo_actor, now):
    """The app on the demo data (60 contacts, seed 7, loaded by 'ann'; tests/conftest.py's
    sqlite_demo_template), as 'ann', on the frozen clock."""
    return CrmApp(sqlite_demo_db, sqlite_demo_actor, clock=lambda: now, welcome=False, inbox_refresh_s=None)


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch):
    """A focused input's cursor drawn solid, never blinking: a snapshot taken in the blink's off
    phase (which depends on how long the test took to get there: the first app of a process is the
    slowest) differs from one taken in its on phase."""
    real = Input.__init__

    def steady(self, *args, **kwargs) -> None:
        real(self, *args, **kwargs)
        self.cursor_blink = False

    monkeypatch.setattr(Input, "__init__", steady)
