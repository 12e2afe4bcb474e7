"""Capturing a batch of raw messages: read each, store them through services/mail_store (one row
per Message-ID, an email activity per matched contact), put the addresses of mail that matched no
contact in Triage, and log every message that could not be read whole. A bad message never stops
the batch: it is one line in the sync log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.config import Settings
from crm_tui.errors import CrmError
from crm_tui.models import MailIgnore, MailSyncLog, MailTriage, User
from crm_tui.services import bulk, case_mail, mail_store
from crm_tui.services.mail_contacts import domain_of
from crm_tui.services.mail_capture.parse import MailError, ParsedMail, parse_message
from crm_tui.shapes import Actor

MAX_LOGGED = 2000  # characters of one log line


@dataclass
class RawMail:
    """One message as read: where from (a folder and UID, or a file), and its bytes. `too_large`:
    the message's size when only its header block was fetched."""

    data: bytes
    where: str = ""
    uid: int | None = None
    too_large: int | None = None


@dataclass
class CaptureReport:
    """What a run did, for the command's summary and the app's toast."""

    read: int = 0
    stored: int = 0  # new messages
    known: int = 0  # already stored (another mailbox, an earlier run)
    activities: int = 0
    triaged: int = 0  # messages that matched no contact
    errors: list[str] = field(default_factory=list)  # not stored
    warnings: list[str] = field(default_factory=list)  # stored, with a caveat
    # support mail (services/case_mail): cases opened, acknowledgements queued, mail added to cases,
    # survey answers
    cases: int = 0
    acknowledged: int = 0
    case_mail: int = 0
    survey_answers: int = 0

    def add(self, other: CaptureReport) -> None:
        for name in ("read", "stored", "known", "activities", "triaged", "cases", "acknowledged", "case_mail",
                     "survey_answers"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors
        self.warnings += other.warnings

    def summary(self) -> str:
        line = (f"read {self.read}, stored {self.stored} new ({self.known} already stored), "
                f"{self.activities} timeline entries, {self.triaged} to Triage")
        if self.cases:
            line += f", {self.cases} new case{'s' if self.cases != 1 else ''} ({self.acknowledged} acknowledged)"
        if self.case_mail:
            line += f", {self.case_mail} added to case{'s' if self.case_mail != 1 else ''}"
        if self.survey_answers:
            line += f", {self.survey_answers} survey answer{'s' if self.survey_answers != 1 else ''}"
        if self.errors:
            line += f", {len(self.errors)} unreadable"
        return line


def team_addresses(session: Session, extra: Iterable[str] = ()) -> set[str]:
    """The team's own addresses: every user's, and those the config names (the team BCC box, a
    user's aliases). Mail from them is outbound, and they are never matched as contacts."""
    ours = {a.strip().lower() for a in extra if a and a.strip()}
    ours |= {e.strip().lower() for e in session.scalars(select(User.email).where(User.email.is_not(None))) if e}
    return ours


@dataclass
class ReadBatch:
    """A batch of messages read (parsed), not yet stored: what `read` gives `store`. Reading needs
    no database, so a sync reads the next batch while this one is stored (services/mail_capture/run)."""

    parsed: dict[str, ParsedMail] = field(default_factory=dict)  # by Message-ID, the first of each
    read: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    logs: list[dict] = field(default_factory=list)  # the sync log's lines for them


def read(raws: Iterable[RawMail], *, source: str, account: str | None = None,
         now: datetime | None = None) -> ReadBatch:
    """Parse one batch: each message's problems (and each unreadable message) become lines of the
    sync log, which `store` writes."""
    now = resolve_now(now)
    batch = ReadBatch()
    for raw in raws:
        batch.read += 1
        try:
            mail = parse_message(raw.data, received_at=now, headers_only=raw.too_large is not None)
        except MailError as exc:
            _log(batch.logs, batch.errors, raw, None, "error", str(exc), source, account, now)
            continue
        if raw.too_large is not None:
            mail.problems.append(f"message of {raw.too_large / 1e6:.1f} MB is over the size limit: "
                                 "stored without its body and attachments")
            mail.size = raw.too_large
        if mail.message_id in batch.parsed:
            mail.problems.append("duplicate Message-ID in this run: stored once")
        for problem in mail.problems:
            _log(batch.logs, batch.warnings, raw, mail.message_id, "warning", problem, source, account, now)
        batch.parsed.setdefault(mail.message_id, mail)
    return batch


def capture(session: Session, raws: Iterable[RawMail], *, actor: Actor, source: str, ours: set[str],
            user_id: int | None = None, account: str | None = None, now: datetime | None = None,
            settings: Settings | None = None) -> CaptureReport:
    """Read and store one batch (one transaction: the caller's). Set-based: one query for the
    Message-IDs, one for the contacts, one for the ignore list, whatever the batch's size.
    `settings`: its [support] addresses make the new mail to them cases (services/case_mail)."""
    now = resolve_now(now)
    return store(session, read(raws, source=source, account=account, now=now), actor=actor, source=source,
                 ours=ours, user_id=user_id, account=account, now=now, settings=settings)


def store(session: Session, batch: ReadBatch, *, actor: Actor, source: str, ours: set[str],
          user_id: int | None = None, account: str | None = None, now: datetime | None = None,
          settings: Settings | None = None) -> CaptureReport:
    """Store a batch `read` gave (one transaction: the caller's, which may run it again after a
    lost race: `batch` is not changed)."""
    now = resolve_now(now)
    report = CaptureReport(read=batch.read, errors=list(batch.errors), warnings=list(batch.warnings))
    logs = list(batch.logs)
    parsed = batch.parsed
    if parsed:
        stores = {mid: mail.to_store() for mid, mail in parsed.items()}  # built once: stored, then cases
        stored = mail_store.store_messages(session, list(stores.values()), actor=actor,
                                           source=source, user_id=user_id, ours=ours, now=now)
        report.stored, report.known = len(stored.new), len(parsed) - len(stored.new)
        report.activities = stored.activities
        fresh = set(stored.new)
        # mail stored before that no case took: only a team with support addresses has any
        known = ([stores[mid] for mid in parsed if mid not in fresh]
                 if settings is not None and settings.support.addresses else [])
        late = case_mail.unhandled(session, known, settings=settings, now=now) if known else []
        leads = _to_cases(session, [stores[mid] for mid in stored.new] + late, report, logs,
                          settings=settings, source=source, account=account, now=now)
        lost = [parsed[mid] for mid in stored.unmatched if mid in fresh and mid not in leads]
        report.triaged = len(lost)
        _to_triage(session, lost, stored.email_ids, ours=ours, now=now)
    if logs:
        session.execute(insert(MailSyncLog), logs)
    return report


def _to_cases(session: Session, messages: list[mail_store.MailMessage], report: CaptureReport, logs: list[dict],
              *, settings: Settings | None, source: str, account: str | None, now: datetime) -> set[str]:
    """Support mail first stored in this batch, to cases (services/case_mail), each message in a
    savepoint: one that cannot be made a case is one warning in the sync log, and stays stored.
    Returns the Message-IDs whose sender became a lead (so not Triage's)."""
    leads: set[str] = set()
    for message in messages:
        if not case_mail.wanted(message, settings):
            continue
        try:
            with session.begin_nested():
                done = case_mail.handle(session, message, settings=settings, now=now)
        except CrmError as exc:
            _log(logs, report.warnings, RawMail(b""), message.message_id, "warning",
                 f"not made a case: {exc.message}", source, account, now)
            continue
        if done is None:
            continue
        if done.warning:
            _log(logs, report.warnings, RawMail(b""), message.message_id, "warning",
                 done.warning, source, account, now)
        if done.contact_made is not None:
            leads.add(message.message_id)
        if done.kind in (case_mail.NEW, case_mail.FOLLOW_UP):
            report.cases += 1
            report.acknowledged += done.acknowledged
        elif done.kind in (case_mail.ENTRY, case_mail.NOTE):
            report.case_mail += 1
        elif done.kind == case_mail.SURVEY:
            report.survey_answers += 1
    return leads


def _log(logs: list[dict], into: list[str], raw: RawMail, message_id: str | None, level: str, error: str,
         source: str, account: str | None, now: datetime) -> None:
    where = f"{raw.where} UID {raw.uid}" if raw.uid is not None else raw.where
    into.append(f"{where}: {error}" if where else error)
    logs.append(dict(at=now, source=source, account=account, folder=raw.where[:200] or None, uid=raw.uid,
                     message_id=message_id, level=level, error=error[:MAX_LOGGED]))


def _to_triage(session: Session, mails: list[ParsedMail], email_ids: dict[str, int], *, ours: set[str],
               now: datetime) -> None:
    """The addresses of mail that matched no contact, less the team's and those ignored."""
    rows: dict[tuple[str, int], dict] = {}
    for mail in mails:
        roles = [("from", [mail.sender] if mail.sender else []), ("to", mail.to), ("cc", mail.cc)]
        for role, addresses in roles:
            for address in addresses:
                if address.email in ours:
                    continue
                key = (address.email, email_ids[mail.message_id])
                rows.setdefault(key, dict(address=address.email, domain=domain_of(address.email), name=address.name,
                                          role=role, email_id=key[1], seen_at=mail.sent_at))
    if not rows:
        return
    ignored = ignored_among(session, {r["address"] for r in rows.values()})
    keep = [r for r in rows.values() if r["address"] not in ignored]
    if keep:
        bulk.insert_rows(session, MailTriage.__table__, keep)


def sync_log(session: Session, *, limit: int = 50) -> list:
    """The latest lines of the sync log, newest first (rows: at, source, level, folder, uid,
    message_id, error)."""
    t = MailSyncLog
    return list(session.execute(select(t.at, t.source, t.level, t.folder, t.uid, t.message_id, t.error)
                                .order_by(t.at.desc(), t.id.desc()).limit(limit)).all())




def ignored_among(session: Session, addresses: set[str]) -> set[str]:
    """Those of `addresses` that the ignore list names, by address or by domain (one query)."""
    if not addresses:
        return set()
    domains = {domain_of(a) for a in addresses}
    found = session.execute(select(MailIgnore.kind, MailIgnore.value).where(or_(
        (MailIgnore.kind == "address") & MailIgnore.value.in_(sorted(addresses)),
        (MailIgnore.kind == "domain") & MailIgnore.value.in_(sorted(domains))))).all()
    by_address = {v for k, v in found if k == "address"}
    by_domain = {v for k, v in found if k == "domain"}
    return {a for a in addresses if a in by_address or domain_of(a) in by_domain}
