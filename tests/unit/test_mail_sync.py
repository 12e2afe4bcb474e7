"""`crm mail sync` against a real Dovecot IMAP server (tests/dovecot.py) on loopback: the Inbox
and Sent folders, incremental by UIDVALIDITY and the last UID, a message two mailboxes hold stored
once, bad mail logged and passed over, the team's BCC box, TLS required unless --insecure (and that
only on loopback), and the password in neither the database nor the log. SQLite and PostgreSQL.
Without Dovecot these tests skip and say why."""

from __future__ import annotations

import imaplib
from dataclasses import replace

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import SQLModel

from crm_tui.config import ImapConfig
from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, EmailMessage, MailFolder, MailSyncLog
from crm_tui.services import contacts
from crm_tui.services.mail_capture import imap, run, triage
from tests import dovecot
from tests.unit import mail_samples as s

pytestmark = pytest.mark.skipif(dovecot.unavailable() is not None, reason=dovecot.unavailable() or "")


@pytest.fixture
def server(tmp_path):
    running = dovecot.Dovecot.start(tmp_path / "dovecot")
    yield running
    running.stop()


@pytest.fixture
def account(server, monkeypatch):
    monkeypatch.setenv("CRM_IMAP_PASSWORD", server.password)
    config = ImapConfig(host=server.host, port=server.port, username=server.user, address=server.user)
    return imap.account_from(config, what="mail.imap", insecure=True)


@pytest.fixture
def ada(db, actor, now):
    with db.write() as session:
        return contacts.create_contact(session, data={"first_name": "Ada", "emails": ["ada@example.com"]},
                                       actor=actor, now=now)


def _count(db, model, *where):
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_sync_reads_inbox_and_sent_then_only_what_is_new(db, actor, now, server, account, ada):
    server.append("INBOX", s.plain(), s.multipart_with_attachment(), s.garbage(), s.bad_charset())
    server.append("Sent", s.plain(sender="sales@ourco.com", to="ada@example.com", message_id="<sent-1@ourco.com>",
                                  subject="Re: Hello", in_reply_to="<plain-1@example.com>"))
    report = run.sync(db, account, actor=actor, now=now)
    assert report.error is None
    assert [(f.folder, f.capture.read, f.capture.stored) for f in report.folders] == [("INBOX", 4, 3), ("Sent", 1, 1)]
    assert len(report.total.errors) == 1 and "UID 3" in report.total.errors[0]
    with db.read() as session:
        timeline = session.execute(select(Activity.subject, Activity.direction).where(Activity.contact_id == ada.id)
                                   .order_by(Activity.subject)).all()
        assert timeline == [("Hello", "inbound"), ("Re: Hello", "outbound")]
        sent = session.execute(select(EmailMessage.thread_key, EmailMessage.source, EmailMessage.user_id)
                               .where(EmailMessage.message_id == "sent-1@ourco.com")).one()
        assert tuple(sent) == ("plain-1@example.com", "sync", actor.user_id)
        folders = dict(session.execute(select(MailFolder.folder, MailFolder.last_uid)).all())
        assert folders == {"INBOX": 4, "Sent": 1}
        assert session.scalar(select(func.count()).select_from(MailSyncLog).where(MailSyncLog.level == "error")) == 1

    opened: list[str] = []

    def connect(account):  # a re-sync with nothing new asks STATUS and opens no folder
        client = imap.connect(account)
        select_folder = client.select
        client.select = lambda folder, readonly=False: opened.append(folder) or select_folder(folder, readonly)
        return client

    again = run.sync(db, account, actor=actor, now=now, connect=connect)
    assert again.total.read == 0 and again.error is None and opened == []
    assert [(f.folder, f.last_uid) for f in again.folders] == [("INBOX", 4), ("Sent", 1)]

    server.append("INBOX", s.plain(message_id="<later@example.com>", subject="Later"))
    later = run.sync(db, account, actor=actor, now=now, connect=connect)
    assert opened == ['"INBOX"']
    assert (later.total.read, later.total.stored) == (1, 1)
    assert _count(db, Activity, Activity.contact_id == ada.id) == 3


def test_a_renumbered_folder_is_read_again_and_stores_nothing_twice(db, actor, now, server, account, ada):
    server.append("Sent", s.plain(message_id="<a@x.com>"))
    run.sync(db, account, actor=actor, now=now)
    server.recreate_folder("Sent")
    server.append("Sent", s.plain(message_id="<a@x.com>"), s.plain(message_id="<b@x.com>", subject="B"))
    report = run.sync(db, account, actor=actor, now=now)
    sent = report.folders[1]
    assert sent.reset and (sent.capture.read, sent.capture.stored, sent.capture.known) == (2, 1, 1)
    assert _count(db, EmailMessage) == 2


def test_one_message_in_two_mailboxes_is_stored_once_and_the_team_box_belongs_to_no_one(db, actor, now, server,
                                                                                       account, ada):
    server.append("INBOX", s.plain(to="ada@example.com, sales@ourco.com", message_id="<shared@x.com>"))
    run.sync(db, account, actor=actor, now=now)
    # the team box: here the same mailbox read again from the start, as a second mailbox would be
    team = replace(account, folders=("INBOX",), address="crm@ourco.com")
    with db.write() as session:
        session.execute(sa.delete(MailFolder))
    report = run.sync(db, team, actor=actor, team=True, now=now)
    assert (report.total.read, report.total.stored, report.total.known) == (1, 0, 1)
    assert _count(db, EmailMessage) == 1 and _count(db, Activity, Activity.email_id.is_not(None)) == 1


