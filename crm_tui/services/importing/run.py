"""Importing a team's spreadsheets: contacts, companies, deals, activities, tasks or users from CSV, XLSX,
JSON or vCard, with duplicates found, every bad row reported, and all of it in one transaction.

How a run goes: the file's header is mapped to fields (importing.fields; the mapping can
be shown before anything is written, see `preview_import`; a cell the --value/--values rewrites
name is rewritten as it is read, before any check), then rows are read a chunk at a time;
each row is cleaned (importing.kinds), its links resolved in bulk (importing.match),
checked against the database and the rows before it for a duplicate, and the chunk is written
with set-based inserts (Core executemany, ids handed out by the import so children need no round
trip). The search index is filled once at the end, not by a trigger per row. Everything happens
in the caller's transaction: a failed, invalid (without --skip-invalid) or killed run leaves no
row behind, and a dry run is the same run on a read session with the writes left out, so it
reports exactly what a real run would do.

vCard: `crm import contacts FILE.vcf` calls `crm_tui.services.vcard.read_contacts(path)`, which
yields one dict per card with any of these keys (the names of the contact fields here):

    first_name, last_name, full_name, title, company, owner, lifecycle, source: str
    email, phone, tags: str or list[str]     (several values allowed)
    custom: dict[str, str]                   (becomes custom fields)
    line: int                                (the card's line in the file, for the report)
    problem: str                             (a card that cannot be read: reported as invalid)

and those rows go through the same cleaning, dedup and writing as a CSV row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.clock import get_zone, resolve_now
from crm_tui.errors import InvalidInput, PermissionDenied
from crm_tui.models import ImportRun
from crm_tui.services import bulk
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit, audit_rows
from crm_tui.services.dates import team_zone
from crm_tui.services.files import csv_safe, private_text_file
from crm_tui.services.importing.fields import (
    CUSTOM_PREFIX, Mapping, build_mapping, check_entity, header_key, parse_pairs, parse_value, with_values,
)
from crm_tui.services.importing.kinds import KINDS
from crm_tui.services.importing.match import Ids, Relations, lock_tables
from crm_tui.services.importing.perms import Guard, check_run
from crm_tui.services.words import plural
from crm_tui.services.importing.read import BadRow, Source, open_source
from crm_tui.services.importing.rows import Ctx, Row
from crm_tui.services.importing.write import write_audit, write_rows

CHUNK = 2000
PREVIEW_ROWS = 5
ON_DUPLICATE = ("skip", "update", "create")


@dataclass(frozen=True)
class ImportOptions:
    """What the person asked for, as typed (validated by `check_options`)."""

    entity: str
    mapping: tuple[str, ...] = ()  # "Column=field" (field "" skips the column)
    constants: tuple[str, ...] = ()  # "field=value"
    custom: bool = False
    on_duplicate: str = "skip"
    dayfirst: bool | None = None
    country: str | None = None
    create_users: bool = False
    skip_invalid: bool = False
    currency: str = "USD"
    values: tuple[str, ...] = ()  # "field:from=to": a cell's value rewritten before it is read
    values_file: str | None = None  # a CSV (or XLSX) of such rewrites, columns field, from, to


MAX_VALUE_REWRITES = 10_000


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    value: str
    message: str
    status: str = "invalid"  # or "refused": the row is valid, but its actor may not write it


@dataclass(frozen=True)
class Skipped:
    line: int
    record_id: int | None
    reason: str


@dataclass
class ImportReport:
    entity: str
    file: str
    source: str
    mapping: Mapping
    dry_run: bool
    on_duplicate: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    invalid: int = 0
    refused: int = 0  # rows that would change what the actor may not (see importing.perms)
    companies_created: int = 0
    users_created: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[Skipped] = field(default_factory=list)
    imported_before: str | None = None  # "2026-11-20 by ann" when this very file went in before
    committed: bool = False

    @property
    def ok(self) -> bool:
        return self.invalid == 0 and self.refused == 0

    def summary(self, *, would: bool = False) -> str:
        """The counts; `would`: of a run that wrote nothing (a dry run, or one refused), as what it
        would have done."""
        verb = "would be " if would else ""
        parts = [plural(self.rows, "row"), f"{self.created} {verb}created", f"{self.updated} {verb}updated"]
        if self.unchanged:
            parts.append(f"{self.unchanged} unchanged")
        parts += [f"{self.skipped} skipped as duplicates", f"{self.invalid} invalid"]
        if self.refused:
            parts.append(f"{self.refused} refused")
        if self.companies_created:
            parts.append(plural(self.companies_created, "new company", "new companies") + (" to add" if would else ""))
        if self.users_created:
            parts.append(f"new users{' to add' if would else ''}: {', '.join(self.users_created)}")
        return ", ".join(parts)


class ImportFailed(InvalidInput):
    """Some rows are invalid or refused and --skip-invalid was not given: nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        bad = [f"{report.invalid} of {report.rows} rows of {report.file} are invalid"] if report.invalid else []
        if report.refused:
            first = next(p for p in report.problems if p.status == "refused")
            bad.append(f"{report.refused}{'' if bad else f' of {report.rows}'} rows"
                       f"{'' if bad else f' of {report.file}'} are refused (line {first.line}: {first.message})")
        super().__init__(f"{' and '.join(bad)}, so nothing was imported; fix them, or re-run with --skip-invalid "
                         "to import the rest")
        self.report = report
        if report.refused and not report.invalid:
            self.exit_code = PermissionDenied.exit_code  # only the actor's role stood in the way


