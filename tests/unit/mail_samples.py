"""Real-world-shaped messages for the mail capture tests, built with the standard library's
`email` package: multipart, HTML only, encoded-word headers, a bad charset, no Date, a forwarded
message, an 8-bit header, broken MIME, a large attachment."""

from __future__ import annotations

from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from datetime import datetime, timezone

WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


def plain(*, sender="Ada Lovelace <ada@example.com>", to="ann@ourco.com", cc=None, subject="Hello",
          body="Hi Ann,\nlet's talk.\n", message_id="<plain-1@example.com>", when=WHEN, in_reply_to=None,
          references=None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    if when is not None:
        msg["Date"] = format_datetime(when)
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content(body)
    return msg.as_bytes()


def multipart_with_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Bob Stone <bob@acme.io>"
    msg["To"] = "Ann <ann@ourco.com>, carol@acme.io"
    msg["Cc"] = "dave@elsewhere.org"
    msg["Subject"] = "Quote attached"
    msg["Date"] = format_datetime(WHEN)
    msg["Message-ID"] = "<multi-1@acme.io>"
    msg.set_content("Plain version of the quote.")
    msg.add_alternative("<html><body><p>HTML <b>version</b> of the quote.</p></body></html>", subtype="html")
    msg.add_attachment(b"%PDF-1.4 " + b"x" * 3000, maintype="application", subtype="pdf", filename="quote.pdf")
    return msg.as_bytes()


def html_only() -> bytes:
    msg = EmailMessage()
    msg["From"] = "news@shop.com"
    msg["To"] = "ann@ourco.com"
    msg["Subject"] = "Deals"
    msg["Date"] = format_datetime(WHEN)
    msg["Message-ID"] = "<html-1@shop.com>"
    msg.set_content("<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
                    "<body><h1>Big sale</h1><p>Everything <i>half</i> price.<br>Today only.</p></body></html>",
                    subtype="html")
    return msg.as_bytes()


def encoded_words() -> bytes:
    return (b"From: =?utf-8?q?Jos=C3=A9_N=C3=BA=C3=B1ez?= <jose@example.es>\r\n"
            b"To: ann@ourco.com\r\n"
            b"Subject: =?iso-8859-1?q?R=E9union_demain?= =?utf-8?b?4pyT?=\r\n"
            b"Date: Fri, 20 Nov 2026 10:00:00 +0100\r\n"
            b"Message-ID: <enc-1@example.es>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + "Ça va ?\r\n".encode())


def bad_charset() -> bytes:
    return (b"From: kim@example.kr\r\nTo: ann@ourco.com\r\nSubject: charset\r\n"
            b"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <charset-1@example.kr>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
            b"Caf\xe9 ol\xe9\r\n")


def eight_bit_header() -> bytes:
    return (b"From: M\xfcller <mueller@example.de>\r\nTo: ann@ourco.com\r\nSubject: Gr\xfc\xdfe\r\n"
            b"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <8bit-1@example.de>\r\n\r\nHallo\r\n")


def no_date_no_id() -> bytes:
    return plain(sender="eve@example.com", subject="No date", when=None, message_id=None)


def forwarded() -> bytes:
    outer = MIMEMultipart()
    outer["From"] = "Ann <ann@ourco.com>"
    outer["To"] = "bob@acme.io"
    outer["Subject"] = "Fwd: Hello"
    outer["Date"] = format_datetime(WHEN)
    outer["Message-ID"] = "<fwd-1@ourco.com>"
    outer.attach(MIMEText("See below.", "plain"))
    from email import message_from_bytes
    from email.mime.message import MIMEMessage

    outer.attach(MIMEMessage(message_from_bytes(plain(body="the original text"))))
    return outer.as_bytes()


def broken_mime() -> bytes:
    return (b"From: x@broken.net\r\nTo: ann@ourco.com\r\nSubject: broken\r\n"
            b"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <broken-1@broken.net>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"zzz\"\r\n\r\n"
            b"--zzz\r\nContent-Type: text/plain\r\n\r\nthe visible part\r\n--zzz\r\nContent-Type: appl")


def large_attachment(megabytes: int = 50) -> bytes:
    """A message with a `megabytes` attachment, written out directly (the email package takes
    seconds to encode 50 MB; this takes milliseconds)."""
    line = b"A" * 76 + b"\r\n"
    lines = megabytes * 1_000_000 * 4 // 3 // 76
    return (b"From: big@example.com\r\nTo: ann@ourco.com\r\nSubject: Big file\r\n"
            b"Date: Fri, 20 Nov 2026 10:00:00 +0000\r\nMessage-ID: <big-1@example.com>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\nThe file.\r\n"
            b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n" + line * lines + b"--b1--\r\n")


def garbage() -> bytes:
    return b"\x00\x01\x02 not a mail at all"
