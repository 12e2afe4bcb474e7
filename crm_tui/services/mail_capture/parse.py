"""One raw message (RFC 822 bytes) read into what the CRM keeps of it, whatever shape it is in.

Mail in the wild is often broken: headers in 8-bit or badly encoded words, a charset nobody knows,
no Date, no Message-ID, a MIME tree that does not parse. Each of those is read as well as it can be
and noted in `ParsedMail.problems`; only a message with nothing readable raises `MailError`, which
the caller logs for that message alone.

The standard library's parser runs with `policy.compat32`, and the headers are decoded here (RFC
2047 encoded words, raw 8-bit): `policy.default` parses every header it is asked for into a
structured object, which made reading a message six times slower, far more than fetching it
(bench/bench_mail.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from crm_tui.services.mail_store import MailMessage, message_ids, synthetic_message_id

MAX_BODY = 100_000  # characters of plain text kept (an activity's body holds as much)
MAX_SUBJECT = 300
MAX_ADDRESS = 320
_STABLE = ("From", "To", "Cc", "Date", "Subject", "In-Reply-To", "References")
_BLOCKS = ["p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr"]
_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)


class MailError(Exception):
    """A message that cannot be read at all; its text is one line for the sync log."""


@dataclass
class Address:
    email: str  # lower-cased
    name: str = ""


@dataclass
class ParsedMail:
    message_id: str  # without angle brackets
    in_reply_to: str | None
    references: list[str]
    subject: str
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    sent_at: datetime
    body: str
    attachments: list[dict]
    size: int
    problems: list[str] = field(default_factory=list)
    synthetic_id: bool = False
    # the envelope's recipients (Delivered-To, X-Original-To), and why a machine sent it (None: a
    # person did): services/case_mail never answers such mail
    delivered_to: list[str] = field(default_factory=list)
    automated: str | None = None

    @property
    def thread_key(self) -> str:
        """The thread's first message: the first of References, else In-Reply-To, else itself."""
        return (self.references[0] if self.references else self.in_reply_to) or self.message_id

    @property
    def addresses(self) -> list[str]:
        """Every distinct address in From, To and Cc, in that order."""
        seen: dict[str, None] = {}
        for address in ([self.sender] if self.sender else []) + self.to + self.cc:
            seen.setdefault(address.email, None)
        return list(seen)

    def to_store(self) -> MailMessage:
        """The message as services/mail_store stores it (the direction decided there, by the
        team's addresses)."""
        return MailMessage(
            message_id=self.message_id, sent_at=self.sent_at, subject=self.subject,
            from_addr=self.sender.email if self.sender else "", to_addrs=tuple(a.email for a in self.to),
            cc_addrs=tuple(a.email for a in self.cc), body=self.body or None, in_reply_to=self.in_reply_to,
            references=tuple(self.references), attachments=tuple(self.attachments), size=self.size,
            delivered_to=tuple(self.delivered_to), automated=self.automated,
            from_name=self.sender.name if self.sender else "")


def parse_message(raw: bytes, *, received_at: datetime, headers_only: bool = False) -> ParsedMail:
    """The message `raw` holds. `received_at` stands in for a missing or unreadable Date. `headers_only`:
    `raw` is the header block of a message too large to fetch whole."""
    if not raw or not raw.strip():
        raise MailError("empty message")
    try:
        msg = message_tree(raw)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; anything it still raises is this message's
        raise MailError(f"unreadable message: {type(exc).__name__}: {exc}") from None
    problems: list[str] = []
    headers = _index(msg)  # the header lines by name, read once (not once for each name asked)
    sender_list = _addresses(headers, "From", problems)
    to, cc = _addresses(headers, "To", problems), _addresses(headers, "Cc", problems)
    if not sender_list and not to and not cc and not _text(headers, "Subject", problems):
        raise MailError("not an email: no From, To, Cc or Subject header")
    sender = sender_list[0] if sender_list else None
    subject = " ".join(_text(headers, "Subject", problems).split())[:MAX_SUBJECT]
    sent_at = _date(headers, received_at, problems)
    body, attachments = ("", []) if headers_only else _content(msg, problems)
    if msg.defects and not headers_only:
        problems.append("malformed MIME: " + "; ".join(sorted({type(d).__name__ for d in msg.defects})))
    references = _ids(_text(headers, "References", problems))
    reply = _ids(_text(headers, "In-Reply-To", problems))
    own = _ids(_text(headers, "Message-ID", problems))
    parsed = ParsedMail(
        message_id=own[0] if own else "", in_reply_to=reply[0] if reply else None, references=references,
        subject=subject, sender=sender, to=to, cc=cc, sent_at=sent_at, body=body, attachments=attachments,
        size=len(raw), problems=problems,
    )
    parsed.delivered_to, parsed.automated = _envelope(msg)
    if not parsed.message_id:
        parsed.message_id = _synthetic_id(headers, problems)
        parsed.synthetic_id = True
        problems.append("no Message-ID: given " + parsed.message_id)
    return parsed


