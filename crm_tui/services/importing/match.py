"""The records an import row points at: companies by normalised name (created when missing),
owners by login, email or name (created with --create-users), pipeline stages by name or synonym,
and contacts and deals by email or name. Lookups go to the database in bulk, one chunk at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
from crm_tui.models import Company, Contact, ContactEmail, Deal, Pipeline, Stage, User
from crm_tui.services import validation as v
from crm_tui.services.companies import company_norm, name_prefix, name_range, pick_company

__all__ = ["company_norm"]  # importing.kinds reads it from here; the one rule lives in services/companies

LOOKUP_BATCH = 400
# stage synonyms other tools use, by the kind or name of stage they mean here
_STAGE_SYNONYMS = {
    "won": ("closed won", "closedwon", "won", "win", "closed - won", "closed/won", "signed", "closed"),
    "lost": ("closed lost", "closedlost", "lost", "lose", "closed - lost", "closed/lost", "dead",
             "disqualified", "rejected"),
    "new": ("new", "lead", "new lead", "prospecting", "prospect", "open", "appointment scheduled", "inbound"),
    "qualified": ("qualified", "qualification", "qualifying", "qualified to buy", "discovery", "needs analysis"),
    "proposal": ("proposal", "proposal sent", "proposal/price quote", "price quote", "quote", "quoted",
                 "presentation scheduled", "proposal made"),
    "negotiation": ("negotiation", "negotiating", "negotiation/review", "contract sent", "contract",
                    "decision maker bought in", "commit"),
}
_LOGIN_CHARS = re.compile(r"[^a-z0-9._-]")


def batches(items: list, size: int = LOOKUP_BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Ids:
    """Ids handed out by the import itself (from max(id) + 1), so children can point at parents
    without a round trip. On PostgreSQL the tables are locked for the run and the sequences are
    moved past the new ids at the end; SQLite's write lock is already held."""

    def __init__(self, session: Session, tables: Iterable) -> None:
        self.first: dict[str, int] = {}
        self.next: dict[str, int] = {}
        for table in tables:
            start = (session.scalar(select(func.max(table.c.id))) or 0) + 1
            self.first[table.name] = self.next[table.name] = start

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value

    def is_new(self, table: str, id_: int) -> bool:
        return id_ >= self.first[table]


@dataclass
class StageRef:
    id: int
    pipeline_id: int
    name: str
    kind: str


