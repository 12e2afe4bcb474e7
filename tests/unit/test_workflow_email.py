"""Email through the outbox, with a real SMTP server on loopback (aiosmtpd): delivered after the
firing commits, kept queued while the server is down, delivered exactly once after a restart."""

from __future__ import annotations

import email
import socket
from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from crm_tui.config import Settings, parse_settings
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import deals
from crm_tui.workflows import runner
from crm_tui.workflows.email import SmtpSettings, smtp_settings
from crm_tui.workflows.rules import parse_rules
from tests.unit.test_workflow_engine import _deal

aiosmtpd = pytest.importorskip("aiosmtpd.controller")

RULES = parse_rules("""
[[rule]]
name = "won-thanks"
trigger = { type = "deal_won" }

[[rule.actions]]
type = "send_email"
to = "contact"
subject = "Thank you, {contact.first_name}"
body = "Welcome aboard: {deal.title}."
""")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _statuses(db) -> list[tuple[str, int]]:
    with db.read() as s:
        return [(e.status, e.attempts) for e in s.scalars(select(EmailOutbox).order_by(EmailOutbox.id))]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_email_is_sent_after_commit_waits_while_smtp_is_down_and_is_never_sent_twice(db, actor, now):
    inbox, port = Inbox(), _free_port()
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender="CRM <crm@example.com>", starttls=False, timeout=5)
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    first, second = _deal(db, actor, now - 10 * timedelta(days=1), title="First"), _deal(db, actor, now, title="Second")
    try:
        with db.write() as s:
            deals.mark_won(s, deal_id=first.id, actor=actor, now=now)
        report = runner.run(db, rules=RULES, now=now, zone=timezone.utc, smtp=smtp)
        assert len(report.email.sent) == 1
        assert [(m["To"], m["Subject"]) for m in inbox.messages] == [("ann@acme.com", "Thank you, Ann")]
        assert "Welcome aboard: First." in inbox.messages[0].get_payload()
    finally:
        server.stop()

    with db.write() as s:
        deals.mark_won(s, deal_id=second.id, actor=actor, now=now)
    for minutes in (1, 2):  # server down: the firing commits, the email waits, unclaimed
        report = runner.run(db, rules=RULES, now=now + timedelta(minutes=minutes), zone=timezone.utc, smtp=smtp)
        assert report.email.deferred == 1 and "unreachable" in report.email.error
    assert len(report.fired) == 0  # the second deal fired on the first of those runs
    assert _statuses(db) == [("sent", 1), ("queued", 0)]

    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        for minutes in (3, 4):
            runner.run(db, rules=RULES, now=now + timedelta(minutes=minutes), zone=timezone.utc, smtp=smtp)
    finally:
        server.stop()
    assert [m["Subject"] for m in inbox.messages] == ["Thank you, Ann", "Thank you, Ann"]
    assert len({m["Message-ID"] for m in inbox.messages}) == 2
    assert _statuses(db) == [("sent", 1), ("sent", 1)]


def test_smtp_settings_come_from_config_with_the_password_from_the_environment(monkeypatch):
    assert smtp_settings(Settings()) is None  # off unless configured
    monkeypatch.setenv("MY_SMTP_SECRET", "hunter2")
    smtp = smtp_settings(parse_settings({"smtp": {"host": "mail.example.com", "port": 465, "from": "crm@example.com",
                                                "username": "crm", "password_env": "MY_SMTP_SECRET"}}))
    assert (smtp.host, smtp.port, smtp.ssl, smtp.starttls, smtp.password) == ("mail.example.com", 465, True, False,
                                                                             "hunter2")
    assert "hunter2" not in repr(smtp)


def test_an_email_a_rule_sends_to_a_customer_is_on_the_timeline(db, actor, now):
    """Issue 17 #18: each email a rule sends is an email activity on its contact and deal, logged in
    the transaction that queues it; an email to a teammate is not."""
    from crm_tui.services import activities

    internal = parse_rules("""
[[rule]]
name = "tell-the-owner"
trigger = { type = "deal_won" }

[[rule.actions]]
type = "send_email"
to = "owner"
subject = "You won {deal.title}"
body = "Well done."
""")
    from crm_tui.services import users

    deal = _deal(db, actor, now - timedelta(days=3), title="Orbit")
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"email": "ann@team.example"}, actor=actor, now=now)
        deals.mark_won(s, deal_id=deal.id, actor=actor, now=now)
    smtp = SmtpSettings(host="127.0.0.1", port=_free_port(), sender="crm@example.com", starttls=False, timeout=1)
    runner.run(db, rules=RulesWithBoth(RULES, internal), now=now, zone=timezone.utc, smtp=smtp)
    with db.read() as s:
        emails = [a for a in activities.timeline(s, deal_id=deal.id).items if a.kind == "email"]
        contact_emails = [a for a in activities.timeline(s, contact_id=deal.contact_id).items if a.kind == "email"]
        assert s.scalar(select(EmailOutbox.id).where(EmailOutbox.subject == "You won Orbit")) is not None
    assert [(a.subject, a.direction, a.body) for a in emails] == [("Thank you, Ann", "outbound", "Welcome aboard: Orbit.")]
    assert [a.id for a in contact_emails] == [emails[0].id]
    assert emails[0].outcome == "sent by rule won-thanks"


def RulesWithBoth(*sets):  # noqa: N802 - reads as a value
    from crm_tui.workflows.rules import RuleSet

    return RuleSet(rules=[r for each in sets for r in each.rules])
