import pytest
from textual.widgets import Input

from tests.tui.conftest import actor_sqlite, sqlite_db  # noqa: F401 - shared fixtures


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