@dataclass(frozen=True)
class Preview:
    """What a file holds before anything is imported: how it reads, the mapping, the first rows."""

    source: str
    mapping: Mapping
    headers: list[str]
    rows: list[list[str]]
    estimated_rows: int


# --- options and mapping ---------------------------------------------------------------------


def check_options(options: ImportOptions) -> ImportOptions:
    entity = check_entity(options.entity)
    if options.on_duplicate not in ON_DUPLICATE:
        raise InvalidInput(f"--on-duplicate {options.on_duplicate!r}: choose one of {', '.join(ON_DUPLICATE)}")
    if entity == "users" and options.on_duplicate == "create":
        raise InvalidInput("--on-duplicate create: a login names one user; use skip or update")
    if entity == "products" and options.on_duplicate == "create":
        raise InvalidInput("--on-duplicate create: a SKU names one product; use skip or update")
    country = v.phone_country(options.country)
    return replace(options, entity=entity, country=country, currency=v.currency_code(options.currency or "USD"))


def check_allowed(session: Session, *, options: ImportOptions, actor: Actor) -> ImportOptions:
    """The options, checked, once the actor may run this import at all: call it before reading the
    file (run_import checks again), so that a refused person learns nothing of it."""
    options = check_options(options)
    check_run(session, actor, options.entity, create_users=options.create_users)
    return options


def _mapping(source: Source, options: ImportOptions) -> Mapping:
    overrides = parse_pairs(options.mapping, "--map")
    constants = parse_pairs(options.constants, "--set")
    if source.kind == "vcf":
        return Mapping(options.entity, (), tuple(constants))
    # a JSON export's "id" is the record's id in the CRM it came from: no use as a custom field here
    not_custom = frozenset({"id"}) if source.kind == "json" else frozenset()
    mapping = build_mapping(options.entity, source.headers, overrides=overrides, constants=constants,
                            custom=options.custom, not_custom=not_custom)
    return _with_values(mapping, source.headers, options)


def _with_values(mapping: Mapping, headers: list[str], options: ImportOptions) -> Mapping:
    rewrites = [(*parse_value(text), f"--value {text}") for text in options.values]
    if options.values_file:
        rewrites += read_values_file(options.values_file)
    return with_values(mapping, headers, rewrites) if rewrites else mapping


