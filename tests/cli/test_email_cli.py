"""`crm template` and `crm email send` (issue 21): templates added, listed, shown, edited, archived
and previewed (a missing merge field is one line); an email sent from a contact through a real
SMTP server on loopback (aiosmtpd), logged on the timeline; --dry-run and bad input write nothing."""

from __future__ import annotations

import email
import os
import socket
from pathlib import Path

import pytest

from tests.cli.conftest import row_counts

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_config():
    """A mail server on loopback, and config.toml's [smtp] naming it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    config = Path(os.environ["CRM_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "CRM <crm@team.example>"\n', encoding="utf-8")
    yield inbox
    server.stop()
    config.unlink()


def _people(crm) -> None:
    crm.ok("company", "add", "Acme")
    crm.ok("contact", "add", "--first", "Lee", "--last", "Park", "--email", "lee@acme.com", "--company", "Acme")
    crm.ok("deal", "add", "Acme renewal", "--amount", "5000", "--contact", "lee@acme.com")
    crm.ok("user", "edit", "ann", "--email", "ann@team.example", "--name", "Ann Admin")


def test_template_commands(crm):
    _people(crm)
    made = crm.json("template", "add", "Intro", "--subject", "Hello {{ contact.first_name }}",
                    "--body", "Hi {{ contact.first_name }}, about {{ deal.title | default('our work') }}")
    assert (made["name"], made["team"], made["version"]) == ("Intro", False, 1)
    crm.fails("template", "add", "intro", "--subject", "x", "--body", "y")  # the name is taken, in any case
    crm.fails("template", "add", "Bad", "--subject", "x", "--body", "{{ oops")
    assert [t["name"] for t in crm.json("template", "list")] == ["Intro"]
    assert "Hi {{ contact.first_name }}" in crm.ok("template", "show", "intro").stdout
    out = crm.ok("template", "preview", "Intro", "--contact", "lee@acme.com").stdout
    assert "Subject: Hello Lee" in out and "Hi Lee, about our work" in out
    assert "about Acme renewal" in crm.ok("template", "preview", "Intro", "--contact", "lee@acme.com",
                                          "--deal", "1").stdout
    crm.ok("template", "edit", "Intro", "--body", "{{ contact.custom.tier }}", "--version", "1")
    refused = crm.fails("template", "preview", "Intro", "--contact", "lee@acme.com")
    assert "contact.custom.tier has no value here" in refused.stderr
    crm.fails("template", "edit", "Intro", "--body", "x", "--version", "1")  # stale
    crm.ok("template", "archive", "Intro")
    assert crm.json("template", "list") == []
    crm.ok("template", "unarchive", "Intro")


def test_email_send_from_a_contact_is_sent_and_logged(crm, smtp_config):
    _people(crm)
    crm.ok("template", "add", "Intro", "--subject", "Hello {{ contact.first_name }}", "--body", "Hi. {{ me.name }}")
    sent = crm.json("email", "send", "--contact", "lee@acme.com", "--deal", "1", "--template", "Intro",
                    "--cc", "boss@acme.com")
    assert sent["state"] == "sent" and len(sent["activities"]) == 1
    [msg] = smtp_config.messages
    assert (msg["From"], msg["To"], msg["Cc"], msg["Subject"]) == ("Ann Admin <ann@team.example>", "lee@acme.com",
                                                                    "boss@acme.com", "Hello Lee")
    assert msg["Message-ID"] == f"<{sent['message_id']}>"
    timeline = crm.ok("contact", "show", "lee@acme.com").stdout
    assert "Hello Lee" in timeline
    reply = crm.json("email", "send", "--contact", "1", "--subject", "Re: Hello Lee", "--body", "One more thing",
                     "--in-reply-to", sent["message_id"])
    assert smtp_config.messages[-1]["In-Reply-To"] == f"<{sent['message_id']}>"
    assert reply["in_reply_to"] == sent["message_id"]


def test_a_dry_run_and_bad_input_write_nothing(crm, db_url, smtp_config, tmp_path):
    _people(crm)
    body = tmp_path / "body.txt"
    body.write_text("About {{ deal.title }}", encoding="utf-8")
    before = row_counts(db_url)
    out = crm.ok("email", "send", "--contact", "lee@acme.com", "--deal", "1", "--subject", "Proposal",
                 "--body-file", str(body), "--dry-run").stdout
    assert "About Acme renewal" in out and "dry run" in out
    crm.fails("email", "send", "--contact", "lee@acme.com", "--subject", "Proposal", "--body-file", str(body))
    crm.fails("email", "send", "--contact", "lee@acme.com", "--template", "nope")
    crm.fails("email", "send", "--contact", "lee@acme.com", "--subject", "x", "--body", "y", "--cc", "not-an-address")
    crm.fails("email", "send", "--contact", "lee@acme.com", "--subject", "x")  # no body
    assert row_counts(db_url) == before
    assert smtp_config.messages == []


def test_without_smtp_sending_is_refused_in_one_line(crm):
    _people(crm)
    refused = crm.fails("email", "send", "--contact", "lee@acme.com", "--subject", "x", "--body", "y")
    assert "email is off" in refused.stderr
