"""Mail sync benchmark: `crm mail sync` of a 10,000-message mailbox against the 100k-contact demo
database, vs a bare imaplib fetch of the same messages from the same server, in the same run.

    .venv/bin/python bench/bench_mail.py --db DEMO.db [--messages 10000]

DEMO.db is a database with the demo set (`crm --db DEMO.db init && crm --db DEMO.db demo --contacts
100000`); it is copied, never written. A real Dovecot (tests/dovecot.py; Debian's dovecot-imapd)
serves a Maildir of generated messages on loopback: 80% in INBOX, 20% in Sent; their addresses are
the demo's contacts' (two in three messages match one) and strangers'. Prints:
- the sync (parse, match, store in batches of 500, each with the folder's last UID) vs the bare
  imaplib fetch (UID FETCH BODY.PEEK[] in the same chunks), taken before and after it; target <= 3x;
- the peak memory the sync added (tracemalloc is not used: it slows Python down several times;
  ru_maxrss before and after), beside the mailbox's size: bounded means far below it;
- a re-sync with nothing new; target < 1 s.
"""

from __future__ import annotations

import argparse
import imaplib
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import ContactEmail, EmailMessage as Stored, User  # noqa: E402
from crm_tui.services import users  # noqa: E402
from crm_tui.services.mail_capture import imap, run  # noqa: E402
from tests import dovecot  # noqa: E402

CHUNK = imap.CHUNK
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
WORDS = ("pricing renewal seats contract quote meeting call follow up proposal budget team order invoice "
         "demo trial onboarding support question timeline next steps thanks").split()


def _message(rng: random.Random, n: int, sender: str, to: list[str], cc: list[str]) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = " ".join(rng.choices(WORDS, k=rng.randint(2, 7))).capitalize()
    msg["Date"] = format_datetime(NOW - timedelta(minutes=n * 7))
    msg["Message-ID"] = f"<bench-{n}@bench.example.com>"
    text = "\n".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(rng.randint(5, 60)))
    msg.set_content(text)
    if n % 3 == 0:
        msg.add_alternative(f"<html><body><p>{text.replace(chr(10), '</p><p>')}</p></body></html>", subtype="html")
    if n % 10 == 0:
        msg.add_attachment(rng.randbytes(20_000), maintype="application", subtype="pdf", filename=f"doc-{n}.pdf")
    return msg.as_bytes()


def fill(server: dovecot.Dovecot, emails: list[str], count: int) -> int:
    """Write `count` messages straight into the Maildir (APPEND of 10,000 would take minutes);
    the mailbox's size in bytes."""
    rng = random.Random(7)
    me = server.user
    total = 0
    for folder, share in (("INBOX", 0.8), ("Sent", 0.2)):
        box = server.maildir(folder)
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir(parents=True, exist_ok=True)
            server.give(box / sub)
        server.give(box)
        for n in range(int(count * share)):
            number = n if folder == "INBOX" else int(count * 0.8) + n
            known = rng.choice(emails) if rng.random() < 2 / 3 else f"stranger{rng.randint(1, 3000)}@elsewhere.example"
            cc = [rng.choice(emails)] if rng.random() < 0.2 else []
            sender, to = (known, [me]) if folder == "INBOX" else (me, [known])
            data = _message(rng, number, sender, to, cc)
            path = box / "cur" / f"{1700000000 + number}.M{number}P1.bench:2,S"
            path.write_bytes(data)
            server.give(path)
            total += len(data)
    return total


def bare_fetch(server: dovecot.Dovecot) -> tuple[float, int]:
    """The baseline: log in, and per folder SELECT, UID SEARCH and UID FETCH BODY.PEEK[] by chunks."""
    start = time.perf_counter()
    client = imaplib.IMAP4(server.host, server.port)
    client.login(server.user, server.password)
    got = 0
    for folder in ("INBOX", "Sent"):
        client.select(f'"{folder}"', readonly=True)
        _, data = client.uid("SEARCH", None, "ALL")
        uids = [int(u) for u in data[0].split()]
        for at in range(0, len(uids), CHUNK):
            chunk = uids[at:at + CHUNK]
            _, data = client.uid("FETCH", f"{chunk[0]}:{chunk[-1]}", "(UID BODY.PEEK[])")
            got += sum(1 for item in data if isinstance(item, tuple))
    client.logout()
    return time.perf_counter() - start, got


