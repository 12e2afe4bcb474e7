"""Likely duplicates among contacts and companies: candidates found in SQL by blocking keys (a
shared email, phone or domain; the same company; a common name prefix), scored with rapidfuzz
inside each block. Never every pair: the work grows with the blocks, not with the table squared."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from itertools import groupby

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Company, Contact, ContactEmail, ContactPhone, DedupeDismissal
from crm_tui.services import permissions
from crm_tui.services.common import Actor, audit, get_or_404
from crm_tui.services.paging import MAX_PAGE, Cursor, Page
from crm_tui.services.validation import fold, strip_accents

KINDS = ("contact", "company")
DEFAULT_MIN_SCORE = 90
MAX_PAIRS = 5000
# a key shared by more records than this (info@, a switchboard number) is not one person: those
# records pair up only where their names are alike too
SMALL_BLOCK = 12
# similar-name blocks larger than this are split further by a longer name prefix
MAX_NAME_BLOCK = 2000
STREAM_CHUNK = 5000
NAME_PREFIX = 4

_LEGAL = re.compile(
    r"\b(inc|incorporated|llc|l\.l\.c|ltd|limited|corp|corporation|co|company|gmbh|ag|sa|sas|sarl|bv|nv|"
    r"plc|pty|oy|ab|as|srl|spa|kk|the)\b\.?")
_PUNCT = re.compile(r"[^\w\s]")


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two records that look like one; `a_id` < `b_id`. Score 0-100; reasons: email, phone,
    name, domain."""

    kind: str
    a_id: int
    b_id: int
    score: int
    reasons: tuple[str, ...]
    a_label: str = ""
    b_label: str = ""
    a_detail: str = ""
    b_detail: str = ""
    shared: str = ""  # the email, phone or domain they share, or the company they are at

    @property
    def why(self) -> str:
        return ", ".join(self.reasons)


@dataclass
class DuplicateScan:
    kind: str
    pairs: list[DuplicatePair] = field(default_factory=list)
    truncated: bool = False  # more than max_pairs were found; merge these and scan again
    blocks: int = 0  # blocks looked at
    compared: int = 0  # name comparisons made by rapidfuzz
    common_keys: int = 0  # emails, phones or domains shared so widely that names had to match too


def emails_disagree(a: Iterable[str], b: Iterable[str]) -> bool:
    """Two different emails mean two people: each record has an email, and they share none. A
    shared phone or a like name says "one person" only where this is false (import and the scan)."""
    a, b = set(a), set(b)
    return bool(a and b and not a & b)


def names_disagree(a: str, b: str) -> bool:
    """Each has a name (contact_name_key), and they differ: a switchboard's callers, not one person."""
    return bool(a and b and a != b)


def company_name_key(name: str) -> str:
    """A company name without accents, punctuation and legal forms: "ACME, Inc." -> "acme"."""
    text = strip_accents(fold(name))
    text = _LEGAL.sub(" ", _PUNCT.sub(lambda m: "" if m.group() in ".'" else " ", text))
    return " ".join(text.split())


# --- the scans --------------------------------------------------------------------------------