_ENVELOPE = frozenset({"delivered-to", "x-original-to", "auto-submitted", "precedence", "x-autoreply",
                       "x-autorespond", "list-id", "list-unsubscribe", "return-path"})


def _envelope(msg: Message) -> tuple[list[str], str | None]:
    """(Delivered-To and X-Original-To addresses, why a machine sent the message or None), read in
    one pass over the headers. Automated: Auto-Submitted other than "no" (RFC 3834), Precedence
    bulk, junk or list, X-Autoreply or X-Autorespond, a mailing list's List-Id or List-Unsubscribe,
    an empty Return-Path (a bounce) or a delivery report (multipart/report)."""
    delivered: dict[str, None] = {}
    why: str | None = None
    for key, value in msg.raw_items():
        name = key.lower()
        if name not in _ENVELOPE:
            continue
        text = _unfold(str(value)).strip()
        word = text.split(";")[0].strip().lower()
        if name in ("delivered-to", "x-original-to"):
            for _, addr in getaddresses([text]):
                addr = addr.strip().strip("<>").lower()
                if "@" in addr and len(addr) <= MAX_ADDRESS:
                    delivered.setdefault(addr, None)
        elif why is not None:
            continue
        elif name == "auto-submitted" and word and word != "no":
            why = f"Auto-Submitted: {word[:40]}"
        elif name == "precedence" and word in ("bulk", "junk", "list"):
            why = f"Precedence: {word}"
        elif name in ("x-autoreply", "x-autorespond") and word not in ("no", "false", "0"):
            why = f"{key.strip()}: {word[:40]}".rstrip(": ")
        elif name in ("list-id", "list-unsubscribe"):
            why = f"mailing list ({key.strip()})"
        elif name == "return-path" and text.replace(" ", "") == "<>":
            why = "a bounce (empty Return-Path)"
    if why is None and msg.get_content_type() == "multipart/report":
        why = "a delivery report"
    return list(delivered), why


_ODD_LINE_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")  # str.splitlines() breaks lines there too
_HEADER_NAME = re.compile(r"[\041-\071\073-\176]+:")


def message_tree(raw: bytes) -> Message:
    """The message's MIME tree, as the standard library's parser (compat32) builds it. A well-formed
    message (the very most) is split here with bytes.find on its boundaries, its headers read line by
    line: the library's parser reads every line of every part through Python code (an attachment's
    base64 too) and compiles a regular expression for each new boundary, which made it most of a
    sync's time (bench/bench_mail.py). Anything out of the ordinary (a line break other than CRLF or
    LF, a header line that is not one, a missing or doubled boundary, a message/* part, a digest)
    goes to the library's parser, which notes the defects: the result is the same either way
    (tests/unit/test_mail_capture.py compares both)."""
    if not raw.startswith(b"From ") and raw.count(b"\r") == raw.count(b"\r\n") \
            and not any(odd in raw for odd in _ODD_LINE_BREAKS):
        msg = _fast_part(raw, outer=())
        if msg is not None:
            return msg
    return BytesParser(policy=policy.compat32).parsebytes(raw)


def _fast_part(data: bytes, *, outer: tuple[bytes, ...]) -> Message | None:
    """A part (or the message) read as the library's feedparser reads a well-formed one; None for
    anything it would read differently or flag as a defect. `outer`: the boundaries around it."""
    msg = Message()
    if data.startswith((b"\n", b"\r\n")):  # no headers at all: a text/plain part
        start = 1 if data[:1] == b"\n" else 2
    else:
        lf, crlf = data.find(b"\n\n"), data.find(b"\n\r\n")
        if lf < 0 and crlf < 0:
            return None
        end = lf if crlf < 0 or 0 <= lf < crlf else crlf
        start = end + (2 if end == lf else 3)
        lines: list[str] = []
        for line in data[:end + 1].decode("ascii", "surrogateescape").splitlines(True):
            if line[0] in " \t":
                if not lines:
                    return None
                lines.append(line)
                continue
            if _HEADER_NAME.match(line) is None:
                return None
            if lines:
                msg.set_raw(*policy.compat32.header_source_parse(lines))
            lines = [line]
        if lines:
            msg.set_raw(*policy.compat32.header_source_parse(lines))
    maintype = msg.get_content_maintype()
    if maintype == "message":
        return None
    body = data[start:]
    if maintype != "multipart":
        if outer:  # the line break before the boundary that ends a part belongs to the boundary
            body = body[:-2] if body.endswith(b"\r\n") else body[:-1] if body.endswith(b"\n") else body
        msg.set_payload(body.decode("ascii", "surrogateescape"))
        return msg
    boundary = msg.get_boundary()
    if not boundary or msg.get_content_type() == "multipart/digest" or \
            str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
        return None
    try:
        separator = ("--" + boundary).encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None
    if any(o.startswith(separator) or separator.startswith(o) for o in outer):
        return None
    # the boundary lines: (where the line starts, where the next begins, whether it closes)
    marks: list[tuple[int, int, bool]] = []
    at = 0
    while (at := body.find(separator, at)) >= 0:
        if at == 0 or body[at - 1] == 10:  # at a line's start
            eol = body.find(b"\n", at)
            after = len(body) if eol < 0 else eol + 1
            rest = body[at + len(separator):after].rstrip(b"\r\n").rstrip(b" \t")
            if rest in (b"", b"--"):
                marks.append((at, after, rest == b"--"))
                if rest == b"--":
                    break
            at = after
        else:
            at += len(separator)
    if len(marks) < 2 or marks[0][2] or not marks[-1][2]:
        return None  # no first boundary, or no closing one: defects the library's parser notes
    for (_, begin, _), (finish, _, _) in zip(marks, marks[1:]):
        if begin >= finish:
            return None  # two boundary lines in a row
        part = _fast_part(body[begin:finish], outer=(*outer, separator))
        if part is None:
            return None
        msg.attach(part)
    return msg


