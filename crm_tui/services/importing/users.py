"""Importing the team (`crm import users`): one user per row, with login, name, email, role, manager
and team (or region). A manager is named by login or email and may come later in the file, so the
links are made once every row is in: checked (a known user, never the user, never a cycle) and set
in one set-based UPDATE; users the file updates are updated then too, with their manager."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, or_, select, update

from crm_tui.errors import InvalidInput
from crm_tui.models import Role, User
from crm_tui.services import validation as v
from crm_tui.services.importing import values as iv
from crm_tui.services.importing.match import batches
from crm_tui.services.importing.rows import Ctx, Kind, Row, stamps, text_field, update_columns
from crm_tui.services.users import TEAM_LENGTH, _login

# what other tools call the roles here
_ROLE_SYNONYMS = {"administrator": "admin", "system administrator": "admin", "sysadmin": "admin",
                  "sales manager": "manager", "team lead": "manager", "team leader": "manager",
                  "sales rep": "sales", "sales representative": "sales", "salesperson": "sales",
                  "account executive": "sales", "standard user": "sales", "support agent": "support"}


def _role(text: str) -> str:
    key = " ".join(text.strip().lower().split())
    return v.choice(_ROLE_SYNONYMS.get(key, key), Role, "role")


def _ref(text: str) -> str:
    """A manager's login or email as looked up: casefolded, trimmed."""
    return v.fold(text.strip())


