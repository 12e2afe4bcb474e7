"""Who may write what an import row writes: the per-record checks the commands make (`deal edit`,
`contact edit --owner`, `task assign`, `user add`...), made set-wise so a file can do no more than
the person running it. The owners of the records a chunk updates are read in one query per batch,
and only when one of the actor's scopes is "own"; every check after that is in memory."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.errors import Forbidden
from crm_tui.services import permissions
from crm_tui.services.common import Actor
from crm_tui.services.importing.match import batches


@dataclass(frozen=True)
class Rules:
    edit: str  # what every row of the kind needs
    owner: str  # the column naming who owns the record (its assignee, or who logged it)
    scoped: bool  # edit is checked against that owner, as the kind's commands do
    assign: str | None  # what handing the record to another owner needs
    give: bool = False  # a record nobody owns counts as the actor's (contacts, companies)


RULES = {
    "contacts": Rules("contact.edit", "owner_id", False, "contact.assign", give=True),
    "companies": Rules("company.edit", "owner_id", False, "contact.assign", give=True),
    "deals": Rules("deal.edit", "owner_id", True, "deal.assign"),
    "activities": Rules("activity.log", "user_id", True, None),
    "tasks": Rules("task.edit", "assignee_id", True, "task.assign"),
    # `crm user add|edit` need user.admin for every change, whoever the user reports to
    "users": Rules("user.admin", "manager_id", False, None),
    # the catalog is the team's: product.edit for every row, no owner
    "products": Rules("product.edit", "id", False, None),
}
# the import's field that fills each owner column, for the problem's column and value
_FIELDS = {"owner_id": "owner", "user_id": "user", "assignee_id": "assignee", "manager_id": "manager", "id": "sku"}
_UNKNOWN = object()


def check_run(session: Session, actor: Actor, entity: str, *, create_users: bool) -> None:
    """Refuse the whole run up front when the actor may not write this kind of record at all, or
    asks for new users without being allowed to add users."""
    permissions.require(session, actor, "import.run")
    permissions.require(session, actor, RULES[entity].edit)
    if create_users:
        try:
            permissions.require(session, actor, "user.admin")
        except Forbidden as exc:
            raise Forbidden(f"--create-users: {exc.message}") from None


class Guard:
    """The checks of one run. `owners` follows the run: a record's owner after the rows before."""

    def __init__(self, session: Session, actor: Actor, entity: str, table, label: str) -> None:
        self.session, self.actor, self.table, self.label = session, actor, table, label
        self.rules = RULES[entity]
        self.owners: dict[int, int | None] = {}
        # with "all" everywhere no check depends on whose a record is: nothing to read
        self.lookup = not actor.is_system and (
            (self.rules.scoped and self._scope(self.rules.edit) != permissions.ALL)
            or (self.rules.assign is not None and self._scope(self.rules.assign) != permissions.ALL))
        self.companies_refused = self._why_not("company.edit")

    def _scope(self, action: str) -> str:
        return permissions.scope_of(self.session, permissions.current_role(self.session, self.actor), action)

    def _why_not(self, action: str) -> str | None:
        try:
            permissions.require(self.session, self.actor, action)
        except Forbidden as exc:
            return exc.message
        return None

    def load(self, ids) -> None:
        """Read the owners of records rows matched, one query per batch (only if a check needs them)."""
        if not self.lookup:
            return
        column = self.table.c[self.rules.owner]
        for batch in batches(sorted(set(ids) - self.owners.keys())):
            self.owners.update((r[0], r[1]) for r in self.session.execute(
                select(self.table.c.id, column).where(self.table.c.id.in_(batch))))

    def create(self, row, rel) -> tuple[str, str, str] | None:
        """(column, value, why) when the actor may not add the row's record; else None."""
        new = row.data.get(self.rules.owner)
        new = self.actor.user_id if new is None else new
        return self._links(row, rel) or self._check(row, lambda: self._create(new))

    def _create(self, new: int | None) -> None:
        if self.rules.assign is not None:
            permissions.require_give(self.session, self.actor, self.rules.assign, old=None, new=new)
        if self.rules.scoped:
            permissions.require(self.session, self.actor, self.rules.edit, owner=new)

    def created(self, row) -> None:
        """The row's new record exists now (for the rows after it that update it)."""
        new = row.data.get(self.rules.owner)
        self.owners[row.target] = self.actor.user_id if new is None else new

    def update(self, row, target: int, rel) -> tuple[str, str, str] | None:
        """(column, value, why) when the actor may not change record `target` as the row does."""
        refused = self._links(row, rel)
        if refused is not None or not self.lookup:
            return refused
        current = self.owners.get(target, _UNKNOWN)
        if current is _UNKNOWN:  # matched through a row that changed nothing: read it now
            self.load([target])
            current = self.owners.get(target)
        new = row.data.get(self.rules.owner)
        new = current if new is None else new

        def check() -> None:
            if self.rules.scoped:
                try:
                    permissions.require(self.session, self.actor, self.rules.edit, owner=current)
                except Forbidden as exc:
                    raise _NotYours(f"{self.label} #{target}: {exc.message}") from None
            if self.rules.assign is not None:
                assign = permissions.require_give if self.rules.give else permissions.require_assign
                assign(self.session, self.actor, self.rules.assign, old=current, new=new)

        refused = self._check(row, check)
        if refused is None:
            self.owners[target] = new
        return refused

    def _check(self, row, check) -> tuple[str, str, str] | None:
        field = _FIELDS[self.rules.owner]
        try:
            check()
        except _NotYours as exc:
            return "", "", str(exc)
        except Forbidden as exc:
            return row.column(field), row.text(field) or "", exc.message
        return None

    def _links(self, row, rel) -> tuple[str, str, str] | None:
        """A company the row would add needs company.edit (new users were checked up front)."""
        for link, field in (("company_id", "company"), ("parent_id", "parent")):  # a parent company is added too
            if self.companies_refused and row.data.get(link) in rel.new_companies:
                return row.column(field), row.text(field) or "", self.companies_refused
        return None


class _NotYours(Exception):
    """The record the row updates is someone else's (message says whose scope is missing)."""
