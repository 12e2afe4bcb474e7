"""Mail capture without a server: reading real-world messages (built with the stdlib `email`
package), ingesting files, an mbox, a Maildir and a pipe, matching contacts, Triage and the ignore
list, and bad mail that never stops a run. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import mailbox
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Activity, AuditEvent, Contact, EmailMessage, MailSyncLog, MailTriage
from crm_tui.services import contacts, users
from crm_tui.services.mail_capture import run, sources, triage
from crm_tui.services.mail_capture.capture import RawMail
from crm_tui.services.mail_capture.parse import MailError, parse_message
from tests.unit import mail_samples as s

RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def _parse(raw: bytes):
    return parse_message(raw, received_at=RECEIVED)


# --- reading one message -----------------------------------------------------------------------

def test_a_multipart_message_gives_its_plain_text_addresses_and_attachment_names_and_sizes():
    mail = _parse(s.multipart_with_attachment())
    assert mail.subject == "Quote attached" and mail.body == "Plain version of the quote."
    assert (mail.sender.email, mail.sender.name) == ("bob@acme.io", "Bob Stone")
    assert [a.email for a in mail.to] == ["ann@ourco.com", "carol@acme.io"]
    assert [a.email for a in mail.cc] == ["dave@elsewhere.org"]
    assert mail.attachments == [{"name": "quote.pdf", "size": 3009, "type": "application/pdf"}]
    assert mail.message_id == "multi-1@acme.io" and mail.sent_at == s.WHEN and not mail.problems


def test_an_html_only_message_is_read_as_text_without_its_scripts_or_styles():
    mail = _parse(s.html_only())
    assert mail.body == "Big sale\nEverything half price.\nToday only."


def test_encoded_words_and_raw_8bit_headers_are_decoded():
    mail = _parse(s.encoded_words())
    assert mail.subject == "Réunion demain✓" and mail.sender.name == "José Núñez" and mail.body == "Ça va ?"
    assert mail.sent_at == datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)  # +0100 read as such
    eight = _parse(s.eight_bit_header())
    assert eight.subject == "Grüße" and eight.sender.name == "Müller"
    # a comma inside an encoded name does not split the address list
    comma = _parse(b"From: =?utf-8?q?Lovelace=2C_Ada?= <ada@example.com>\r\nTo: =?utf-8?q?B=C3=B6b?= <b@x.com>, "
                   b"c@x.com\r\nSubject: x\r\nMessage-ID: <c@x.com>\r\n\r\nhi\r\n")
    assert (comma.sender.email, comma.sender.name) == ("ada@example.com", "Lovelace, Ada")
    assert [(a.email, a.name) for a in comma.to] == [("b@x.com", "Böb"), ("c@x.com", "")]


def test_a_bad_charset_is_read_as_well_as_it_can_be_and_noted():
    mail = _parse(s.bad_charset())
    assert mail.body == "Café olé"
    assert any("x-no-such-charset" in p for p in mail.problems)


def test_no_date_takes_the_received_time_and_no_message_id_a_stable_synthetic_one():
    one, two = _parse(s.no_date_no_id()), _parse(s.no_date_no_id())
    assert one.sent_at == RECEIVED and one.synthetic_id
    assert one.message_id == two.message_id and one.message_id.endswith("@no-message-id.crm-tui")
    other = _parse(s.plain(subject="Something else", when=None, message_id=None))
    assert other.message_id != one.message_id


def test_a_forwarded_message_is_one_attachment_and_its_text_is_not_the_body():
    mail = _parse(s.forwarded())
    assert mail.body == "See below."
    assert [a["name"] for a in mail.attachments] == ["Hello.eml"]


def test_threading_headers_are_read():
    mail = _parse(s.plain(message_id="<r2@x.com>", in_reply_to="<r1@x.com>", references="<r0@x.com> <r1@x.com>"))
    assert (mail.in_reply_to, mail.references, mail.thread_key) == ("r1@x.com", ["r0@x.com", "r1@x.com"], "r0@x.com")


def test_broken_mime_keeps_what_it_can_and_garbage_is_an_error():
    mail = _parse(s.broken_mime())
    assert mail.body == "the visible part" and any("malformed MIME" in p for p in mail.problems)
    with pytest.raises(MailError):
        _parse(s.garbage())
    with pytest.raises(MailError):
        _parse(b"")


# --- ingest ------------------------------------------------------------------------------------

@pytest.fixture
def people(db, actor, now):
    with db.write() as session:
        users.create_user(session, data={"login": "sam", "name": "Sam", "email": "Sam@OurCo.com"}, actor=actor,
                          now=now)
        ada = contacts.create_contact(session, data={"first_name": "Ada", "emails": ["ada@example.com"]},
                                      actor=actor, now=now)
        carol = contacts.create_contact(session, data={"first_name": "Carol", "emails": ["carol@acme.io"]},
                                        actor=actor, now=now)
    return ada, carol


def _count(db, model, *where):
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _ingest(db, actor, now, raws):
    return run.ingest(db, raws, actor=actor, extra_addresses=["ann@ourco.com"], now=now)


def _tree(msg) -> list:
    out = [msg.get_unixfrom(), list(msg.raw_items()), [type(d).__name__ for d in msg.defects], msg.get_default_type()]
    return out + ([[_tree(p) for p in msg.get_payload()]] if msg.is_multipart() else [msg.get_payload()])


def _odd_shapes() -> list[bytes]:
    head = b"From: a@x.com\r\nTo: b@y.com\r\nSubject: s\r\nMessage-ID: <m@x.com>\r\n"
    mixed = b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    return [
        head + mixed + b"preamble\r\n--b1\r\n\r\nno headers\r\n--b1 \t\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n"
        b"\r\n--b1--  \r\nepilogue\r\n--b1\r\n",  # a part without headers, spaces after boundaries, epilogue
        head + mixed + b"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n"
        b"Content-Type: text/plain\r\n\r\ninner\r\n--b2--\r\n--b1--\r\n",  # nested
        head + mixed + b"--b1\r\nContent-Type: text/plain\r\n\r\none\r\n--b1\r\n--b1\r\n\r\ntwo\r\n--b1--\r\n",  # doubled
        head + mixed + b"--b1\r\nContent-Type: text/plain\r\n\r\nno close\r\n",
        head + mixed + b"--b1--\r\n",  # closed before it opens
        head + mixed + b"--b1x\r\nnot a boundary\r\n--b1\r\n\r\nx\r\n--b1--",  # a longer line, no final break
        head + b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
        head + b"X-Folded: one\r\n two\r\n\tthree\r\n\r\nbody\n\rbare CR\r\n",
        head + b"Bad header line\r\n\r\nbody\r\n",
        b" continued first\r\n" + head + b"\r\nbody",
        b"From someone Mon Nov 23 10:00:00 2026\r\n" + head + b"\r\nbody",
        head + b"Subject: \xe9t\xe9\r\n\r\n8-bit \xff body\x0cwith a form feed\r\n",
        head + b"No blank line after the headers",
    ]


@pytest.mark.parametrize("crlf", [True, False])
def test_the_fast_mime_reader_builds_the_tree_the_stdlib_parser_builds(crlf):
    """parse.message_tree splits well-formed messages itself, and hands the rest to the stdlib parser:
    the same tree (headers, payloads, defects) either way, for every sample and every odd shape."""
    from email import policy
    from email.parser import BytesParser

    from crm_tui.services.mail_capture.parse import message_tree

    samples = [s.plain(), s.multipart_with_attachment(), s.html_only(), s.encoded_words(), s.bad_charset(),
               s.eight_bit_header(), s.no_date_no_id(), s.forwarded(), s.broken_mime(), s.large_attachment(1),
               *_odd_shapes()]
    for raw in samples:
        raw = raw if crlf else raw.replace(b"\r\n", b"\n")
        assert _tree(message_tree(raw)) == _tree(BytesParser(policy=policy.compat32).parsebytes(raw)), raw[:200]


def test_ingest_links_matched_mail_and_triages_the_rest_and_bad_mail_never_stops_it(db, actor, now, people):
    ada, carol = people
    raws = [RawMail(s.plain(), "plain.eml"), RawMail(s.garbage(), "garbage.eml"),
            RawMail(s.multipart_with_attachment(), "multi.eml"), RawMail(s.bad_charset(), "charset.eml"),
            RawMail(s.plain(subject="dup"), "again.eml"), RawMail(s.no_date_no_id(), "nodate.eml")]
    report = _ingest(db, actor, now, raws)
    assert report.read == 6 and report.stored == 4 and len(report.errors) == 1
    assert "garbage.eml" in report.errors[0]
    assert any("duplicate Message-ID" in w for w in report.warnings)
    with db.read() as session:
        timeline = session.execute(select(Activity.contact_id, Activity.subject, Activity.direction)
                                   .where(Activity.email_id.is_not(None)).order_by(Activity.contact_id)).all()
        assert timeline == [(ada.id, "Hello", "inbound"), (carol.id, "Quote attached", "inbound")]
        stored = session.scalars(select(EmailMessage).where(EmailMessage.message_id == "multi-1@acme.io")).one()
        assert stored.source == "ingest" and stored.attachments[0]["name"] == "quote.pdf"
        # the team's own address is never triaged; Bob (sender of a matched message) is not either
        waiting = {r.address for r in triage.triage_page(session).items}
        assert waiting == {"kim@example.kr", "eve@example.com"}
        logged = session.execute(select(MailSyncLog.level, MailSyncLog.folder)).all()
        assert ("error", "garbage.eml") in logged and ("warning", "charset.eml") in logged
    again = _ingest(db, actor, now, [RawMail(s.plain(), "plain.eml")])
    assert (again.stored, again.known, again.activities) == (0, 1, 0)


def test_a_message_from_the_team_is_outbound(db, actor, now, people):
    """The team's addresses: every user's (Sam's, in any case), and those the config adds (Ann's)."""
    ada, _ = people
    _ingest(db, actor, now, [RawMail(s.plain(sender="Ann <ann@ourco.com>", to="ada@example.com",
                                              message_id="<out-1@ourco.com>"), "out.eml"),
                             RawMail(s.plain(sender="sam@ourco.com", to="ada@example.com, newbie@else.com",
                                             message_id="<out-2@ourco.com>"), "out2.eml")])
    with db.read() as session:
        rows = session.execute(select(Activity.direction, Activity.contact_id)
                               .where(Activity.email_id.is_not(None))).all()
        assert triage.triage_count(session) == 0  # newbie was on a matched message
    assert rows == [("outbound", ada.id)] * 2


def test_a_50_mb_attachment_is_stored_without_its_body_and_noted(db, actor, now, people):
    raw = s.large_attachment(50)
    report = _ingest(db, actor, now, sources.read_stream(io.BytesIO(raw)))
    assert report.stored == 1 and any("over the size limit" in w for w in report.warnings)
    with db.read() as session:
        stored = session.execute(select(EmailMessage.subject, EmailMessage.body, EmailMessage.size)).one()
    assert tuple(stored) == ("Big file", None, len(raw))


def test_files_an_mbox_a_maildir_and_a_pipe_are_all_read(db, actor, now, people, tmp_path):
    (tmp_path / "one.eml").write_bytes(s.plain())
    box = mailbox.mbox(tmp_path / "box.mbox")
    for raw in (s.html_only(), s.encoded_words()):
        box.add(raw)
    box.close()
    md = mailbox.Maildir(tmp_path / "md")
    md.add(s.multipart_with_attachment())
    md.close()
    with pytest.raises(InvalidInput):
        sources.check_paths([tmp_path / "nope.eml"])
    (tmp_path / "plain-dir").mkdir()
    with pytest.raises(InvalidInput, match="not a Maildir"):
        sources.check_paths([tmp_path / "plain-dir"])
    paths = sources.check_paths([tmp_path / "one.eml", tmp_path / "box.mbox", tmp_path / "md"])
    report = _ingest(db, actor, now, sources.read_paths(paths))
    assert (report.read, report.stored, report.errors) == (4, 4, [])
    # a pipe: one message (mutt's pipe-message), or an mbox with ">From " quoting
    piped = s.plain(message_id="<pipe-1@x.com>", body="From here on\n")
    mbox_text = b"From a@b Sat Jan  1 00:00:00 2026\n" + s.plain(message_id="<pipe-2@x.com>") + \
        b"\nFrom a@b Sat Jan  1 00:00:00 2026\n" + s.plain(message_id="<pipe-3@x.com>", body=">From the top\n")
    assert [m.data for m in sources.read_stream(io.BytesIO(piped))] == [piped]
    split = list(sources.read_stream(io.BytesIO(mbox_text)))
    assert len(split) == 2 and b"\nFrom the top" in split[1].data
    assert _ingest(db, actor, now, split).stored == 2


# --- triage --------------------------------------------------------------------------------------

def test_triage_makes_a_lead_links_a_contact_and_ignores_an_address_or_a_domain(db, actor, now, people):
    ada, _ = people
    raws = [RawMail(s.plain(sender="Zoe Park <zoe@newco.com>", message_id="<t1@newco.com>"), "a"),
            RawMail(s.plain(sender="Zoe Park <zoe@newco.com>", message_id="<t2@newco.com>", subject="Again"), "b"),
            RawMail(s.plain(sender="ada.private@gmail.com", message_id="<t3@gmail.com>"), "c"),
            RawMail(s.plain(sender="noreply@spam.org", message_id="<t4@spam.org>"), "d"),
            RawMail(s.plain(sender="promo@spam.org", message_id="<t5@spam.org>"), "e"),
            RawMail(s.plain(sender="bot@alerts.net", message_id="<t6@alerts.net>"), "f")]
    _ingest(db, actor, now, raws)
    with db.read() as session:
        page = triage.triage_page(session, limit=2)
        assert [r.address for r in page.items] == ["ada.private@gmail.com", "bot@alerts.net"]
        rest = triage.triage_page(session, after=page.next_cursor, limit=10)
        assert [r.address for r in rest.items] == ["noreply@spam.org", "promo@spam.org", "zoe@newco.com"]
        zoe = rest.items[-1]
        assert (zoe.name, zoe.messages, zoe.last_subject) == ("Zoe Park", 2, "Again")  # the later of two at one time
        assert triage.triage_count(session) == 5
    with db.write() as session:
        contact_id, linked = triage.create_contact(session, address="zoe@newco.com", actor=actor, now=now)
        assert linked == 2
        assert triage.link_contact(session, address="ada.private@gmail.com", contact_id=ada.id, actor=actor,
                                   now=now) == 1
        assert triage.ignore(session, value="@spam.org", actor=actor, now=now) == 2
        assert triage.ignore(session, value="bot@alerts.net", actor=actor, now=now) == 1
        with pytest.raises(NotFound):
            triage.create_contact(session, address="nobody@nowhere.com", actor=actor, now=now)
    with db.read() as session:
        made = session.get(Contact, contact_id)
        assert (made.first_name, made.last_name, made.lifecycle, made.email) == ("Zoe", "Park", "lead", "zoe@newco.com")
        assert session.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id == contact_id,
                                                                               Activity.email_id.is_not(None))) == 2
        assert "ada.private@gmail.com" in contacts.get_contact(session, contact_id=ada.id).emails
        assert triage.triage_count(session) == 0
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "mail_ignore")) == 2
    # mail from an ignored domain never reaches Triage again; a new address does
    _ingest(db, actor, now, [RawMail(s.plain(sender="other@spam.org", message_id="<t7@spam.org>"), "g"),
                             RawMail(s.plain(sender="new@fresh.com", message_id="<t8@fresh.com>"), "h")])
    assert _count(db, MailTriage) == 1
    with db.write() as session:
        assert triage.unignore(session, value="@spam.org", actor=actor, now=now)
        assert not triage.unignore(session, value="@spam.org", actor=actor, now=now)


def test_a_contact_added_elsewhere_takes_its_address_off_the_triage_list(db, actor, now, people):
    _ingest(db, actor, now, [RawMail(s.plain(sender="liz@corp.com", message_id="<l1@corp.com>"), "a")])
    with db.write() as session:
        assert triage.triage_count(session) == 1
        contacts.create_contact(session, data={"first_name": "Liz", "emails": ["liz@corp.com"]}, actor=actor, now=now)
        assert triage.triage_count(session) == 0


def test_the_mail_table_of_the_config_file_is_read_and_checked():
    from crm_tui.config import parse_settings

    settings = parse_settings({"mail": {"addresses": ["Me@Co.com"], "sync_minutes": 10,
                                        "imap": {"host": "imap.co.com", "username": "me@co.com"},
                                        "team": {"host": "imap.co.com", "username": "crm", "address": "CRM@co.com",
                                                 "folders": ["INBOX"]}}})
    mail = settings.mail
    assert mail.addresses == ("me@co.com",) and mail.sync_minutes == 10 and mail.max_message_mb == 25
    assert (mail.imap.folders, mail.imap.password_env, mail.team.password_env) == \
        ((), "CRM_IMAP_PASSWORD", "CRM_TEAM_IMAP_PASSWORD")
    assert (mail.team.address, mail.team.folders) == ("crm@co.com", ("INBOX",))
    assert parse_settings({}).mail is None
    with pytest.raises(InvalidInput, match="sync_minutes"):
        parse_settings({"mail": {"sync_minutes": "often"}})


def test_a_batch_that_lost_a_race_for_a_message_id_runs_once_more(db, actor, now, people, monkeypatch):
    """Two syncs of one message at once (PostgreSQL lets both see it missing): the loser's insert
    fails the unique Message-ID, and its batch runs again and finds the message stored."""
    from sqlalchemy import insert

    from crm_tui.services import mail_store

    real = mail_store.store_messages
    calls = []

    def racing(session, messages, **kwargs):
        messages = list(messages)
        if not calls:  # a teammate stores the first message just before our insert
            calls.append(1)
            with db.write() as other:
                real(other, messages[:1], **kwargs)
            session.execute(insert(EmailMessage).values(**{**mail_store._email_row(
                messages[0], source="sync", user_id=None, ours=set(), now=now)}))
        return real(session, messages, **kwargs)

    monkeypatch.setattr(mail_store, "store_messages", racing)
    report = _ingest(db, actor, now, [RawMail(s.plain(), "a"), RawMail(s.plain(message_id="<other@x.com>"), "b")])
    assert (report.stored, report.known) == (1, 1) and _count(db, EmailMessage) == 2


@pytest.mark.parametrize("header", [
    "lee@acme.com", "Lee Park <lee@acme.com>", "Lee   Park<lee@acme.com> ,  kim.oneil@acme.co.uk",
    "J. R. Doe <j.r+crm@mail.acme-corp.com>", "<bare@acme.com>", "O'Brien-Smith <ob_s%x@acme.com>"])
def test_plain_address_headers_read_as_getaddresses_reads_them(header):
    from email.utils import getaddresses

    from crm_tui.services.mail_capture.parse import _plain_addresses

    assert _plain_addresses([header]) == getaddresses([header])


@pytest.mark.parametrize("header", ['"Park, Lee" <lee@acme.com>', "=?utf-8?q?L=C3=A9e?= <lee@acme.com>",
                                    "lee@acme.com (Lee)", "team: a@b.com, c@d.com;", "a@b.com,", ""])
def test_anything_else_is_left_to_getaddresses(header):
    from crm_tui.services.mail_capture.parse import _plain_addresses

    assert _plain_addresses([header]) is None
    raw = f"From: {header or 'x@y.com'}\r\nTo: lee@acme.com\r\nSubject: s\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\n"
    parse_message(raw.encode(), received_at=datetime(2026, 12, 1, tzinfo=timezone.utc))  # reads, no error


def test_a_plain_connection_never_loads_the_system_certificates(monkeypatch):
    """--insecure on loopback: no TLS, so no CA bundle (a third of a second a re-sync used to pay)."""
    import ssl

    from crm_tui.services.mail_capture import imap

    def refuse(*args, **kwargs):
        raise AssertionError("a TLS context was made for a plain connection")

    monkeypatch.setattr(ssl, "create_default_context", refuse)
    imap.tls_context.cache_clear()
    with pytest.raises(imap.ImapError, match="cannot reach"):  # nothing listens there; no TLS tried
        imap.connect(imap.ImapAccount(host="127.0.0.1", port=1, username="u", password="p", security="plain",
                                      timeout=2))
    with pytest.raises(AssertionError, match="TLS context"):
        imap.connect(imap.ImapAccount(host="127.0.0.1", port=1, username="u", password="p", security="ssl",
                                      timeout=2))
    imap.tls_context.cache_clear()
