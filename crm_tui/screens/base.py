"""What every area screen shares: the area bar on top, the footer below, and a way to ask the
app to refresh after a change."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import WorkerState

from crm_tui.widgets.area_bar import AreaBar
from crm_tui.widgets.key_bar import KeyBar
from crm_tui.widgets.plain import PlainBackground

# the styles of the screens opened over an area (help, the welcome, a contact's detail, the small
# Contacts forms): read when the first of them opens, not at start. Absolute: a relative CSS_PATH
# is read beside the module of the screen's class, which may sit in any feature folder.
SHELL_CSS = str(Path(__file__).with_name("shell.tcss"))
W = TypeVar("W", bound=Widget)


def plain_cell(value: object) -> Text:
    """A DataTable cell shown as typed. The table reads a str cell as Rich markup, where "[/b]" in
    a name raises and "[red]" vanishes; this is the Text it would have made of plain text."""
    return Text("" if value is None else str(value), no_wrap=True, end="")


class Outcome:
    """What a thread worker returns for the UI to do once it has finished: `method(*args)`.
    Handing it over on the worker's SUCCESS (not with a call into the UI from inside the worker)
    means a form that closes on its result never cancels the very worker that is returning it."""

    __slots__ = ("method", "args")

    def __init__(self, method: Callable[..., object], *args: object) -> None:
        self.method, self.args = method, args


@dataclass
class WorkProgress(Message, bubble=False):
    """How far a long worker has come (an import, the demo data), posted from its thread to the
    screen that shows it. The worker does not wait for the screen: a progress still queued is
    replaced by a newer one, so a fast worker never floods the screen with stale steps."""

    done: int
    total: int
    what: str = ""  # what is being done (the demo's table)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WorkProgress)


class ReportsWorkerErrors:
    """Textual posts a worker's state changes only to the screen or widget that started it, and
    they don't bubble: a failed save in a screen's own worker (a refusal, a conflict) would go
    unseen. Screens with this mixin hand every failure to the app's one handler, which shows it,
    and carry out the `Outcome` a finished worker returns (if the screen is still there)."""

    def on_worker_state_changed(self, event) -> None:
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, Outcome):
            if self.is_attached:
                event.worker.result.method(*event.worker.result.args)
            return
        report = getattr(self.app, "report_worker_failure", None)
        if report is not None:
            report(event)


@cache
def _needs(cls: type) -> dict[str, str]:
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        found.update(klass.__dict__.get("NEEDS", {}))
    return found


class RoleGate:
    """Keys the person's role may not use at all are left out of the key bar, help and palette, and
    do nothing: `NEEDS` maps an action to the permission it takes (see services/permissions.py).
    Each class in the screen's ancestry may add its own. A role that may act on its own records
    only keeps the key; the service decides for each record and says why when it refuses."""

    NEEDS: ClassVar[dict[str, str]] = {}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        need = _needs(type(self)).get(action)
        may = getattr(self.app, "may", None)
        if need is not None and may is not None and not may(need):
            return False
        return super().check_action(action, parameters)


class AreaScreen(PlainBackground, RoleGate, ReportsWorkerErrors, Screen):
    """A screen that belongs to one of the app's areas (a mode)."""

    AREA = "contacts"
    LIVE_REFRESH = True  # refresh_data() when a teammate saves something (app.live_changed)
    def focused_at_start(self, widget: W) -> W:
        """`widget`, the one AUTO_FOCUS gives the focus to, styled as focused from its first style
        application. Textual focuses it once the screen has composed, before it is mounted: the
        change of :focus applied the whole stylesheet to it, component classes and all, and its
        mount then did it again (about 0.7 ms of opening the board). Marked focused quietly now,
        the focus changes nothing when it comes. (Textual focuses only while the terminal has the
        focus: so does this.)"""
        if self.app.app_focus:
            widget.set_reactive(Widget.has_focus, True)
        return widget

    def compose_frame_top(self) -> ComposeResult:
        # a screen opened over an area (a contact's detail from Companies, say) stays in that area
        stack = self.app.screen_stack
        base = stack[0] if stack and stack[0] is not self else self
        yield AreaBar(getattr(base, "AREA", self.AREA))

    def compose_frame_bottom(self) -> ComposeResult:
        yield KeyBar()

    def refresh_data(self) -> None:
        """Reload what the screen shows (after a save elsewhere). Screens override it."""


class SearchableList:
    """Search as you type for a list screen. Each keystroke searches at once; while a search is
    still being fetched, the newest text waits for it and goes next (the ones typed in between are
    skipped), so a fast typist costs one query at a time and the last keystroke's results always
    come. Enter searches and moves into the list. The screen keeps `query_text`, has a `table`
    (a KeysetTable), and defines `reload()` and `action_focus_list()`."""

    query_text: str = ""
    _waiting: str | None = None  # typed while a search was in flight

    def search_typed(self, value: str) -> None:
        if self.table.reloading:  # (a page being turned is dropped by the new search)
            self._waiting = value
        else:
            self.search_now(value)

    def on_keyset_table_rows_shown(self, _event) -> None:
        """A search's first rows are on screen: run the text typed meanwhile, if any."""
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self.search_now(waiting)

    def search_now(self, value: str) -> None:
        text = value.strip()
        if text != self.query_text:
            self.query_text = text
            self.reload()

    def submit_search(self, value: str) -> None:
        self._waiting = None
        self.search_now(value)
        self.action_focus_list()
