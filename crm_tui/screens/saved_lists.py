"""The forms that save the list shown (its search, filters and sort) as a shared list, and rename one:
the contacts list's and the deals list's alike."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.widgets import Checkbox, Input

from crm_tui.models.schemas import SavedViewRead
from crm_tui.screens.forms import FormScreen, _field, _input
from crm_tui.services import views
from crm_tui.services.common import Actor


class _ViewNameForm(FormScreen[SavedViewRead | None]):
    """A small form that names a saved list, on the forms' one base: it writes in the base's worker,
    shows the service's refusal (a name taken, a teammate's change) under the field, and dismisses
    with the list saved."""

    HINT = "enter save · esc cancel"


class SaveViewForm(_ViewNameForm):
    """Name the current search, filters and sort; the list is shared with the team unless private."""

    def __init__(self, data: dict) -> None:
        super().__init__()
        self.data = data

    def form_title(self) -> str:
        return "Save this list"

    def compose_fields(self) -> ComposeResult:
        yield _field("Name", _input("name", placeholder="e.g. Hot leads in Berlin"))
        yield _field("", Checkbox("Only for me", False, id="private", compact=True))

    def values(self) -> dict:
        return {**self.data, "name": self.query_one("#name", Input).value,
                "shared": not self.query_one("#private", Checkbox).value}

    def write(self, session, values: dict, *, actor: Actor, now: datetime) -> SavedViewRead:
        return views.create_view(session, data=values, actor=actor, now=now)


class RenameViewForm(_ViewNameForm):
    """A new name for a saved list (the version it was read at guards a teammate's change)."""

    def __init__(self, view: SavedViewRead) -> None:
        super().__init__()
        self.view = view

    def form_title(self) -> str:
        return "Rename this list"

    def compose_fields(self) -> ComposeResult:
        yield _field("Name", _input("name", self.view.name))

    def values(self) -> dict:
        return {"name": self.query_one("#name", Input).value}

    def write(self, session, values: dict, *, actor: Actor, now: datetime) -> SavedViewRead:
        return views.update_view(session, view_id=self.view.id, name=values["name"], version=self.view.version,
                                 actor=actor, now=now)