def find_duplicates(session: Session, *, kind: str = "contact", min_score: int = DEFAULT_MIN_SCORE,
                    max_pairs: int = MAX_PAIRS, include_archived: bool = False) -> DuplicateScan:
    """Likely duplicate pairs, best first (then by ids), at most `max_pairs` of them."""
    if kind not in KINDS:
        raise InvalidInput(f"invalid kind {kind!r}: choose contact or company")
    if not 50 <= min_score <= 100:
        raise InvalidInput(f"minimum score must be between 50 and 100 (got {min_score})")
    if not 1 <= max_pairs <= 100_000:
        raise InvalidInput("the most pairs to list must be between 1 and 100000")
    scan = DuplicateScan(kind)
    found: dict[tuple[int, int], tuple[int, set[str], str]] = {}
    sources = _contact_sources if kind == "contact" else _company_sources
    for a, b, score, reason, shared in sources(session, scan, min_score, include_archived):
        key = (a, b) if a < b else (b, a)
        old = found.get(key)
        if old is None:
            found[key] = (score, {reason}, shared)
        else:
            old[1].add(reason)
            found[key] = (max(old[0], score), old[1], old[2] or shared)
    for key in dismissed_pairs(session, kind=kind) & found.keys():
        del found[key]
    if kind == "contact":
        _drop_different_emails(session, found)
    ranked = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))
    scan.truncated = len(ranked) > max_pairs
    ranked = ranked[:max_pairs]
    labels = (_contact_labels if kind == "contact" else _company_labels)(
        session, {i for (a, b), _ in ranked for i in (a, b)})
    order = ("email", "phone", "domain", "name")
    for (a, b), (score, reasons, shared) in ranked:
        la, lb = labels.get(a, ("", "")), labels.get(b, ("", ""))
        scan.pairs.append(DuplicatePair(kind, a, b, int(round(score)), tuple(r for r in order if r in reasons),
                                        la[0], lb[0], la[1], lb[1], shared))
    return scan


def _drop_different_emails(session: Session, found: dict[tuple[int, int], tuple]) -> None:
    """Two different emails mean two people: a pair found by a phone or a name alone goes when
    each has an email and they share none (the rule the import follows: emails_disagree)."""
    weak = [key for key, (_score, reasons, _shared) in found.items() if "email" not in reasons]
    emails: dict[int, set[str]] = {}
    for chunk in _chunks({i for key in weak for i in key}):
        for contact_id, email in session.execute(
                select(ContactEmail.contact_id, ContactEmail.email).where(ContactEmail.contact_id.in_(chunk))):
            emails.setdefault(contact_id, set()).add(email)
    for a, b in weak:
        if emails_disagree(emails.get(a, ()), emails.get(b, ())):
            del found[(a, b)]


def _contact_sources(session: Session, scan: DuplicateScan, min_score: int, archived: bool) -> Iterator:
    live = [] if archived else [Contact.archived.is_(False)]
    yield from _shared_key_pairs(session, scan, ContactEmail.email, ContactEmail.contact_id, Contact,
                                 Contact.sort_name, live, "email", min_score, contact_name_key)
    # a phone is shared by a household, an office, a switchboard: it pairs people whose names are alike
    yield from _shared_key_pairs(session, scan, ContactPhone.phone, ContactPhone.contact_id, Contact,
                                 Contact.sort_name, live, "phone", min_score, contact_name_key, names_too=True)
    yield from _names_at_same_company(session, scan, min_score, live)


def _company_sources(session: Session, scan: DuplicateScan, min_score: int, archived: bool) -> Iterator:
    live = [] if archived else [Company.archived.is_(False)]
    yield from _shared_key_pairs(session, scan, Company.domain, Company.id, Company, Company.name, live, "domain",
                                 min_score, company_name_key)
    yield from _similar_company_names(session, scan, min_score, live)


@lru_cache(maxsize=65536)  # names repeat (Maria Garcia...): accents are stripped once per name
def contact_name_key(sort_name: str) -> str:
    """The contact's casefolded full name (sort_name) without accents, dots and hyphens."""
    return " ".join(strip_accents(sort_name).replace(".", " ").replace("-", " ").split())