def bare_look(server: dovecot.Dovecot) -> float:
    """The re-sync's baseline: log in, and per folder SELECT and UID SEARCH for anything new."""
    start = time.perf_counter()
    client = imaplib.IMAP4(server.host, server.port)
    client.login(server.user, server.password)
    client.list()
    for folder in ("INBOX", "Sent"):
        client.select(f'"{folder}"', readonly=True)
        client.uid("SEARCH", None, "UID 100000:*")
    client.logout()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a SQLite file with the demo set (copied, not written)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--profile", help="write a cProfile of the sync to this file")
    args = parser.parse_args()
    if (why := dovecot.unavailable()) is not None:
        print(why)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    copy = work / "crm.db"
    shutil.copy(args.db, copy)
    with copy.open("rb+") as handle:  # written out now: else the sync's first checkpoint (an fsync) pays for it
        os.fsync(handle.fileno())
    db = open_database(f"sqlite:///{copy}")
    with db.write() as session:
        admin = session.scalar(select(User.login).where(User.role == "admin").order_by(User.id).limit(1))
        actor = users.actor_for(session, login=admin or "bench", now=NOW)
        emails = list(session.scalars(select(ContactEmail.email).order_by(ContactEmail.id).limit(20_000)))
        contacts = session.scalar(select(ContactEmail.contact_id).order_by(ContactEmail.contact_id.desc()).limit(1))
    server = dovecot.Dovecot.start(work / "dovecot")
    try:
        size = fill(server, emails, args.messages)
        bare_fetch(server)  # Dovecot indexes the folders on their first reading: not measured
        before, got = bare_fetch(server)
        account = imap.ImapAccount(host=server.host, port=server.port, username=server.user,
                                   password=server.password, security="plain", address=server.user)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        start, cpu = time.perf_counter(), time.process_time()
        report = run.sync(db, account, actor=actor, now=NOW)
        sync_s, sync_cpu = time.perf_counter() - start, time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        after, _ = bare_fetch(server)
        look_s = bare_look(server)
        start = time.perf_counter()
        again = run.sync(db, account, actor=actor, now=NOW)
        resync_s = time.perf_counter() - start
        with db.read() as session:
            stored = len(session.scalars(select(Stored.id)).all())
    finally:
        server.stop()
        db.dispose()
        shutil.rmtree(work, ignore_errors=True)
    total = report.total
    bare = (before + after) / 2
    print(f"mailbox: {got:,} messages, {size / 1e6:.1f} MB; database: {contacts:,} contacts")
    print(f"sync: read {total.read:,}, stored {stored:,}, {total.activities:,} timeline entries, "
          f"{total.triaged:,} to Triage, {len(total.errors)} errors{'; ' + report.error if report.error else ''}")
    print(f"bare imaplib fetch: {before:.2f} s before, {after:.2f} s after (mean {bare:.2f} s)")
    ratio = sync_s / bare
    print(f"crm mail sync:      {sync_s:.2f} s = {ratio:.2f}x the bare fetch (target <= 3x): "
          f"{'PASS' if ratio <= 3 else 'MISS'}")
    print(f"peak memory added by the sync: {(rss1 - rss0) / 1024:.0f} MB (the mailbox is {size / 1e6:.0f} MB)")
    print(f"re-sync, nothing new: {resync_s:.3f} s, read {again.total.read} (target < 1 s): "
          f"{'PASS' if resync_s < 1 else 'MISS'}; a bare imaplib login, LIST, SELECT and SEARCH of both "
          f"folders: {look_s:.3f} s ({resync_s / look_s:.1f}x)")
    print(f"sync CPU time in this process: {sync_cpu:.1f} s ({sync_cpu * 1000 / max(total.read, 1):.2f} ms a "
          f"message); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
