"""Email to case from the command line: `crm mail ingest` (files and a pipe) with `[support]` in
config.toml opens a case, sends its acknowledgement through a real SMTP server on loopback
(aiosmtpd) at once, threads a reply onto the case, does nothing twice, and `crm case list` shows it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_tui.cli.main import app
from tests.cli.test_email_cli import Inbox  # noqa: F401 - the SMTP fixture's handler
from tests.unit.test_case_mail import SUPPORT, mail

aiosmtpd = pytest.importorskip("aiosmtpd.controller")

SUPPORT_TABLE = f'[support]\naddresses = ["{SUPPORT}"]\nteam = "Support"\n'


def _config(text: str) -> None:
    config = Path(os.environ["CRM_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")


@pytest.fixture
def smtp():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    _config(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "CRM <crm@ourco.com>"\n\n{SUPPORT_TABLE}')
    yield inbox
    server.stop()


def test_support_mail_ingested_opens_a_case_acknowledged_at_once_and_a_piped_reply_joins_it(crm, smtp, tmp_path):
    (tmp_path / "a.eml").write_bytes(mail())
    result = crm.ok("mail", "ingest", str(tmp_path / "a.eml"))
    assert "1 new case (1 acknowledged)" in result.stdout
    [ack] = smtp.messages
    assert ack["Subject"] == "Re: Printer on fire [#1]" and ack["To"] == "zoe@newco.com"
    assert ack["From"] == f"Support <{SUPPORT}>" and ack["In-Reply-To"] == "<m1@newco.com>"
    assert ack["Auto-Submitted"] == "auto-replied"
    again = crm.ok("mail", "ingest", str(tmp_path / "a.eml"))
    assert "stored 0 new (1 already stored)" in again.stdout and "case" not in again.stdout
    piped = crm.runner.invoke(app, ["--db", crm.db_url, "--user", "ann", "mail", "ingest", "-"],
                              input=mail(message_id="<m2@newco.com>", subject="Re: Printer on fire [#1]",
                                         body="Still burning."))
    assert piped.exit_code == 0 and "1 added to case" in piped.stdout, piped.output
    assert len(smtp.messages) == 1
    [row] = crm.json("case", "list")["items"]
    assert (row["id"], row["subject"], row["team"], row["status"]) == (1, "Printer on fire", "Support", "new")
    assert "Still burning." in crm.ok("case", "show", "1").stdout


def test_without_smtp_the_acknowledgement_waits_in_the_outbox(crm, tmp_path):
    _config(SUPPORT_TABLE)
    (tmp_path / "a.eml").write_bytes(mail())
    result = crm.ok("mail", "ingest", str(tmp_path / "a.eml"))
    assert "1 new case (1 acknowledged)" in result.stdout
    assert "note: 1 case acknowledgement(s) queued: [smtp] is not set" in result.stderr