def _shared_key_pairs(session: Session, scan: DuplicateScan, key_col, id_col, owner, name_col, live: list,
                      reason: str, min_score: int, name_key,
                      names_too: bool = False) -> Iterator[tuple[int, int, float, str, str]]:
    """Records sharing a value of `key_col`: the values come from one GROUP BY ... HAVING over
    its index; only the records that hold such a value are read. A value shared by many records
    (a switchboard number, info@) says little on its own: there, names must be alike too, and the
    pair scores as alike as the names are; with `names_too`, that holds for every shared value."""
    table = key_col.class_
    joined = owner is not table
    # the values on more than one row, archived or not: a covering scan of the key's index; the
    # archived rows drop out below, where only the few rows of shared values are read
    shared = select(key_col).where(key_col.is_not(None)).group_by(key_col).having(func.count() > 1)
    stmt = select(key_col, id_col, name_col).where(key_col.in_(shared), *live)
    if joined:
        stmt = stmt.join(owner, owner.id == id_col)
    stmt = stmt.order_by(key_col, id_col)
    for value, rows in groupby(_stream(session, stmt), key=lambda r: r[0]):
        block = sorted({r[1]: r[2] for r in rows}.items())
        if len(block) > SMALL_BLOCK or names_too:
            scan.common_keys += len(block) > SMALL_BLOCK
            for a, b, score, _reason, _shared in _score_block(scan, [(i, name_key(n or "")) for i, n in block],
                                                              min_score, reason):
                yield a, b, score, reason, value
                yield a, b, score, "name", value
            continue
        scan.blocks += 1
        ids = [i for i, _name in block]
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                yield a, b, 100, reason, value


def _names_at_same_company(session: Session, scan: DuplicateScan, min_score: int,
                           live: list) -> Iterator[tuple[int, int, float, str, str]]:
    """Contacts of one company with similar names: the contacts stream in company order, one
    company's block in memory at a time. SQLite reads the table once and sorts it (three times
    faster than visiting 100k rows in the order of the company index)."""
    company = Contact.company_id + 0  # "+ 0": no index for this, a sequential read and one sort
    stmt = (select(company, Contact.id, Contact.sort_name)
            .where(company.is_not(None), *live).order_by(company, Contact.id))
    for _company, rows in groupby(_stream(session, stmt), key=lambda r: r[0]):
        block = [(r[1], contact_name_key(r[2])) for r in rows]
        yield from _score_block(scan, block, min_score, "name")


def _similar_company_names(session: Session, scan: DuplicateScan, min_score: int,
                           live: list) -> Iterator[tuple[int, int, float, str, str]]:
    """Companies whose names start alike (the first letters of name_key, read in index order),
    scored on the name without legal forms, so "Acme Inc" meets "ACME, Inc." and "Acme Corp".
    Two companies with different web domains are two companies (a group's subsidiaries), whatever
    their names."""
    stmt = (select(Company.name_key, Company.id, Company.name, Company.domain).where(*live)
            .order_by(Company.name_key, Company.id))
    # the prefix of name_key itself, so each block is one contiguous run of the index
    for _prefix, rows in groupby(_stream(session, stmt), key=lambda r: r[0][:NAME_PREFIX]):
        rows = list(rows)
        if len(rows) < 2:
            continue
        domains = {r[1]: r[3] for r in rows}
        block = [(r[1], company_name_key(r[2]) or r[0]) for r in rows]
        for a, b, score, reason, shared in _score_block(scan, block, min_score, "name"):
            if not (domains[a] and domains[b] and domains[a] != domains[b]):
                yield a, b, score, reason, shared


def _score_block(scan: DuplicateScan, block: list[tuple[int, str]], min_score: int,
                 reason: str, depth: int = NAME_PREFIX) -> Iterator[tuple[int, int, float, str, str]]:
    if len(block) < 2:
        return
    if len(block) > MAX_NAME_BLOCK and depth < 12:
        # a crowded block (a huge company, a common prefix): split it by a longer name prefix
        block.sort(key=lambda item: item[1])
        for _p, part in groupby(block, key=lambda item: item[1][:depth + 2]):
            yield from _score_block(scan, list(part), min_score, reason, depth + 2)
        return
    from rapidfuzz import fuzz, process  # here: `crm contact list` need not load it

    scan.blocks += 1
    names = [name for _id, name in block]
    for i in range(len(block) - 1):
        a_id, a_name = block[i]
        if not a_name:
            continue
        rest = names[i + 1:]
        scan.compared += len(rest)
        for _match, score, j in process.extract(a_name, rest, scorer=fuzz.token_sort_ratio, processor=None,
                                                score_cutoff=min_score, limit=None):
            b_id = block[i + 1 + j][0]
            yield (a_id, b_id, score, reason, "") if a_id < b_id else (b_id, a_id, score, reason, "")


