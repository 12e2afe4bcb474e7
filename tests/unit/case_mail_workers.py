"""A child process of the email-to-case concurrency test (tests/unit/test_case_mail.py): module
level, so a child started by tests/unit/proc_workers can import it by name."""

from __future__ import annotations


def ingest_support_mail(url: str, raw: bytes, actor, now, barrier, queue) -> None:
    """Ingest one message to the support address at the same moment as the siblings; report
    ("ok", stored, cases, acknowledged) or ("error", "Type: message")."""
    from crm_tui.config import Settings, SupportConfig
    from crm_tui.db import open_database
    from crm_tui.services.mail_capture import run
    from crm_tui.services.mail_capture.capture import RawMail

    try:
        db = open_database(url, migrate=False)
        settings = Settings(support=SupportConfig(addresses=("support@ourco.com",), team="Support"))
        barrier.wait(timeout=60)
        report = run.ingest(db, [RawMail(raw, "m.eml")], actor=actor, now=now, settings=settings)
        db.dispose()
        queue.put(("ok", report.stored, report.cases, report.acknowledged))
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what we report
        queue.put(("error", f"{exc.__class__.__name__}: {exc}"))
