"""`s` in a list screen cycles its own sorts, then its typed custom fields' (services/fields.py):
"custom.KEY", keyset-paged on the field's sort index. The fields are read in a worker the first
time `s` is pressed (not at start: the contact list paints before the ORM loads), and again after
data changes (a field added in Settings)."""

from __future__ import annotations

from typing import ClassVar

from textual import work

from crm_tui.screens.base import Outcome


class FieldSorts:
    """For a list screen with `sort`, `reload()` and `FIELD_SORT_KIND` ("contact", "deal")."""

    FIELD_SORT_KIND: ClassVar[str] = "contact"
    _field_sorts: dict[str, str] | None = None  # "custom.KEY" -> the field's label, once read

    def cycle_sort(self, builtin: list[str]) -> None:
        """The next sort after the current one: the list's own, then the custom fields'."""
        if self._field_sorts is None:
            self._read_field_sorts(builtin)
            return
        order = builtin + [s for s in self._field_sorts if s not in builtin]
        self.sort = order[(order.index(self.sort) + 1) % len(order)] if self.sort in order else order[0]
        self.reload()

    @work(thread=True, exclusive=True, group="field-sorts", exit_on_error=False)
    def _read_field_sorts(self, builtin: list[str]) -> Outcome:
        from crm_tui.services import fields, start

        start.load_orm()
        with self.app.db.read() as session:
            found = {f"custom.{f.key}": f.label for f in fields.field_map(session, self.FIELD_SORT_KIND).values()
                     if f.type != "multi"}  # a list of picks has no order
        return Outcome(self._field_sorts_read, found, builtin)

    def _field_sorts_read(self, found: dict[str, str], builtin: list[str]) -> None:
        self._field_sorts = found
        self.cycle_sort(builtin)

    def sort_label(self, labels: dict[str, str]) -> str:
        """How the current sort is named on the list's filter line."""
        if self.sort in labels:
            return labels[self.sort]
        return (self._field_sorts or {}).get(self.sort) or self.sort.removeprefix("custom.")

    def forget_field_sorts(self) -> None:
        self._field_sorts = None