def _stream(session: Session, stmt) -> Iterator:
    """Rows of `stmt` a chunk at a time (a server-side cursor on PostgreSQL), as plain Core rows
    (the ORM's row handling would cost more than the scan)."""
    result = session.connection().execute(stmt.execution_options(yield_per=STREAM_CHUNK))
    for partition in result.partitions():
        yield from partition


# --- "not a duplicate" -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dismissal:
    """A pair someone said is not one record; a_id < b_id."""

    kind: str
    a_id: int
    b_id: int
    by: str
    at: datetime
    a_label: str = ""
    b_label: str = ""
    created: bool = True  # False: it was dismissed already (by `by`, at `at`)


def dismissed_pairs(session: Session, *, kind: str) -> set[tuple[int, int]]:
    """Every dismissed pair of the kind (a person dismisses each: a short list, read whole)."""
    return {(a, b) for a, b in session.execute(
        select(DedupeDismissal.a_id, DedupeDismissal.b_id).where(DedupeDismissal.kind == kind))}


def _pair_records(session: Session, kind: str, a_id: int, b_id: int, actor: Actor):
    """Both records, checked: they exist, they differ, and the actor may edit each."""
    if kind not in KINDS:
        raise InvalidInput(f"invalid kind {kind!r}: choose contact or company")
    if a_id == b_id:
        raise InvalidInput(f"{kind} #{a_id} and itself are one record")
    model = Contact if kind == "contact" else Company
    rows = [get_or_404(session, model, id_, kind) for id_ in sorted((a_id, b_id))]
    for row in rows:
        permissions.require(session, actor, f"{kind}.edit", owner=row.owner_id)
    return rows


def dismiss_pair(session: Session, *, kind: str, a_id: int, b_id: int, actor: Actor,
                 now: datetime | None = None) -> Dismissal:
    """Say that two records are not duplicates: the scans leave the pair out, for everyone,
    until `restore_pair`. Audited on both records. Dismissing a pair twice changes nothing."""
    now = resolve_now(now)
    a, b = _pair_records(session, kind, a_id, b_id, actor)
    labels = _labels(session, kind, {a.id, b.id})
    existing = _dismissal(session, kind, a.id, b.id)
    if existing is None:
        try:
            with session.begin_nested():  # a teammate dismissing the same pair at once: theirs stands
                session.add(DedupeDismissal(kind=kind, a_id=a.id, b_id=b.id, by=actor.login, at=now))
        except IntegrityError:
            existing = _dismissal(session, kind, a.id, b.id)
    if existing is not None:
        return Dismissal(kind, a.id, b.id, existing.by, existing.at, labels[a.id], labels[b.id], created=False)
    for this, other in ((a, b), (b, a)):
        audit(session, actor=actor, entity=kind, entity_id=this.id, action="not-duplicate", now=now,
              changes={"not_duplicate_of": (None, f"#{other.id} {labels[other.id]}")})
    return Dismissal(kind, a.id, b.id, actor.login, now, labels[a.id], labels[b.id])


def restore_pair(session: Session, *, kind: str, a_id: int, b_id: int, actor: Actor,
                 now: datetime | None = None) -> Dismissal:
    """Undo `dismiss_pair`: the pair may show as duplicates again. Audited on both records."""
    now = resolve_now(now)
    a, b = _pair_records(session, kind, a_id, b_id, actor)
    existing = _dismissal(session, kind, a.id, b.id)
    if existing is None:
        raise NotFound(f"{kind} #{a.id} and #{b.id} were not marked as not duplicates")
    labels = _labels(session, kind, {a.id, b.id})
    session.delete(existing)
    session.flush()
    for this, other in ((a, b), (b, a)):
        audit(session, actor=actor, entity=kind, entity_id=this.id, action="maybe-duplicate", now=now,
              changes={"not_duplicate_of": (f"#{other.id} {labels[other.id]}", None)})
    return Dismissal(kind, a.id, b.id, existing.by, existing.at, labels[a.id], labels[b.id])