def read_values_file(path: str | Path) -> list[tuple[str, str, str, str]]:
    """The rewrites a --values file lists, as (field, from, to, where): a CSV (or XLSX) whose
    header names the columns field, from and to."""
    source = open_source(path)
    name = f"--values {source.path.name}"
    if source.kind not in ("csv", "xlsx"):
        raise InvalidInput(f"{name}: give a CSV or XLSX file with the columns field, from, to")
    keys = [header_key(h) for h in source.headers]
    if not {"field", "from", "to"} <= set(keys):
        raise InvalidInput(f"{name}: the file needs the columns field, from, to; it has "
                           f"{', '.join(repr(h) for h in source.headers if h) or 'none'}")
    at = {k: keys.index(k) for k in ("field", "from", "to")}
    out = []
    for line, cells in source.rows():
        where = f"{name} line {line}"
        if isinstance(cells, BadRow):
            raise InvalidInput(f"{where}: {cells.problems[0][2]}")
        field, old, new = (cells[at[k]].strip() if at[k] < len(cells) else "" for k in ("field", "from", "to"))
        if not field:
            raise InvalidInput(f"{where}: name the field whose value is rewritten")
        out.append((field, old, new, where))
        if len(out) > MAX_VALUE_REWRITES:
            raise InvalidInput(f"{name}: more than {MAX_VALUE_REWRITES:,} rewrites; is this the right file?")
    return out


def preview_import(*, path: str | Path, options: ImportOptions, limit: int = PREVIEW_ROWS) -> Preview:
    """The detected mapping and the first rows; reads the head of the file only."""
    options = check_options(options)
    source = open_source(path)
    mapping = _mapping(source, options)
    if source.kind == "vcf":
        rows = [[str(r.get(k, "")) for k in ("full_name", "email", "phone", "company")]
                for r in islice(source.records, limit)]
        return Preview(source.describe(), mapping, ["name", "email", "phone", "company"], rows, source.estimated_rows)
    rows = [cells for _, cells in islice(source.rows(), limit)]
    return Preview(source.describe(), mapping, source.headers, rows, source.estimated_rows)


def _row_values(mapping: Mapping, cells: list[str]) -> dict[str, list[tuple[str, str]]]:
    values: dict[str, list[tuple[str, str]]] = {}
    for column in mapping.columns:
        if column.field and column.index < len(cells):
            text = mapping.rewrite(column.field, cells[column.index].strip())
            if text:
                values.setdefault(column.field, []).append((column.column, text))
    _fill_constants(values, mapping)
    return values


def _fill_constants(values: dict, mapping: Mapping) -> None:
    for name, text in mapping.constants:
        if text and name not in values:
            values[name] = [(f"--set {name}", text)]


def _card_values(mapping: Mapping, card: dict) -> dict[str, list[tuple[str, str]]]:
    values: dict[str, list[tuple[str, str]]] = {}
    for key, value in card.items():
        if key == "line" or value in (None, "", [], {}):
            continue
        if key == "custom":
            for name, item in value.items():
                if text := mapping.rewrite(CUSTOM_PREFIX + str(name), str(item).strip()):
                    values[CUSTOM_PREFIX + str(name)] = [(f"custom {name}", text)]
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        texts = (mapping.rewrite(key, str(item).strip()) for item in items)
        values[key] = [(key, text) for text in texts if text]
    _fill_constants(values, mapping)
    return values


def _rows(source: Source, mapping: Mapping) -> Iterator[Row]:
    if source.kind == "vcf":
        for number, card in enumerate(source.records, start=1):
            if card.get("problem"):  # a card the file does not hold properly
                yield Row(int(card.get("line") or number), {}, problems=[("", "", card["problem"])])
                continue
            yield Row(int(card.get("line") or number), _card_values(mapping, card))
        return
    for line, cells in source.rows():
        if isinstance(cells, BadRow):  # a row the file does not hold properly (importing.read)
            yield Row(line, {}, problems=list(cells.problems))
            continue
        yield Row(line, _row_values(mapping, cells))


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- the run ----------------------------------------------------------------------------------