def test_the_team_box_stores_mail_under_no_user_and_triages_strangers(db, actor, now, server, account):
    server.append("INBOX", s.plain(sender="Stranger <who@unknown.com>", to="crm@ourco.com",
                                   message_id="<bcc-1@x.com>"))
    team = replace(account, address="crm@ourco.com", folders=("INBOX",))
    run.sync(db, team, actor=actor, team=True, now=now)
    with db.read() as session:
        assert session.scalar(select(EmailMessage.user_id)) is None
        assert [r.address for r in triage.triage_page(session).items] == ["who@unknown.com"]


def test_the_password_is_in_neither_the_database_nor_the_log(db, db_url, actor, now, server, account, ada):
    server.append("INBOX", s.plain(), s.garbage())
    run.sync(db, account, actor=actor, now=now)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    assert server.password not in repr(tuple(row)), table.name
    finally:
        engine.dispose()
    assert server.password not in server.log()
    assert server.password not in repr(account)


def test_a_wrong_password_is_one_clear_error(db, actor, now, server, account):
    wrong = replace(account, password="not-it")
    with pytest.raises(imap.ImapError, match="refused the login") as caught:
        run.sync(db, wrong, actor=actor, now=now)
    assert "not-it" not in caught.value.message


def test_tls_is_required_unless_insecure_and_insecure_only_on_loopback(server, monkeypatch):
    monkeypatch.setenv("CRM_IMAP_PASSWORD", server.password)
    config = ImapConfig(host=server.host, port=server.port, username=server.user)
    assert imap.account_from(config, what="mail.imap").security == "ssl"
    assert imap.account_from(replace(config, port=143), what="mail.imap").security == "starttls"
    with pytest.raises(imap.ImapError, match="cannot reach"):  # this server speaks no TLS
        imap.connect(replace(imap.account_from(config, what="mail.imap"), timeout=5))
    with pytest.raises(imap.ImapError, match="cannot reach"):
        imap.connect(replace(imap.account_from(config, what="mail.imap"), security="starttls", timeout=5))
    with pytest.raises(InvalidInput, match="only on this machine"):
        imap.account_from(replace(config, host="imap.example.com"), what="mail.imap", insecure=True)
    with pytest.raises(InvalidInput, match="set host and username"):
        imap.account_from(None, what="mail.imap")
    monkeypatch.delenv("CRM_IMAP_PASSWORD")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with pytest.raises(InvalidInput, match="no IMAP password"):
        imap.connect(imap.account_from(config, what="mail.imap", insecure=True))


def test_imap_fetch_in_chunks_skips_nothing(server, account):
    server.append("INBOX", *(s.plain(message_id=f"<c{n}@x.com>", subject=f"n{n}") for n in range(7)))
    client = imap.connect(account)
    try:
        imap.open_folder(client, "INBOX")
        uids = imap.uids_after(client, 2)
        assert uids == [3, 4, 5, 6, 7] and imap.uids_after(client, 7) == []
        got = imap.fetch(client, "INBOX", uids, max_bytes=10_000_000)
        assert [r.uid for r in got] == uids and b"Subject: n6" in got[-1].data
        small = imap.fetch(client, "INBOX", [1], max_bytes=10)
        assert small[0].too_large and b"Subject: n0" in small[0].data and b"let's talk" not in small[0].data
    finally:
        imap.close(client)
    assert isinstance(client, imaplib.IMAP4)


def test_the_apps_timer_sync_reports_a_failure_instead_of_raising(db, actor, now, server, monkeypatch):
    from crm_tui.config import MailConfig, Settings
    from crm_tui.workflows.mail_sync import app_sync

    monkeypatch.setenv("CRM_IMAP_PASSWORD", server.password)
    assert "set host and username" in app_sync(db, actor=actor, settings=Settings(), now=now).error
    config = ImapConfig(host=server.host, port=server.port, username=server.user)
    settings = Settings(mail=MailConfig(imap=config, sync_minutes=5))
    report = app_sync(db, actor=actor, settings=settings, now=now)  # the app never reads mail without TLS
    assert "cannot reach the IMAP server" in report.error and report.folders == []


def test_sync_over_imaps_and_starttls_with_the_certificate_checked(db, actor, now, tmp_path, monkeypatch, ada):
    """TLS, as a real mailbox is read: IMAPS and STARTTLS, the server's (self-signed) certificate
    trusted through ca_file; without it the certificate is refused."""
    server = dovecot.Dovecot.start(tmp_path / "tls", tls=True)
    try:
        server.append("INBOX", s.plain())
        monkeypatch.setenv("CRM_IMAP_PASSWORD", server.password)
        imaps = ImapConfig(host=server.host, port=server.tls_port, username=server.user, security="ssl",
                           ca_file=server.ca_file)
        report = run.sync(db, imap.account_from(imaps, what="mail.imap"), actor=actor, now=now)
        assert report.error is None and report.total.stored == 1
        starttls = replace(imaps, port=server.port, security="starttls")
        assert run.sync(db, imap.account_from(starttls, what="mail.imap"), actor=actor, now=now).error is None
        with pytest.raises(imap.ImapError, match="cannot reach"):  # the certificate is not trusted
            imap.connect(imap.account_from(replace(imaps, ca_file=None), what="mail.imap"))
    finally:
        server.stop()
    assert _count(db, Activity, Activity.contact_id == ada.id) == 1