def list_dismissals(session: Session, *, kind: str) -> list[Dismissal]:
    """The pairs marked not duplicates, newest first."""
    if kind not in KINDS:
        raise InvalidInput(f"invalid kind {kind!r}: choose contact or company")
    rows = session.execute(select(DedupeDismissal).where(DedupeDismissal.kind == kind)
                           .order_by(DedupeDismissal.at.desc(), DedupeDismissal.id.desc())).scalars().all()
    labels = _labels(session, kind, {i for r in rows for i in (r.a_id, r.b_id)})
    return [Dismissal(kind, r.a_id, r.b_id, r.by, r.at, labels.get(r.a_id, f"#{r.a_id}"),
                      labels.get(r.b_id, f"#{r.b_id}")) for r in rows]


def forget_record(session: Session, *, kind: str, record_id: int) -> None:
    """A record merged away leaves no pair behind (an id may be handed out again)."""
    session.execute(delete(DedupeDismissal).where(
        DedupeDismissal.kind == kind, or_(DedupeDismissal.a_id == record_id, DedupeDismissal.b_id == record_id)))


def _dismissal(session: Session, kind: str, a_id: int, b_id: int) -> DedupeDismissal | None:
    return session.scalar(select(DedupeDismissal).where(
        DedupeDismissal.kind == kind, DedupeDismissal.a_id == a_id, DedupeDismissal.b_id == b_id))


def _labels(session: Session, kind: str, ids: set[int]) -> dict[int, str]:
    found = (_contact_labels if kind == "contact" else _company_labels)(session, ids)
    return {i: label for i, (label, _detail) in found.items()}


# --- labels for the list -------------------------------------------------------------------------


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    ids = sorted(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _contact_labels(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    company = aliased(Company)
    out: dict[int, tuple[str, str]] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(Contact.id, Contact.full_name, Contact.email, Contact.phone, company.name)
            .outerjoin(company, company.id == Contact.company_id).where(Contact.id.in_(chunk)))
        for id_, name, email, phone, company_name in rows:
            detail = " · ".join(p for p in (company_name, email or phone) if p)
            out[id_] = (name or email or f"#{id_}", detail)
    return out


def _company_labels(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    out: dict[int, tuple[str, str]] = {}
    for chunk in _chunks(ids):
        for id_, name, domain in session.execute(
                select(Company.id, Company.name, Company.domain).where(Company.id.in_(chunk))):
            out[id_] = (name, domain or "")
    return out


# --- paging over a scan (the Duplicates screen's list) ---------------------------------------------


def scan_page(scan: DuplicateScan, *, after: str | None = None, before: str | None = None,
              limit: int = 50, with_total: bool = False) -> Page[DuplicatePair]:
    """One page of a finished scan, with the same cursors as every other list."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"page size must be between 1 and {MAX_PAGE}")
    n = len(scan.pairs)
    if before == "end":
        start = max(0, n - limit)
    elif before is not None:
        start = max(0, _position(before) - limit)
    elif after is not None:
        start = _position(after) + 1
    else:
        start = 0
    stop = min(n, start + limit)
    items = scan.pairs[start:stop]
    next_ = Cursor(stop - 1, stop - 1).encode() if stop < n and items else None
    prev_ = Cursor(start, start).encode() if start > 0 and items else None
    return Page(items, next_, prev_, n if with_total else None)


def _position(token: str) -> int:
    cursor = Cursor.decode(token)
    if not isinstance(cursor.value, int) or cursor.value < 0:
        raise InvalidInput(f"invalid page cursor {token!r}")
    return cursor.value


def pair_json(pair: DuplicatePair) -> dict:
    return {"a_id": pair.a_id, "b_id": pair.b_id, "score": pair.score, "reasons": list(pair.reasons),
            "a": pair.a_label, "b": pair.b_label, "a_detail": pair.a_detail, "b_detail": pair.b_detail,
            "shared": pair.shared}