def _synthetic_id(msg: Message | Headers, problems: list[str]) -> str:
    """A Message-ID for a message without one, the same every time the same message is read: a
    hash of the headers that do not change in transit (not Received, Delivered-To, Return-Path)."""
    return synthetic_message_id(*(_text(msg, name, problems) for name in _STABLE))


Headers = dict[str, list[str]]


def _index(msg: Message) -> Headers:
    """The message's header values as written, by lower-cased name, in order."""
    found: Headers = {}
    for key, value in msg.raw_items():
        found.setdefault(key.lower(), []).append(value)
    return found


def _raw(msg: Message | Headers, name: str) -> list[str]:
    """A header's values as written, encoded words and all, without the policy's parsing."""
    name = name.lower()
    if isinstance(msg, dict):
        return msg.get(name, [])
    return [value for key, value in msg.raw_items() if key.lower() == name]


def _decoded(value: str) -> str:
    """An RFC 2047 header value decoded; a bad encoded word or charset is kept as written."""
    if "=?" not in value:  # no encoded word: most headers, and the decoder is slow
        return value
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - LookupError (charset), HeaderParseError, binascii errors
        return value


def _clean(text: str) -> str:
    """Text any database column takes. Surrogates stand for raw 8-bit bytes (a header written
    without encoded words): read as UTF-8 if they are that, else as Windows-1252, the usual other."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", "replace")
    return text.replace("\x00", "")


def _eight_bit(values: list[str]) -> bool:
    return any(not v.isascii() for v in values)


def _unfold(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ").replace("\n", "")


def _text(msg: Message | Headers, name: str, problems: list[str]) -> str:
    """A header's first value as text: encoded words decoded, raw 8-bit bytes read as UTF-8 or
    Windows-1252."""
    raw = _raw(msg, name)
    if not raw:
        return ""
    value = _unfold(raw[0])
    return _clean(value if not value.isascii() else _decoded(value))


_PLAIN_ADDRESS = re.compile(r"\s*(?:(?P<name>[A-Za-z0-9 .'_-]*?)\s*<(?P<bracketed>[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+)>"
                            r"|(?P<bare>[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+))\s*")


def _plain_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """getaddresses' answer for the common header that lists plain addresses (`a@b.com`, `Ann Lee
    <ann@b.com>`, comma-separated), read with one regular expression; None for anything else
    (quotes, comments, groups, encoded words), which getaddresses reads. A sync spent a fifth of
    its parsing in getaddresses."""
    pairs = []
    for value in values:
        for part in value.split(","):
            match = _PLAIN_ADDRESS.fullmatch(part)
            if match is None:
                return None
            if match["bare"] is not None:
                pairs.append(("", match["bare"]))
            else:
                pairs.append((" ".join(match["name"].split()), match["bracketed"]))
    return pairs


def _addresses(msg: Message | Headers, name: str, problems: list[str]) -> list[Address]:
    values = [_unfold(v) for v in _raw(msg, name)]
    if not values:
        return []
    # split first, decode each name after: a decoded name may hold the comma that separates addresses
    pairs = _plain_addresses(values) or getaddresses(values)
    found: dict[str, Address] = {}
    for display, addr in pairs:
        addr = _clean(addr or "").strip().strip("<>").lower()
        if "@" not in addr or " " in addr or len(addr) > MAX_ADDRESS:
            if addr:
                problems.append(f"{name}: not an address: {addr[:80]!r}")
            continue
        display = display or ""
        display = _clean(display if not display.isascii() else _decoded(display)).strip()
        found.setdefault(addr, Address(addr, display[:200]))
    return list(found.values())


def _ids(text: str) -> list[str]:
    """Message-IDs in a header, without brackets, each once."""
    return list(dict.fromkeys(i for i in message_ids(text) if "@" in i or len(i) > 3))


def _date(msg: Message | Headers, received_at: datetime, problems: list[str]) -> datetime:
    raw = _raw(msg, "Date")
    if not raw:
        problems.append("no Date: the time it was received is used")
        return received_at
    try:
        when = parsedate_to_datetime(_decoded(raw[0]).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        when = None
    if when is None or not (_EARLIEST <= (when if when.tzinfo else when.replace(tzinfo=timezone.utc))):
        problems.append(f"unreadable Date {raw[0][:60]!r}: the time it was received is used")
        return received_at
    if when.tzinfo is None:  # RFC 5322's -0000: the zone is unknown; UTC is the best guess
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _content(msg: Message, problems: list[str]) -> tuple[str, list[dict]]:
    """The plain-text body and the attachments' names and sizes."""
    attachments: list[dict] = []
    texts: dict[str, Message] = {}
    _walk(msg, texts, attachments)
    body = ""
    for kind in ("plain", "html"):
        part = texts.get(kind)
        if part is not None:
            text = _part_text(part, problems)
            body = html_to_text(text) if kind == "html" else text
            if body.strip():
                break
    body = body.replace("\r\n", "\n")
    if "\n\n\n" in body:
        body = re.sub(r"\n{3,}", "\n\n", body)
    body = body.strip()
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY]
        problems.append(f"body longer than {MAX_BODY:,} characters: cut")
    return _clean(body), attachments


def _walk(part: Message, texts: dict[str, Message], attachments: list[dict]) -> None:
    """The first text/plain and text/html parts that are the message's own (not attachments, not
    a forwarded message's), and every attachment, a forwarded message counting as one."""
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        attachments.append(_forwarded(part))
        return
    if part.is_multipart():
        for sub in part.get_payload() or []:
            if isinstance(sub, Message):
                _walk(sub, texts, attachments)
        return
    disposition = (part.get_content_disposition() or "").lower()
    filename = _filename(part)
    if disposition == "attachment" or (filename and not ctype.startswith("text/")) or \
            (disposition == "inline" and filename):
        attachments.append({"name": filename or ctype.replace("/", "."), "size": _payload_size(part),
                            "type": ctype})
        return
    if ctype in ("text/plain", "text/html"):
        texts.setdefault(ctype.split("/")[1], part)


def _filename(part: Message) -> str:
    if all(isinstance(value, str) and "name" not in value.lower() for key, value in part.raw_items()
           if key.lower() in ("content-disposition", "content-type")):
        return ""  # no filename= or name= parameter (the library's lookup parses every parameter)
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - a bad RFC 2231 parameter
        name = None
    return _clean(_decoded(name)).strip()[:255] if name else ""


def _forwarded(part: Message) -> dict:
    inner = part.get_payload()
    inner = inner[0] if isinstance(inner, list) and inner else inner
    subject = ""
    if isinstance(inner, Message):
        subject = " ".join(_text(inner, "Subject", []).split())
    size = len(inner.as_bytes()) if isinstance(inner, Message) else _payload_size(part)
    return {"name": _filename(part) or f"{subject or 'forwarded message'}.eml"[:255], "size": size,
            "type": "message/rfc822"}


def _payload_size(part: Message) -> int:
    """The attachment's size once decoded, reckoned from its encoded length (never decoded here:
    a 50 MB attachment is not copied to learn its size)."""
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str):
        return 0
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":
        length = len(payload) - payload.count("\n") - payload.count("\r") - payload.count(" ")
        return max(0, length * 3 // 4 - payload.rstrip().count("="))
    return len(payload)


def _part_text(part: Message, problems: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(payload or "")
    charset = (part.get_content_charset() or "").strip() or "utf-8"
    try:
        return payload.decode(charset)
    except LookupError:
        problems.append(f"charset {charset!r} unknown: read as UTF-8")
    except UnicodeDecodeError:
        if charset.lower() not in ("us-ascii", "ascii", "utf-8", "utf8"):
            problems.append(f"text not in its charset {charset!r}: read as UTF-8")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", "replace")


def html_to_text(html: str) -> str:
    """An HTML body as plain text: scripts and styles dropped, blocks on lines of their own."""
    from bs4 import BeautifulSoup  # here: most runs read plain-text mail only

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCKS):
        block.insert_after("\n")
    text = soup.get_text()
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
