"""Settings · Users: the team, and (for admins) adding, editing, deactivating and re-roling users,
with the same rules as `crm user`: the same service functions (services/users.py), which check
user.admin, keep an active admin, and audit every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Select, Static

from crm_tui.models.enums import Role
from crm_tui.models.schemas import UserRead
from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.screens.forms import ConfirmScreen, FormScreen, _field, _input, _selected
from crm_tui.services import lookup, users
from crm_tui.services.common import Actor
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import Picker

ROLES = [(role.value, role.value) for role in Role]
COLUMNS = ("Login", "Name", "Role", "Team", "Manager", "Active")


class UserForm(FormScreen[UserRead | None]):
    """A new user, or an edit of one: only the fields changed are sent, with the version read."""

    def __init__(self, user: UserRead | None = None, manager: Choice | None = None) -> None:
        super().__init__()
        self.user, self.manager = user, manager

    def form_title(self) -> str:
        return f"Edit user · {self.user.login}" if self.user else "New user"

    def compose_fields(self) -> ComposeResult:
        u = self.user
        if u is None:
            yield _field("Login", _input("login", placeholder="what they sign in as, e.g. bob"))
        yield _field("Name", _input("name", u.name if u else ""))
        yield _field("Email", _input("email", (u.email or "") if u else ""))
        yield _field("Role", Select(ROLES, id="role", value=u.role if u else Role.SALES.value, allow_blank=False,
                                    compact=True))
        yield _field("Team", _input("team", (u.team or "") if u else "", placeholder='e.g. "EMEA"'))
        yield _field("Manager", Picker("user", id="manager", choice=self.manager))
        yield _field("Time zone", _input("timezone", (u.timezone or "") if u else "",
                                         placeholder="e.g. Europe/Paris; empty: the team's"))

    def values(self) -> dict[str, Any]:
        text = {id_: self.query_one(f"#{id_}", Input).value.strip()
                for id_ in ("login", "name", "email", "team", "timezone") if self.query(f"#{id_}")}
        picker = self.query_one("#manager-picker", Picker)
        return {**text, "role": _selected(self.query_one("#role", Select)),
                "manager": (picker.chosen_id, picker.text)}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> UserRead:
        chosen, typed = values.pop("manager")
        if chosen is None and typed:
            chosen = lookup.resolve(session, kind="user", text=typed).id
        if self.user is None:
            return users.create_user(session, data={**{k: v or None for k, v in values.items()},
                                                    "login": values["login"], "role": values["role"],
                                                    "manager_id": chosen},
                                     actor=actor, now=now)
        u = self.user
        before = {"name": u.name, "email": u.email or "", "team": u.team or "", "timezone": u.timezone or "",
                  "role": u.role}
        changes = {k: v for k, v in values.items() if k in before and v != before[k]}
        if chosen != u.manager_id:
            changes["manager_id"] = chosen
        return users.update_user(session, user_id=u.id, changes=changes, actor=actor, version=u.version, now=now)


class UserSettingsScreen(AreaScreen):
    """Pushed from the command palette: one row a user; n adds, e (or enter) edits, d deactivates or
    reactivates."""

    CSS_PATH = "users.tcss"
    AUTO_FOCUS = "#users-table"
    BINDINGS = [
        Binding("n", "new_user", "New user", id="users.new"),
        Binding("e", "edit_user", "Edit", id="users.edit"),
        Binding("d", "toggle_active", "Deactivate/reactivate", id="users.active"),
        Binding("escape", "back", "Back", id="users.back"),
    ]
    NEEDS: ClassVar[dict[str, str]] = {"new_user": "user.admin", "edit_user": "user.admin",
                                       "toggle_active": "user.admin"}

    def __init__(self) -> None:
        super().__init__()
        self.team: list[UserRead] = []

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Users", id="users-line")
        yield DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="users-load", exit_on_error=False)
    def _load(self) -> Outcome:
        with self.app.db.read() as session:
            return Outcome(self._show, users.list_users(session, include_inactive=True))

    def _show(self, team: list[UserRead]) -> None:
        self.team = team
        logins = {u.id: u.login for u in team}
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for u in team:  # names as typed, never markup
            table.add_row(*(Text(str(cell or ""), no_wrap=True) for cell in (
                u.login, u.name, u.role, u.team, logins.get(u.manager_id, ""), "yes" if u.active else "no")),
                key=str(u.id))
        if team:
            table.move_cursor(row=min(row, len(team) - 1), animate=False)
        active = sum(u.active for u in team)
        self.query_one("#users-line", Static).update(
            f"Users — {active} active of {len(team)} · n new · e edit · d deactivate/reactivate")

    def _current(self) -> UserRead | None:
        table = self.query_one(DataTable)
        if not self.team:
            return None
        return self.team[min(table.cursor_row, len(self.team) - 1)]

    def action_new_user(self) -> None:
        self.app.push_screen(UserForm(), self._saved)

    @on(DataTable.RowSelected)
    def action_edit_user(self) -> None:
        user = self._current()
        if user is None:
            return
        manager = next((Choice("user", m.id, m.login, m.name) for m in self.team if m.id == user.manager_id), None)
        self.app.push_screen(UserForm(user, manager), self._saved)

    def action_toggle_active(self) -> None:
        user = self._current()
        if user is None:
            return
        verb = "Deactivate" if user.active else "Reactivate"
        self.app.push_screen(ConfirmScreen(f"{verb} {user.login}?", verb),
                             lambda yes: self._set_active(user, not user.active) if yes else None)

    @work(thread=True, exclusive=True, group="users-save", exit_on_error=False)
    def _set_active(self, user: UserRead, active: bool) -> Outcome:
        try:
            with self.app.db.write() as session:
                saved = users.update_user(session, user_id=user.id, changes={"active": active},
                                          actor=self.app.actor, version=user.version, now=self.app.now())
        except Exception as exc:  # noqa: BLE001 - a refusal (last admin, no permission) is one line
            return Outcome(self._refused, getattr(exc, "message", str(exc)))
        return Outcome(self._saved, saved)

    def _refused(self, message: str) -> None:
        self.notify(message, title="Users", severity="error")
        self.refresh_data()

    def _saved(self, user: UserRead | None) -> None:
        if user is not None:
            self.notify(f"Saved {user.login} ({user.role}, {'active' if user.active else 'inactive'}).",
                        title="Users")
            self.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
