"""Surveys benchmark: an NPS run to N customers (default 10k), on a fresh SQLite file (or --url, a
scratch PostgreSQL database that is emptied first).

    .venv/bin/python bench/bench_surveys.py [--contacts 10000] [--url URL]

Prints, each beside a baseline measured in the same run on the same rows:
- the run (services/survey_nps.send_batch in batches of 200, one transaction each: the segment's
  keyset page, the INSERT ... SELECT of the surveys, their tokens, each email filled and queued),
  vs N bare mail_send.send calls of the same email (the part of a survey that is the outbox's);
- the dry run's count (one aggregate), and a second run with everyone surveyed already (nothing to do);
- score_from_reply finding a survey by its email among N (ix_surveys_email), vs a primary-key read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import crm_tui.models  # noqa: E402,F401 - registers every table
from crm_tui.config import Settings, SupportConfig  # noqa: E402
from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import Contact, ContactEmail, EmailMessage  # noqa: E402
from crm_tui.models.case import Survey  # noqa: E402
from crm_tui.services import mail_send, survey_nps, surveys  # noqa: E402
from crm_tui.services.common import system_actor  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
ENV = "CRM_BENCH_SURVEY_KEY"


def _seed(db, n: int) -> None:
    rows = [{"first_name": f"C{i}", "last_name": "Bench", "full_name": f"C{i} Bench", "sort_name": f"c{i} bench",
             "email": f"c{i}@bench.example", "lifecycle": "customer", "custom": {}, "search_text": "",
             "version": 1, "created_at": NOW, "updated_at": NOW} for i in range(n)]
    with db.write() as s:
        for start in range(0, n, 5000):
            s.execute(insert(Contact), rows[start:start + 5000])
        s.execute(insert(ContactEmail).from_select(["contact_id", "email", "position"],
                                                   select(Contact.id, Contact.email, 0)))


def _run(db, actor, settings, run_key: str) -> int:
    sent, after = 0, 0
    while True:
        with db.write() as s:
            conditions = survey_nps.segment(s, actor=actor, lifecycle=["customer"], now=NOW)
            batch = survey_nps.send_batch(s, actor=actor, run_key=run_key, conditions=conditions,
                                          settings=settings, now=NOW, after=after)
        sent, after = sent + batch.sent, batch.after
        if batch.done:
            return sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--url")
    args = parser.parse_args()
    os.environ[ENV] = "b" * 32
    settings = Settings(support=SupportConfig(survey_url="https://crm.example.com", secret_env=ENV,
                                              addresses=("help@bench.example",)))
    tmp = None
    if args.url:
        url = args.url
        wipe = open_database(url, create=True)
        with wipe.write() as s:
            s.execute(text("TRUNCATE contacts, surveys, email_messages, email_outbox, activities, audit_events "
                           "RESTART IDENTITY CASCADE"))
        wipe.dispose()
    else:
        tmp = tempfile.mkdtemp()
        url = f"sqlite:///{tmp}/bench.db"
    db = open_database(url, create=True)
    actor = system_actor("bench")
    try:
        _seed(db, args.contacts)
        n = args.contacts

        started = time.perf_counter()
        with db.read() as s:
            plan = survey_nps.plan(s, actor=actor, run_key="nps-bench",
                                   conditions=survey_nps.segment(s, actor=actor, lifecycle=["customer"], now=NOW))
        counted = time.perf_counter() - started
        assert plan.to_send == n, plan

        started = time.perf_counter()
        sent = _run(db, actor, settings, "nps-bench")
        run = time.perf_counter() - started
        assert sent == n, sent

        started = time.perf_counter()
        assert _run(db, actor, settings, "nps-bench") == 0
        idle = time.perf_counter() - started

        # the baseline: the same emails through mail_send alone, 200 a transaction
        body = survey_nps.NPS_BODY
        started = time.perf_counter()
        ids = list(range(1, n + 1))
        for start in range(0, n, 200):
            with db.write() as s:
                for contact_id in ids[start:start + 200]:
                    mail_send.send(s, draft=mail_send.Draft(to=[f"c{contact_id - 1}@bench.example"],
                                                            subject="How likely", body=body, contact_id=contact_id),
                                   actor=actor, now=NOW, source="workflow", from_addr="help@bench.example")
        bare = time.perf_counter() - started

        with db.read() as s:
            message_id = s.scalar(select(EmailMessage.message_id).join(Survey, Survey.email_id == EmailMessage.id)
                                  .order_by(Survey.id.desc()).limit(1))
            survey_id = s.scalar(select(Survey.id).order_by(Survey.id.desc()).limit(1))
        reply = EmailMessage(message_id="bench-reply@x", in_reply_to=message_id, thread_key=message_id,
                             direction="in", from_addr="c@bench.example", sent_at=NOW, body="not a number",
                             source="sync")
        with db.read() as s:
            started = time.perf_counter()
            for _ in range(100):
                surveys.score_from_reply(s, reply, now=NOW)
            found = (time.perf_counter() - started) / 100
            started = time.perf_counter()
            for _ in range(100):
                s.execute(select(Survey.id).where(Survey.id == survey_id)).first()
            by_id = (time.perf_counter() - started) / 100

        backend = "postgresql" if args.url else "sqlite"
        print(f"{backend}, {n} contacts")
        print(f"NPS run: {run:.1f} s ({run / n * 1000:.2f} ms a contact) vs bare mail_send.send: {bare:.1f} s "
              f"({bare / n * 1000:.2f} ms); ratio {run / bare:.2f}")
        print(f"dry-run count: {counted * 1000:.0f} ms; a run with nothing left: {idle * 1000:.0f} ms")
        print(f"a reply finds its survey: {found * 1000:.2f} ms vs a primary-key read {by_id * 1000:.2f} ms")
    finally:
        db.dispose()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
