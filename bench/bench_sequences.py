"""Sequences' engine benchmark: 10k active enrolments whose first step (an email) is due, on a fresh
SQLite file (or --url, a scratch PostgreSQL database that is emptied first).

    .venv/bin/python bench/bench_sequences.py [--contacts 10000] [--url URL]

Prints, each beside a baseline measured in the same run on the same rows:
- enrolling the 10k from a list (one INSERT ... SELECT through services/sequences.enroll), vs a bare
  INSERT ... SELECT of the same rows into sequence_enrollments;
- the engine doing all 10k due email steps (workflows/runner.run_sequences: claim, render the
  template, store the message and its activity, queue the outbox, advance, in batches of 500 per
  transaction), vs a bare INSERT ... SELECT of the same 10k claims into sequence_sends, and vs
  10k bare mail_send.send calls of the same email (the part of a step that is not the engine's);
- a second engine run with nothing due (the timer's idle cost).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import insert, literal, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import crm_tui.models  # noqa: E402,F401 - registers every table
from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import Contact, ContactEmail  # noqa: E402
from crm_tui.models.sequence import SequenceEnrollment, SequenceSend  # noqa: E402
from crm_tui.services import email_templates, mail_send, sequences  # noqa: E402
from crm_tui.services.common import system_actor  # noqa: E402
from crm_tui.workflows import runner  # noqa: E402
from crm_tui.workflows.email import SmtpSettings  # noqa: E402

UTC = timezone.utc
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, inside the window
SMTP = SmtpSettings(host="127.0.0.1", sender="CRM <crm@team.example>")  # email on; run_sequences only queues


def _seed(db, n: int) -> int:
    """n contacts with an address, a template, and a sequence of an email then a task."""
    actor = system_actor("bench")
    with db.write() as s:
        s.execute(insert(Contact), [dict(first_name=f"P{i}", last_name="Bench", full_name=f"P{i} Bench",
                                         sort_name=f"bench p{i}", email=f"p{i}@bench.example", lifecycle="lead",
                                         created_at=NOW, updated_at=NOW) for i in range(n)])
        s.execute(insert(ContactEmail).from_select(
            ["contact_id", "email", "position"],
            select(Contact.id, Contact.email, literal(0)).where(Contact.last_name == "Bench")))
        email_templates.add_template(s, name="Intro", subject="Hi {{ contact.first_name }}",
                                     body="Hello {{ contact.first_name }}, a word from the team.", actor=actor,
                                     shared=True, now=NOW)
        sq = sequences.create_sequence(s, actor, name="Bench", window="00:00-24:00", daily_cap=10_000, now=NOW)
        sequences.add_step(s, actor, sq.id, kind="email", delay_days=0, template="Intro", now=NOW)
        sequences.add_step(s, actor, sq.id, kind="task", delay_days=2, task_title="Call", now=NOW)
    return sq.id


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _enrol(db, sequence_id: int):
    with db.write() as s:
        return sequences.enroll(s, system_actor("bench"), sequence_id, view="All contacts", now=NOW)


def _bare_enrol(db, sequence_id: int) -> None:
    e = SequenceEnrollment.__table__
    with db.write() as s:
        s.execute(insert(e).from_select(
            ["version", "created_at", "updated_at", "sequence_id", "contact_id", "status", "next_position",
             "next_due_at", "enrolled_at"],
            select(literal(1), literal(NOW, e.c.created_at.type), literal(NOW, e.c.updated_at.type),
                   literal(sequence_id), Contact.id, literal("active"), literal(1),
                   literal(NOW, e.c.next_due_at.type), literal(NOW, e.c.enrolled_at.type))
            .where(Contact.archived.is_(False))))


def _bare_claims(db) -> None:
    t = SequenceSend.__table__
    with db.write() as s:
        step = s.scalar(text("SELECT id FROM sequence_steps WHERE position = 1"))
        s.execute(insert(t).from_select(
            ["enrollment_id", "step_id", "contact_id", "kind", "sent_at", "sent_on"],
            select(SequenceEnrollment.id, literal(step), SequenceEnrollment.contact_id, literal("email"),
                   literal(NOW, t.c.sent_at.type), literal(date(2026, 11, 23), t.c.sent_on.type))))


def _bare_sends(db, n: int) -> None:
    """The same emails through mail_send.send alone, in transactions of 500 like the engine's."""
    actor = system_actor("bench")
    with db.read() as s:
        rows = s.execute(select(Contact.id, Contact.email).order_by(Contact.id)).all()
    for start in range(0, len(rows), 500):
        with db.write() as s:
            for contact_id, address in rows[start:start + 500]:
                mail_send.send(s, draft=mail_send.Draft(to=[address], subject="Hi", body="Hello, a word.",
                                                        contact_id=contact_id),
                               actor=actor, now=NOW, source="workflow", id_from=SMTP.sender)


def _fresh(url: str | None, workdir: Path, name: str):
    if url is None:
        return open_database(f"sqlite:///{workdir / name}.db")
    db = open_database(url)
    with db.engine.begin() as conn:  # a scratch database: emptied
        conn.execute(text("TRUNCATE contacts, sequences, email_templates, email_messages, activities, "
                          "audit_events, email_outbox, tasks RESTART IDENTITY CASCADE"))
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--url", help="a scratch PostgreSQL database (emptied); default: SQLite files in a temp dir")
    args = parser.parse_args()
    n = args.contacts
    workdir = Path(tempfile.mkdtemp(prefix="bench-seq-"))
    try:
        db = _fresh(args.url, workdir, "engine")
        sequence_id = _seed(db, n)
        t_enrol, result = _timed(lambda: _enrol(db, sequence_id))
        assert result.enrolled == n, result
        t_run, counts = _timed(lambda: runner.run_sequences(db, now=NOW, zone=UTC, smtp=SMTP, max_batches=10_000))
        assert counts.emails == n and not counts.errors, counts
        t_idle, idle = _timed(lambda: runner.run_sequences(db, now=NOW, zone=UTC, smtp=SMTP))
        assert idle.done == 0
        db.dispose()

        base = _fresh(args.url, workdir, "baseline")
        base_sequence = _seed(base, n)
        t_bare_enrol, _ = _timed(lambda: _bare_enrol(base, base_sequence))
        t_bare_claims, _ = _timed(lambda: _bare_claims(base))
        base.dispose()

        sends = _fresh(args.url, workdir, "sends")
        _seed(sends, n)
        t_sends, _ = _timed(lambda: _bare_sends(sends, n))
        sends.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    backend = "PostgreSQL" if args.url else "SQLite"
    print(f"{backend}, {n} contacts enrolled and their first step (an email) due")
    print(f"enrol from a list (sequences.enroll)     {t_enrol:8.3f} s   "
          f"bare INSERT...SELECT {t_bare_enrol:8.3f} s   ratio {t_enrol / t_bare_enrol:6.1f}x")
    print(f"engine: {n} email steps (run_sequences) {t_run:8.3f} s   "
          f"bare INSERT...SELECT of the claims {t_bare_claims:8.3f} s   ratio {t_run / t_bare_claims:6.1f}x")
    print(f"                                                    "
          f"{n} bare mail_send.send {t_sends:8.3f} s   ratio {t_run / t_sends:6.2f}x")
    print(f"engine run with nothing due               {t_idle * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
