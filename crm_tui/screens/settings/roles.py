"""Settings · Roles: what each role may do, and (for admins) changing it cell by cell."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.services import permissions
from crm_tui.services.words import plural

SHOWN = {permissions.ALL: "all", permissions.OWN: "own", permissions.NONE: "·"}


class RoleSettingsScreen(AreaScreen):
    """Pushed from the command palette; a cell is one role and one permission."""

    CSS_PATH = "roles.tcss"
    AUTO_FOCUS = "#roles-table"
    BINDINGS = [
        Binding("a", "set_scope('all')", "All", id="roles.all"),
        Binding("o", "set_scope('own')", "Own", id="roles.own"),
        Binding("n", "set_scope('none')", "None", id="roles.none"),
        Binding("R", "reset", "Reset role", id="roles.reset"),
        Binding("escape", "back", "Back", id="roles.back"),
    ]
    NEEDS = {"set_scope": "role.admin", "reset": "role.admin"}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[permissions.MatrixRow] = []
        self.can_change = False

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Roles", id="roles-line")
        yield DataTable(id="roles-table", cursor_type="cell", zebra_stripes=True)
        yield Static("", id="roles-detail")
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # as wide as the longest action, set now: a width measured from the rows is applied when the
        # table is next idle, and a screen drawn before that showed "contact.ed"
        table.add_column("Permission", key="action", width=max(len("Permission"), *map(len, permissions.ACTIONS)))
        for role in permissions.ROLES:
            table.add_column(role, key=role)
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="roles-load", exit_on_error=False)
    def _load(self) -> Outcome:
        with self.app.db.read() as session:
            rows = permissions.matrix(session)
            can_change = permissions.allowed(session, self.app.actor, "role.admin")
        return Outcome(self._show, rows, can_change)

    def _show(self, rows: list[permissions.MatrixRow], can_change: bool) -> None:
        self.rows, self.can_change = rows, can_change
        table = self.query_one(DataTable)
        where = table.cursor_coordinate
        table.clear()
        for row in rows:
            cells = [SHOWN[row.scopes[r]] + ("*" if r in row.changed else "") for r in permissions.ROLES]
            table.add_row(row.action, *cells, key=row.action)
        table.move_cursor(row=where.row, column=max(where.column, 1), animate=False)
        how = ("a all · o own · n none · R resets the role; * differs from the default" if can_change
               else "Read only: an admin changes roles")
        self.query_one("#roles-line", Static).update(f"Roles — {how}")
        self._describe()

    @on(DataTable.CellHighlighted)
    def _describe(self) -> None:
        role, row = self._cell()
        if row is not None:
            who = f"{role}: {row.scopes[role]}" if role else ""
            self.query_one("#roles-detail", Static).update(f"{row.action} — may {row.description}.  {who}")

    def _cell(self) -> tuple[str | None, permissions.MatrixRow | None]:
        table = self.query_one(DataTable)
        if not self.rows:
            return None, None
        where = table.cursor_coordinate
        row = self.rows[min(where.row, len(self.rows) - 1)]
        role = permissions.ROLES[where.column - 1] if where.column >= 1 else None
        return role, row

    def action_set_scope(self, scope: str) -> None:
        role, row = self._cell()
        if row is None or role is None:
            self.notify("Pick a role's column first.", severity="warning")
            return
        self._save(role, row.action, scope)

    @work(thread=True, exclusive=True, group="roles-save", exit_on_error=False)
    def _save(self, role: str, action: str, scope: str) -> Outcome:
        with self.app.db.write() as session:
            permissions.set_scope(session, role=role, action=action, scope=scope, actor=self.app.actor,
                                  now=self.app.now())
        return Outcome(self._saved, f"{role} {action}: {scope}")

    def action_reset(self) -> None:
        role, _row = self._cell()
        if role is None:
            self.notify("Pick a role's column first.", severity="warning")
            return
        changed = sum(1 for row in self.rows if role in row.changed)
        if not changed:
            self.notify(f"{role} has its default permissions already.", title="Roles")
            return
        question = (f"Reset {role} to its default permissions? "
                    f"{plural(changed, 'change')} made to it will be undone.")
        self.app.push_screen(ConfirmScreen(question, "Reset"), lambda yes: self._reset(role) if yes else None)

    @work(thread=True, exclusive=True, group="roles-save", exit_on_error=False)
    def _reset(self, role: str) -> Outcome:
        with self.app.db.write() as session:
            undone = permissions.reset(session, role=role, actor=self.app.actor, now=self.app.now())
        return Outcome(self._saved, f"{role} back to the defaults ({undone} undone)")

    def _saved(self, message: str) -> None:
        self.notify(message, title="Roles")
        self.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
