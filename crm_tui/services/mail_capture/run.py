"""Running a capture: `crm mail ingest` (files, a pipe) and `crm mail sync` (IMAP folders,
incrementally by UIDVALIDITY and the last UID), streamed in batches, each batch one transaction.
A batch is read (parsed) before its transaction begins, so the database's write lock is held for
the storing alone; a sync reads the next batch in its fetch thread meanwhile."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from crm_tui.clock import resolve_now
from crm_tui.config import Settings
from crm_tui.db import Database
from crm_tui.errors import CrmError
from crm_tui.models import MailFolder
from crm_tui.services import permissions
from crm_tui.services.mail_capture import imap
from crm_tui.services.mail_capture.capture import CaptureReport, RawMail, read, store, team_addresses
from crm_tui.shapes import Actor

BATCH = imap.CHUNK


def _batches(raws: Iterable[RawMail], size: int) -> Iterator[list[RawMail]]:
    it = iter(raws)
    while chunk := list(islice(it, size)):
        yield chunk


def _support(settings: Settings | None) -> tuple[str, ...]:
    """The [support] addresses: the team's own, so mail from them is outbound and never a contact's."""
    return settings.support.addresses if settings is not None else ()


def ingest(db: Database, raws: Iterable[RawMail], *, actor: Actor, extra_addresses: Iterable[str] = (),
           now: datetime | None = None, batch: int = BATCH, settings: Settings | None = None) -> CaptureReport:
    """Store the messages read from files or a pipe, as the acting user's mail. `settings`: new
    mail to its [support] addresses becomes cases (services/case_mail)."""
    now = resolve_now(now)
    with db.read() as session:
        permissions.require(session, actor, "activity.log")
        ours = team_addresses(session, [*extra_addresses, *_support(settings)])
    report = CaptureReport()
    for chunk in _batches(raws, batch):
        done = read(chunk, source="ingest", now=now)
        report.add(_store(db, lambda session: store(session, done, actor=actor, source="ingest", ours=ours,
                                                    user_id=actor.user_id, now=now, settings=settings)))
    return report


def _store(db: Database, write: Callable) -> CaptureReport:
    """One batch in one transaction. A teammate's sync that stored one of its messages between
    our look and our insert (PostgreSQL lets both look at once) fails the unique Message-ID: the
    batch is undone to a savepoint and runs once more, and finds that message stored."""
    with db.write() as session:
        try:
            with session.begin_nested():
                return write(session)
        except IntegrityError:
            return write(session)


@dataclass
class FolderReport:
    folder: str
    uidvalidity: int
    last_uid: int
    reset: bool = False  # the server renumbered the folder: read again from the start
    capture: CaptureReport = field(default_factory=CaptureReport)


@dataclass
class SyncReport:
    account: str
    folders: list[FolderReport] = field(default_factory=list)
    error: str | None = None  # the mailbox could not be read (the folders read before it keep their mail)

    @property
    def total(self) -> CaptureReport:
        total = CaptureReport()
        for folder in self.folders:
            total.add(folder.capture)
        return total


def sync(db: Database, account: imap.ImapAccount, *, actor: Actor, team: bool = False,
         extra_addresses: Iterable[str] = (), max_bytes: int = 25_000_000, now: datetime | None = None,
         connect: Callable[[imap.ImapAccount], object] = imap.connect, batch: int = BATCH,
         settings: Settings | None = None) -> SyncReport:
    """Read the account's new mail: each folder from the UID after the last one stored (all of it
    when the folder's UIDVALIDITY changed), a chunk at a time, each chunk stored with the folder's
    new last UID in one transaction, so a run that stops half-way resumes where it stopped.
    `team`: the shared BCC box, whose mail belongs to no one user. `settings`: new mail to its
    [support] addresses becomes cases (services/case_mail)."""
    now = resolve_now(now)
    with db.read() as session:
        permissions.require(session, actor, "activity.log")
        extra = [*extra_addresses, *([account.address] if account.address else []), *_support(settings)]
        ours = team_addresses(session, extra)
        known = {folder: (validity, last) for folder, validity, last in session.execute(
            select(MailFolder.folder, MailFolder.uidvalidity, MailFolder.last_uid)
            .where(MailFolder.account == account.label))}
    report = SyncReport(account.label)
    client = connect(account)
    try:
        for folder in imap.folders(client, account.folders):
            report.folders.append(_sync_folder(db, client, account, folder, known.get(folder), actor=actor,
                                               user_id=None if team else actor.user_id, ours=ours,
                                               max_bytes=max_bytes, now=now, batch=batch, settings=settings))
    except CrmError as exc:
        report.error = exc.message
    except OSError as exc:  # the connection dropped mid-way
        report.error = f"the IMAP connection to {account.host} failed: {exc}"
    finally:
        imap.close(client)
    return report


def _sync_folder(db: Database, client, account: imap.ImapAccount, folder: str, state: tuple[int, int] | None, *,
                 actor: Actor, user_id: int | None, ours: set[str], max_bytes: int, now: datetime,
                 batch: int, settings: Settings | None = None) -> FolderReport:
    if state is not None and (now_at := imap.status(client, folder)) is not None \
            and now_at[0] == state[0] and now_at[1] <= state[1] + 1:
        return FolderReport(folder, state[0], state[1])  # nothing new: the folder is not even opened
    uidvalidity = imap.open_folder(client, folder)
    reset = state is not None and state[0] != uidvalidity
    last = state[1] if state is not None and not reset else 0
    result = FolderReport(folder, uidvalidity, last, reset=reset)
    uids = imap.uids_after(client, last)
    if not uids:
        if state is None or reset:
            with db.write() as session:
                _save_state(session, account.label, folder, uidvalidity, last, now)
        return result
    for chunk, done in _prefetched(client, folder, uids, batch=batch, max_bytes=max_bytes,
                                   read=lambda raws: read(raws, source="sync", account=account.label, now=now)):

        def write(session, done=done, last=chunk[-1]) -> CaptureReport:
            stored = store(session, done, actor=actor, source="sync", ours=ours, user_id=user_id,
                           account=account.label, now=now, settings=settings)
            _save_state(session, account.label, folder, uidvalidity, last, now)
            return stored

        result.capture.add(_store(db, write))
        result.last_uid = chunk[-1]
    return result


_DONE = object()


def _prefetched(client, folder: str, uids: list[int], *, batch: int, max_bytes: int,
                read: Callable[[list[RawMail]], object]) -> Iterator[tuple]:
    """(UIDs, `read`(messages)) a chunk at a time, the next chunk fetched and read (parsed) by a
    thread while this one is stored: the server's work, the network and the parsing overlap with
    the database's (SQLite's own work, the full-text index above all, runs without the GIL). At
    most two chunks wait, so memory stays bounded. The thread alone uses the connection until
    this generator ends."""
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            for start in range(0, len(uids), batch):
                chunk = uids[start:start + batch]
                if not put((chunk, read(imap.fetch(client, folder, chunk, max_bytes=max_bytes)))):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            put(exc)

    worker = threading.Thread(target=fetch, name="imap-fetch", daemon=True)
    worker.start()
    try:
        while (item := chunks.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _save_state(session, account: str, folder: str, uidvalidity: int, last_uid: int, now: datetime) -> None:
    changed = session.execute(
        update(MailFolder).where(MailFolder.account == account, MailFolder.folder == folder)
        .values(uidvalidity=uidvalidity, last_uid=last_uid, synced_at=now)).rowcount
    if not changed:
        session.add(MailFolder(account=account, folder=folder, uidvalidity=uidvalidity, last_uid=last_uid,
                               synced_at=now))
        session.flush()