class UserRows(Kind):
    table = User.__table__
    label = "user"
    updatable = ("name", "email", "role", "team", "manager_id")

    def prepare(self, rows: list[Row], ctx: Ctx) -> None:
        if "teams" not in ctx.pending:  # teams spelled as they already are ("emea" joins "EMEA")
            ctx.pending["teams"] = {t.lower(): t for t in ctx.session.scalars(
                select(User.team).where(User.team.is_not(None)).distinct().order_by(User.team))}
            ctx.pending.update(links=[], updates=[], known={})

    def clean(self, row: Row, ctx: Ctx) -> None:
        d = row.data
        d["email"] = row.check("email", iv.email)
        d["login"] = row.check("login", _login)
        if d["login"] is None and row.text("login") is None:
            if d["email"]:
                try:
                    d["login"] = _login(d["email"])
                except InvalidInput:
                    row.problems.append((row.column("email"), d["email"], "this email cannot be a login; add a "
                                         "Login (or Username) column"))
            elif not row.problems:
                row.problems.append(("", "", "a user needs a login or an email"))
        # empty cells change nothing on an update; a new user's name is its login and its role sales
        d["name"] = text_field(row, "name")
        d["role"] = row.check("role", _role)
        d["team"] = row.check("team", lambda t: self._team(t, ctx))
        manager = row.first("manager")
        d["manager_ref"] = manager
        if manager and d["login"] and _ref(manager[1]) in {d["login"], d["email"]}:
            row.problems.append((manager[0], manager[1], "a user cannot be their own manager"))

    @staticmethod
    def _team(text: str, ctx: Ctx) -> str | None:
        team = v.optional_text(text, "team", max_length=TEAM_LENGTH)
        if team is None:
            return None
        team = " ".join(team.split())
        return ctx.pending["teams"].setdefault(team.lower(), team)

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        d = row.data
        # a login written as an email (as many tools' usernames are) finds the user with that email
        email = d["email"] or (d["login"] if "@" in d["login"] else None)
        return [("login", d["login"])] + ([("email", email)] if email else [])

    def describe(self, key: tuple) -> str:
        return f"same {key[0]} {key[1]}"

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        found = {}
        for name, column in (("email", func.lower(User.email)), ("login", User.login)):
            for batch in batches(sorted(k[1] for k in keys if k[0] == name)):
                for value, user_id in ctx.session.execute(select(column, User.id).where(column.in_(batch))
                                                          .order_by(User.id.desc())):
                    found[(name, value)] = user_id
        return found

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        d = row.data
        out["users"].append({
            "id": row.target, "login": d["login"], "name": d["name"] or d["login"], "email": d["email"],
            "role": d["role"] or Role.SALES.value, "active": True, "timezone": None, "manager_id": None,
            "team": d["team"], **stamps(ctx)})
        self._known(ctx, row)
        if (d["role"] or Role.SALES.value) == Role.ADMIN:
            ctx.pending.setdefault("admins", set()).add(row.target)
        if d["manager_ref"]:
            ctx.pending["links"].append((row, False))

    @staticmethod
    def _known(ctx: Ctx, row: Row) -> None:
        """A user of the file, as a later row's manager: by login (first) or email."""
        known = ctx.pending["known"]
        if row.data["email"]:
            known.setdefault(("email", row.data["email"]), row.target)
        known[("login", row.data["login"])] = row.target

    def update(self, pairs: list[tuple[int, Row]], ctx: Ctx, write: bool) -> tuple[int, int]:
        """Kept for finish(), when every manager the file names is known."""
        for target, row in pairs:
            ctx.pending["updates"].append((target, row))
            if row.data["manager_ref"]:
                ctx.pending["links"].append((row, True))
        return 0, 0

    def finish(self, ctx: Ctx, write: bool) -> tuple[int, int, list[tuple[int, str, str, str]]]:
        links = ctx.pending.get("links", [])
        managers, problems = self._managers(ctx, links)
        bad_updates = {id(row) for row, is_update in links if is_update and id(row) not in managers}
        new_links = {row.target: managers[id(row)] for row, is_update in links if not is_update and id(row) in managers}
        if write and new_links:  # users this import added: no audit (their create is audited)
            table = self.table
            for batch in batches(sorted(new_links)):  # one UPDATE ... SET manager_id = CASE id ... per batch
                ctx.session.execute(update(table).where(table.c.id.in_(batch))
                                    .values(manager_id=case({i: new_links[i] for i in batch}, value=table.c.id)))
        pairs = []
        for target, row in ctx.pending.get("updates", []):
            if id(row) in bad_updates:
                continue  # a bad row is not applied
            row.data["manager_id"] = managers.get(id(row))
            pairs.append((target, row))
        if not pairs:
            return 0, 0, problems
        admins = set(ctx.session.scalars(select(User.id).where(User.role == Role.ADMIN, User.active.is_(True))))
        admins |= ctx.pending.get("admins", set())

        def keep_an_admin(record: dict, changes: dict) -> None:
            if record["role"] == Role.ADMIN and changes.get("role", Role.ADMIN) != Role.ADMIN:
                admins.discard(record["id"])
                if not admins:
                    login = ctx.session.scalar(select(User.login).where(User.id == record["id"]))
                    raise InvalidInput(f"{login} is the last active admin; make someone else admin first")

        updated, unchanged = update_columns(self.table, pairs, ctx, write, self.updatable, keep_an_admin,
                                             entity=self.label)
        return updated, unchanged, problems

    def _managers(self, ctx: Ctx, links: list[tuple[Row, bool]]) -> tuple[dict[int, int], list]:
        """{id(row): manager id} for the rows whose manager is a known user and makes no cycle;
        a problem for each of the others. Rows are taken in the file's order."""
        found = self._lookup(ctx, {_ref(row.data["manager_ref"][1]) for row, _ in links})
        above: dict[int, int | None] = dict(ctx.session.execute(
            select(User.id, User.manager_id).where(User.manager_id.is_not(None))).all()) if links else {}
        out, problems = {}, []
        for row, _ in sorted(links, key=lambda link: link[0].line):
            column, text = row.data["manager_ref"]
            manager = found.get(_ref(text))
            if manager is None:
                problems.append((row.line, column, text, f"no user {text.strip()!r} (by login or email) to be the "
                                 "manager, in the CRM or the file"))
                continue
            if manager == row.target:
                problems.append((row.line, column, text, "a user cannot be their own manager"))
                continue
            if self._reports_to(above, manager, row.target):
                problems.append((row.line, column, text, f"{text.strip()} reports to {row.data['login']} (directly "
                                 "or through others); a manager cannot report to their own report"))
                continue
            above[row.target] = manager
            out[id(row)] = manager
        return out, problems

    @staticmethod
    def _reports_to(above: dict[int, int | None], user: int, boss: int) -> bool:
        seen = set()
        while user is not None and user not in seen:
            if user == boss:
                return True
            seen.add(user)
            user = above.get(user)
        return False

    @staticmethod
    def _lookup(ctx: Ctx, refs: set[str]) -> dict[str, int]:
        """ref -> user id: the file's users, then the CRM's; a login wins over an email."""
        known: dict[tuple, int] = ctx.pending.get("known", {})
        out: dict[str, Any] = {}
        wanted = sorted(refs)
        for batch in batches(wanted):
            for user_id, login, email in ctx.session.execute(
                    select(User.id, User.login, func.lower(User.email))
                    .where(or_(User.login.in_(batch), func.lower(User.email).in_(batch))).order_by(User.id.desc())):
                if email in refs:
                    out[email] = user_id
                if login in refs:
                    out[("login", login)] = user_id
        result = {}
        for ref in refs:
            result[ref] = (known.get(("login", ref)) or out.get(("login", ref)) or known.get(("email", ref))
                           or out.get(ref))
        return {ref: user_id for ref, user_id in result.items() if user_id is not None}