@dataclass
class Relations:
    session: Session
    create_users: bool
    users: dict[str, int] = field(default_factory=dict)
    new_users: dict[int, dict] = field(default_factory=dict)  # id -> row, made by this import
    companies: dict[str, int] = field(default_factory=dict)  # company_norm -> id
    ambiguous: dict[str, str] = field(default_factory=dict)  # company_norm -> why it names no one company
    company_keys: dict[int, str] = field(default_factory=dict)  # id -> name_key
    new_companies: dict[int, str] = field(default_factory=dict)  # id -> name, not written yet
    contacts: dict[str, int | None] = field(default_factory=dict)
    deals: dict[str, int | None] = field(default_factory=dict)
    pipelines: dict[str, list[StageRef]] = field(default_factory=dict)
    default_pipeline: str = ""

    def __post_init__(self) -> None:
        team = self.session.execute(select(User.id, User.login, User.email, User.name).order_by(User.id.desc())).all()
        # a login wins over an email, and an email over a name; among equals, the oldest user
        for position in (3, 2, 1):
            for row in team:
                if row[position]:
                    self.users[v.fold(row[position])] = row[0]
        rows = self.session.execute(
            select(Pipeline.name, Pipeline.is_default, Stage.id, Stage.pipeline_id, Stage.name, Stage.kind)
            .join(Stage, Stage.pipeline_id == Pipeline.id).where(Pipeline.archived.is_(False))
            .order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.id, Stage.position, Stage.id)).all()
        for pipeline, _default, stage_id, pipeline_id, stage, kind in rows:
            self.pipelines.setdefault(v.fold(pipeline), []).append(StageRef(stage_id, pipeline_id, stage, kind))
        self.default_pipeline = next(iter(self.pipelines), "")

    # --- owners -------------------------------------------------------------------------------

    def user(self, text_: str, ids: Ids) -> int:
        key = v.fold(text_)
        if key in self.users:
            return self.users[key]
        if not self.create_users:
            raise InvalidInput(f"no user {text_.strip()!r} (by login, email or name); add the user first, "
                               "or re-run with --create-users")
        user_id = ids.take("users")
        self.new_users[user_id] = self._new_user(text_.strip(), user_id)
        self.users[key] = user_id
        return user_id

    def _new_user(self, text_: str, user_id: int) -> dict:
        email = None
        if "@" in text_:
            email = v.email(text_)
            name = email.split("@")[0]
        else:
            name = " ".join(v.clean_text(text_).split())[:200]
        base = _LOGIN_CHARS.sub("", v.strip_accents(name.lower()).replace(" ", "."))[:56] or f"user{user_id}"
        login, serial = base, 2
        taken = {row["login"] for row in self.new_users.values()}
        while login in taken or self.session.scalar(select(User.id).where(User.login == login)) is not None:
            login, serial = f"{base}{serial}", serial + 1
        return {"id": user_id, "login": login, "name": name, "email": email, "role": "sales", "active": True,
                "timezone": None, "manager_id": None, "team": None}

    # --- companies ----------------------------------------------------------------------------

    def load_companies(self, names: Iterable[str]) -> None:
        """Find, in one query per batch, the existing companies the names refer to, by the rule a
        person's reference follows (services/companies: same_company, pick_company)."""
        wanted = {}
        for name in names:
            norm = company_norm(name)
            if norm and norm not in self.companies and norm not in self.ambiguous:
                wanted.setdefault(norm, (name_prefix(name), name))
        prefixes = sorted({prefix for prefix, _ in wanted.values()})
        found: dict[str, list[tuple[int, str, bool]]] = {}
        for batch in batches(prefixes, 100):
            ranges = [name_range(p) for p in batch if p]
            if not ranges:
                continue
            for company_id, name, archived in self.session.execute(
                    select(Company.id, Company.name, Company.archived).where(or_(*ranges))
                    .order_by(Company.archived, Company.id)):
                norm = company_norm(name)
                if norm in wanted:
                    found.setdefault(norm, []).append((company_id, name, archived))
        for norm, matches in found.items():
            try:
                company_id = pick_company(matches, wanted[norm][1])
            except InvalidInput as exc:
                self.ambiguous[norm] = exc.message
                continue
            self.companies[norm] = company_id
            self.company_keys[company_id] = v.fold(next(n for i, n, _ in matches if i == company_id))

    def company(self, name: str, ids: Ids) -> int:
        """The id of the company named, existing or to be created by this import."""
        norm = company_norm(name)
        if not norm:
            raise InvalidInput(f"invalid company name {name!r}")
        if norm in self.ambiguous:
            raise InvalidInput(self.ambiguous[norm])
        if norm not in self.companies:
            company_id = ids.take("companies")
            self.companies[norm] = company_id
            self.new_companies[company_id] = v.required_text(name, "company name")
            self.company_keys[company_id] = v.fold(self.new_companies[company_id])
        return self.companies[norm]

    def company_key(self, company_id: int | None) -> str | None:
        """The name_key contacts keep for "sort by company"."""
        if company_id is None:
            return None
        if company_id not in self.company_keys:
            self.company_keys[company_id] = self.session.scalar(select(Company.name_key).where(Company.id == company_id))
        return self.company_keys[company_id]

    # --- stages -------------------------------------------------------------------------------

    def stages(self, pipeline: str | None) -> list[StageRef]:
        key = v.fold(pipeline) if pipeline else self.default_pipeline
        if key not in self.pipelines:
            names = ", ".join(self.pipelines)
            raise InvalidInput(f"no pipeline {pipeline!r}; pipelines: {names}")
        return self.pipelines[key]

    def stage(self, name: str | None, pipeline: str | None, status: str | None = None) -> StageRef:
        stages = self.stages(pipeline)
        if not name:
            kind = {"won": "won", "lost": "lost"}.get((status or "").strip().lower(), "open")
            return next(s for s in stages if s.kind == kind) if any(s.kind == kind for s in stages) else stages[0]
        key = v.fold(name)
        for stage in stages:
            if v.fold(stage.name) == key:
                return stage
        for meaning, spellings in _STAGE_SYNONYMS.items():
            if key in spellings:
                for stage in stages:
                    if meaning in ("won", "lost") and stage.kind == meaning:
                        return stage
                    if v.fold(stage.name) == meaning:
                        return stage
        raise InvalidInput(f"unknown stage {name.strip()!r}; stages: {', '.join(s.name for s in stages)}")

    # --- contacts and deals a row links to ------------------------------------------------------

    def load_contacts(self, refs: Iterable[str]) -> None:
        emails, names = set(), set()
        for ref in refs:
            key = v.fold(ref)
            if key not in self.contacts:
                (emails if "@" in key else names).add(key)
        for batch in batches(sorted(emails)):
            found = dict(self.session.execute(
                select(ContactEmail.email, func.min(ContactEmail.contact_id))
                .where(ContactEmail.email.in_(batch)).group_by(ContactEmail.email)).all())
            self.contacts.update({e: found.get(e) for e in batch})
        for batch in batches(sorted(names)):
            found = dict(self.session.execute(
                select(Contact.sort_name, func.min(Contact.id))
                .where(Contact.sort_name.in_(batch)).group_by(Contact.sort_name)).all())
            self.contacts.update({n: found.get(n) for n in batch})

    def contact(self, ref: str) -> int:
        found = self.contacts.get(v.fold(ref))
        if found is None:
            raise InvalidInput(f"no contact {ref.strip()!r} (by email or full name)")
        return found

    def load_deals(self, titles: Iterable[str]) -> None:
        keys = sorted({v.fold(t) for t in titles} - set(self.deals))
        for batch in batches(keys):
            found = dict(self.session.execute(
                select(Deal.title_key, func.min(Deal.id)).where(Deal.title_key.in_(batch))
                .group_by(Deal.title_key)).all())
            self.deals.update({k: found.get(k) for k in batch})

    def deal(self, title: str) -> int:
        found = self.deals.get(v.fold(title))
        if found is None:
            raise InvalidInput(f"no deal {title.strip()!r}")
        return found


def lock_tables(session: Session, tables: Iterable) -> None:
    """PostgreSQL: keep other writers out of the tables the import hands out ids for."""
    if session.bind.dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE {', '.join(t.name for t in tables)} IN EXCLUSIVE MODE"))