def run_import(session: Session, *, path: str | Path, options: ImportOptions, actor: Actor, now: datetime | None = None,
               dry_run: bool = False, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import the file in the caller's transaction (a read session will do for a dry run).

    Raises ImportFailed, carrying the report, when rows are invalid and skip_invalid is off;
    the caller's unit of work then rolls everything back."""
    options = check_options(options)
    check_run(session, actor, options.entity, create_users=options.create_users)
    now = resolve_now(now)
    source = open_source(path)
    mapping = _mapping(source, options)
    run = _Run(session, source, mapping, options, actor, now, write=not dry_run)
    report = run.execute(progress)
    if not report.ok and not options.skip_invalid and not dry_run:
        raise ImportFailed(report)
    return report


class _Run:
    def __init__(self, session: Session, source: Source, mapping: Mapping, options: ImportOptions, actor: Actor,
                 now: datetime, *, write: bool) -> None:
        self.session, self.source, self.options, self.write = session, source, options, write
        self.kind = KINDS[options.entity]
        self.actor, self.now = actor, now
        self.report = ImportReport(entity=options.entity, file=source.path.name, source=source.describe(),
                                   mapping=mapping, dry_run=not write, on_duplicate=options.on_duplicate)
        self.mapping = mapping
        self.seen: dict[tuple, list[tuple[int, int]]] = {}  # duplicate key -> [(line, record id)]
        self.late: list[tuple[int, Row]] = []  # updates of records this run created
        self.written_companies: set[int] = set()
        self.written_users: set[int] = set()
        self.guard = Guard(session, actor, options.entity, self.kind.table, self.kind.label)

    def execute(self, progress: Callable[[int, int], None] | None) -> ImportReport:
        session, report = self.session, self.report
        if self.write:
            lock_tables(session, bulk.ID_TABLES)
        ids = Ids(session, bulk.ID_TABLES)
        self.ctx = Ctx(session=session, rel=Relations(session, self.options.create_users), ids=ids,
                       actor_id=self.actor.user_id, actor=self.actor, now=self.now, zone=get_zone(self.actor.timezone),
                       dayfirst=self.options.dayfirst, currency=self.options.currency,
                       country=self.options.country or self.actor.phone_country,  # --country, else phone_country
                       locale=self.actor.locale, team_zone=team_zone(self.actor),
                       date_order=self.actor.date_order)
        report.imported_before = self._imported_before()
        deferred = self.write and session.bind.dialect.name == "sqlite"
        index = bulk.search_index_deferred(session, ids.first) if deferred else nullcontext()
        with index, (bulk.large_page_cache(session) if self.write else nullcontext()):
            for chunk in _chunks(_rows(self.source, self.mapping), CHUNK):
                self._chunk(chunk)
                if progress is not None:
                    progress(report.rows, max(report.rows, self.source.estimated_rows))
        if progress is not None:
            progress(report.rows, report.rows)
        if self.late:
            updated, unchanged = self.kind.update(self.late, self.ctx, self._writing())
            report.updated += updated
            report.unchanged += unchanged
        updated, unchanged, problems = self.kind.finish(self.ctx, self._writing())
        report.updated += updated
        report.unchanged += unchanged
        if problems:  # found once every row was in (a user's manager named later in the file)
            report.invalid += len({line for line, *_ in problems})
            report.problems = sorted([*report.problems, *(Problem(*p) for p in problems)], key=lambda p: p.line)
        if self._writing():
            bulk.reset_sequences(session)
            self._record()
            report.committed = True
        return report

    def _writing(self) -> bool:
        """Writes stop at the first invalid row unless invalid rows are skipped: the run will be
        rolled back, so the rest is only validated."""
        return self.write and (self.options.skip_invalid or self.report.ok)

    def _imported_before(self) -> str | None:
        found = self.session.execute(
            select(ImportRun.at, ImportRun.actor).where(ImportRun.file_sha256 == self.source.sha256,
                                                        ImportRun.entity == self.options.entity)
            .order_by(ImportRun.at.desc()).limit(1)).first()
        return f"{found.at:%Y-%m-%d %H:%M} UTC by {found.actor}" if found else None

    def _chunk(self, rows: list[Row]) -> None:
        ctx, kind, report = self.ctx, self.kind, self.report
        kind.prepare(rows, ctx)
        valid = []
        for row in rows:
            if not row.problems:  # a row the reader refused has nothing to clean
                kind.clean(row, ctx)
            report.rows += 1
            if row.problems:
                row.action = "invalid"
                report.invalid += 1
                report.problems += [Problem(row.line, c, val, msg) for c, val, msg in row.problems]
            else:
                valid.append(row)
        self._decide(valid)
        self._apply(valid)

    def _decide(self, rows: list[Row]) -> None:
        kind, ctx, report = self.kind, self.ctx, self.report
        keys_of = {id(row): kind.keys(row, ctx) for row in rows}
        found: dict[tuple, int] = {}
        if self.options.on_duplicate != "create":
            wanted: dict[tuple, list[Row]] = {}
            for row in rows:
                for key in keys_of[id(row)]:
                    wanted.setdefault(key, []).append(row)
            found = kind.existing(wanted, ctx) if wanted else {}
            if self.options.on_duplicate == "update":
                self.guard.load(found.values())
        for row in rows:
            match = None if self.options.on_duplicate == "create" else self._match(row, keys_of[id(row)], found)
            if match is None:
                if (problem := kind.new_record(row, ctx)) is not None:
                    row.action = "invalid"
                    report.invalid += 1
                    report.problems.append(Problem(row.line, *problem))
                    continue
                if self._refused(row, self.guard.create(row, ctx.rel)):
                    continue
                row.action, row.target = "create", kind.reserved(row, ctx) or ctx.ids.take(kind.table.name)
                self.guard.created(row)
            elif self.options.on_duplicate == "skip":
                row.action, row.target, row.reason = "skip", match[0], match[1]
                report.skipped += 1
                report.duplicates.append(Skipped(row.line, match[0], match[1]))
                continue
            else:
                if self._refused(row, self.guard.update(row, match[0], ctx.rel)):
                    continue
                row.action, row.target, row.reason = "update", match[0], match[1]
            kind.noted(row, ctx)
            for key in keys_of[id(row)]:
                records = self.seen.setdefault(key, [])
                if all(target != row.target for _line, target in records):
                    records.append((row.line, row.target))

    def _refused(self, row: Row, refusal: tuple[str, str, str] | None) -> bool:
        """Report a row the actor may not write as refused: a bad row, like an invalid one."""
        if refusal is None:
            return False
        row.action = "refused"
        self.report.refused += 1
        self.report.problems.append(Problem(row.line, *refusal, status="refused"))
        return True

    def _match(self, row: Row, keys: list[tuple], found: dict[tuple, int]) -> tuple[int, str] | None:
        """The record the row duplicates: the first key, strongest first, that names a record
        (an earlier row's, then the database's) the kind says it holds for (a shared phone does
        not make two people one)."""
        kind, ctx = self.kind, self.ctx
        for key in keys:
            for line, record_id in self.seen.get(key, ()):
                if kind.holds(row, key, record_id, ctx):
                    return record_id, f"{kind.describe(key)} as line {line}"
            for record_id in kind.matches(key, found, ctx):
                if kind.holds(row, key, record_id, ctx):
                    return record_id, f"{kind.describe(key)} as {kind.label} #{record_id}"
        return None

    def _apply(self, rows: list[Row]) -> None:
        ctx, kind, report = self.ctx, self.kind, self.report
        out: dict[str, list[dict]] = {table.name: [] for table in bulk.TABLES}
        creates = [row for row in rows if row.action == "create"]
        updates = [row for row in rows if row.action == "update"]
        for row in creates + updates:
            self._new_links(row, out)
        for row in creates:
            kind.insert(row, ctx, out)
        out["tags"] += ctx.new_tags
        ctx.new_tags = []
        report.created += len(creates)
        writing = self._writing()
        if writing:
            write_rows(ctx.session, out)
            if out["users"]:  # as `crm user add` audits each new user
                write_audit(ctx.session, audit_rows(actor=self.actor, now=self.now, events=[
                    ("user", u["id"], "create", f"{u['login']} ({u['role']}), by import") for u in out["users"]]))
            if creates:
                kind.after_insert(creates, ctx)
        now_pairs = [(row.target, row) for row in updates if not ctx.ids.is_new(kind.table.name, row.target)]
        self.late += [(row.target, row) for row in updates if ctx.ids.is_new(kind.table.name, row.target)]
        if now_pairs:
            updated, unchanged = kind.update(now_pairs, ctx, writing)
            report.updated += updated
            report.unchanged += unchanged

    def _new_links(self, row: Row, out: dict[str, list[dict]]) -> None:
        """The companies and users this row needs that the import creates (each once)."""
        rel, stamps = self.ctx.rel, {"version": 1, "created_at": self.now, "updated_at": self.now}
        for company_id in (row.data.get("company_id"), row.data.get("parent_id")):
            if company_id in rel.new_companies and company_id not in self.written_companies:
                name = rel.new_companies[company_id]
                self.written_companies.add(company_id)
                self.report.companies_created += 1
                out["companies"].append({
                    "id": company_id, "name": name, "name_key": v.fold(name), "domain": None, "industry": None,
                    "size": None, "address": None, "owner_id": self.actor.user_id, "parent_id": None, "notes": None,
                    "custom": {}, "archived": False, "search_text": v.search_text(name), **stamps})
        for name in ("owner_id", "user_id", "assignee_id"):
            user_id = row.data.get(name)
            if user_id in rel.new_users and user_id not in self.written_users:
                self.written_users.add(user_id)
                self.report.users_created.append(rel.new_users[user_id]["login"])
                out["users"].append({**rel.new_users[user_id], **stamps})

    def _record(self) -> None:
        report, session = self.report, self.session
        session.add(ImportRun(
            at=self.now, actor_id=self.actor.user_id, actor=self.actor.login, entity=report.entity,
            file_name=str(self.source.path)[-500:], file_sha256=self.source.sha256,
            on_duplicate=report.on_duplicate, rows=report.rows, created=report.created, updated=report.updated,
            unchanged=report.unchanged, skipped=report.skipped, invalid=report.invalid))
        audit(session, actor=self.actor, entity="import", entity_id=None, action="import", now=self.now,
              summary=f"{report.entity} from {report.file}: {report.summary()}")
        session.flush()


# --- the report as a file ------------------------------------------------------------------------


def report_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.import-report.csv")


def write_report_csv(report: ImportReport, path: str | Path) -> Path:
    """Every invalid row (one line per problem) and every skipped duplicate, beside the input file."""
    target = report_path(path)
    with private_text_file(target, what="the import report") as handle:  # 0600: it echoes the rows' data
        out = csv.writer(handle)
        out.writerow(["line", "status", "column", "value", "problem"])
        rows = [(p.line, p.status, p.column, p.value, p.message) for p in report.problems]
        rows += [(s.line, "skipped", "", "", f"duplicate: {s.reason}") for s in report.duplicates]
        out.writerows([r[0], *(csv_safe("" if c is None else str(c)) for c in r[1:])]
                      for r in sorted(rows, key=lambda r: r[0]))
    return target
