"""`?`: every key binding of the screen you came from, its widgets' and the app's, in one table."""

from __future__ import annotations

from rich.table import Table
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from crm_tui.compat import node_bindings
from crm_tui.screens.base import SHELL_CSS


def binding_rows(screen: Screen) -> list[tuple[str, str, str, str]]:
    """(where, keys, what, id) for the app, the screen, and each widget on it that has bindings;
    each binding once, by id. Only the app's own keys: each has an id (a test checks it), and
    Textual's generic ones (a text box's ctrl+a, a table's cursor keys, focus next) have none."""
    app = screen.app
    nodes = [screen, *screen.query("*"), app]
    rows, seen = [], set()
    for node in nodes:
        where = _where(node, screen, app)
        for bindings in node_bindings(node).key_to_bindings.values():
            for binding in bindings:
                key = binding.id
                if key is None or key in seen or binding.system:
                    continue
                what = binding.description or binding.action
                if not _offered(node, binding, app):
                    if (when := _applies_later(node, binding)) is None:
                        continue
                    what = f"{what} ({when})"
                seen.add(key)
                keys = ", ".join(app.get_key_display(Binding(k.strip(), "")) for k in _all_keys(node, binding))
                rows.append((where, keys, what, binding.id or ""))
    return rows


def _offered(node, binding: Binding, app) -> bool:
    """Whether the person's role may use the key (the screens' check_action, the app's areas)."""
    _target, name, parameters = parse_action(binding.action)
    if node is app:
        may_open = getattr(app, "may_open", None)
        return not (name == "area" and may_open is not None and not may_open(*parameters))
    return node.check_action(name, parameters) is not False


def _applies_later(node, binding: Binding) -> str | None:
    """When a key that does nothing yet will apply ("once rows are marked"), if its widget says so
    (`help_when(action)`: a list's marking keys); None for a key that never applies here."""
    help_when = getattr(node, "help_when", None)
    return help_when(parse_action(binding.action)[1]) if help_when is not None else None


# what each widget with keys of its own is to the person reading help (never a class name)
WIDGET_NAMES = {"KeysetTable": "List", "Input": "Text box", "OptionList": "Lists panel", "Tabs": "Tabs",
                "KanbanBoard": "Board", "DataTable": "Table", "TextArea": "Text", "Select": "Choice",
                "BarChart": "Chart", "TabbedContent": "Tabs"}


def _where(node, screen: Screen, app) -> str:
    if node is app:
        return "Anywhere"
    if node is screen:
        return f"{area_title(app, getattr(screen, 'AREA', 'this screen'))} screen"
    for cls in type(node).__mro__:  # a widget of ours built on one of those is named as it
        if cls.__name__ in WIDGET_NAMES:
            return WIDGET_NAMES[cls.__name__]
    return f"{area_title(app, getattr(screen, 'AREA', 'this screen'))} screen"


def area_title(app, mode: str) -> str:
    """The area's title as the app's registry (crm_tui/areas.py) gives it."""
    titles = {area.mode: area.title for area in getattr(app, "AREAS", ())}
    return titles.get(mode, mode.capitalize())


def _all_keys(node, binding: Binding) -> list[str]:
    """A binding written as "up,k" is stored once per key; gather its keys back together."""
    keys = [key for key, bindings in node_bindings(node).key_to_bindings.items()
            if any(b.action == binding.action and b.id == binding.id for b in bindings)]
    return keys or [binding.key]


class HelpScreen(ModalScreen[None]):
    """The keys of the screen under it. Escape, q or ? closes it."""

    CSS_PATH = SHELL_CSS

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, for_screen: Screen) -> None:
        super().__init__()
        self.for_screen = for_screen

    def compose(self) -> ComposeResult:
        table = Table(expand=True, box=None, show_edge=False, pad_edge=False, header_style="bold")
        table.add_column("Keys", no_wrap=True, ratio=2)
        table.add_column("What it does", ratio=3)
        table.add_column("Where", style="dim", ratio=2)
        for where, keys, what, _ in binding_rows(self.for_screen):
            table.add_row(keys, what, where)
        title = area_title(self.app, getattr(self.for_screen, "AREA", "") or self.for_screen.__class__.__name__)
        with Vertical(id="help"):
            yield Static(f"[b]Keys · {title}[/b]   esc closes · ctrl+p finds any command",
                         id="help-title")
            with VerticalScroll():
                yield Static(table)
