"""IMAP, read-only: connect (TLS unless told otherwise, and then only on loopback), find the Inbox
and the Sent folder, and fetch new messages by UID in chunks, so a 10,000-message folder is never
held in memory at once. The password comes from an environment variable or the keyring, and goes
nowhere else: not into the database, a log or an error message."""

from __future__ import annotations

import imaplib
import ipaddress
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from crm_tui import secrets
from crm_tui.config import ImapConfig
from crm_tui.errors import InvalidInput, StorageError
from crm_tui.services.mail_capture.capture import RawMail

CHUNK = 500  # messages per FETCH, and per stored batch (one transaction, one commit)
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "[Gmail]/Sent Mail")


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    username: str
    password: str | None = field(default=None, repr=False)
    security: str = "ssl"  # ssl, starttls or plain (only with --insecure, only on loopback)
    folders: tuple[str, ...] = ()
    timeout: float = 30.0
    address: str | None = None
    ca_file: str | None = None

    @property
    def label(self) -> str:
        """Who and where, for the folder table and the log (never the password)."""
        return f"{self.username}@{self.host}:{self.port}"[:400]

    @property
    def secret_name(self) -> str:
        return secret_name(self.username, self.host)


def secret_name(username: str, host: str) -> str:
    """The keyring entry that holds a mailbox's password (`crm secret set --imap` stores it)."""
    return f"imap:{username}@{host}"


class ImapError(StorageError):
    """The server could not be reached, refused the login, or answered NO."""


def account_from(config: ImapConfig | None, *, what: str, insecure: bool = False) -> ImapAccount:
    """The mailbox [mail.imap] (or [mail.team]) names, checked; the password looked up now."""
    if config is None or not config.host or not config.username:
        raise InvalidInput(f"set host and username under [{what}] in config.toml to sync that mailbox")
    security = config.security or None
    if security not in (None, "ssl", "starttls"):
        raise InvalidInput(f"[{what}] security must be \"ssl\" or \"starttls\", not {config.security!r}")
    try:
        port = int(config.port) if config.port is not None else (143 if security == "starttls" else 993)
        timeout = float(config.timeout)
    except (TypeError, ValueError):
        raise InvalidInput(f"[{what}] port and timeout must be numbers") from None
    security = security or ("starttls" if port == 143 else "ssl")
    if insecure:
        if not is_loopback(config.host):
            raise InvalidInput(f"--insecure reads mail without TLS, which is allowed only on this machine "
                               f"(loopback), not on {config.host}")
        security = "plain"
    return ImapAccount(host=config.host, port=port, username=config.username,
                       password=secrets.get_secret(secret_name(config.username, config.host),
                                                   env=config.password_env), security=security,
                       folders=config.folders, timeout=timeout, address=config.address, ca_file=config.ca_file)


def is_loopback(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback
                   for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP))
    except (OSError, ValueError):
        return False


def connect(account: ImapAccount) -> imaplib.IMAP4:
    """A logged-in connection. Certificates are checked against the system's CAs (and the
    config's `ca_file`), host name included."""
    if account.password is None:
        raise InvalidInput(f"no IMAP password for {account.username}: set the environment variable the config "
                           f"names, or store it in the keyring as {account.secret_name!r}")
    try:
        if account.security == "ssl":
            client = imaplib.IMAP4_SSL(account.host, account.port, ssl_context=tls_context(account.ca_file),
                                       timeout=account.timeout)
        else:
            client = imaplib.IMAP4(account.host, account.port, timeout=account.timeout)
            if account.security == "starttls":
                client.starttls(ssl_context=tls_context(account.ca_file))
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapError(f"cannot reach the IMAP server {account.host}:{account.port}: {_why(exc)}") from None
    try:
        client.login(account.username, account.password)
    except (OSError, imaplib.IMAP4.error) as exc:
        _close(client)
        raise ImapError(f"the IMAP server {account.host} refused the login of {account.username}: {_why(exc)}") \
            from None
    return client


@lru_cache(maxsize=8)
def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """The TLS settings of a connection: the system's CAs (and `ca_file`), host names checked.
    Made once per process and shared (an SSLContext is safe to share): loading the system's CA
    bundle takes a third of a second, which a re-sync with nothing new would pay every time; a
    plain connection (--insecure, loopback only) never loads it."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _why(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())[:200] or type(exc).__name__


def _close(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except (OSError, imaplib.IMAP4.error):
        pass


def close(client: imaplib.IMAP4) -> None:
    _close(client)


def folders(client: imaplib.IMAP4, wanted: tuple[str, ...]) -> list[str]:
    """The folders to read: those the config names, else INBOX and the Sent folder (the one the
    server marks \\Sent, else one with a usual name)."""
    if wanted:
        return list(wanted)
    typ, data = client.list()
    found: list[tuple[str, bytes]] = []
    for line in data if typ == "OK" else []:
        if not isinstance(line, bytes):
            continue
        match = re.match(rb'\((?P<flags>[^)]*)\) (?:"[^"]*"|NIL) (?P<name>.+)$', line)
        if match:
            name = match["name"].strip()
            name = name[1:-1].replace(b'\\"', b'"') if name.startswith(b'"') else name
            found.append((name.decode("utf-8", "replace"), match["flags"]))
    sent = [name for name, flags in found if b"\\sent" in flags.lower()]
    if not sent:
        names = {name.lower(): name for name, _ in found}
        sent = [names[n.lower()] for n in _SENT_NAMES if n.lower() in names][:1]
    return ["INBOX", *sent[:1]]


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def open_folder(client: imaplib.IMAP4, folder: str) -> int:
    """Select the folder read-only; its UIDVALIDITY."""
    typ, data = client.select(_quote(folder), readonly=True)
    if typ != "OK":
        raise ImapError(f"cannot open folder {folder!r}: {_why(Exception(data[0] if data else typ))}")
    _, values = client.response("UIDVALIDITY")
    try:
        return int(values[0])
    except (TypeError, ValueError, IndexError):
        typ, data = client.status(_quote(folder), "(UIDVALIDITY)")
        found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"") if typ == "OK" and data else None
        if not found:
            raise ImapError(f"the server gave no UIDVALIDITY for {folder!r}") from None
        return int(found.group(1))


def status(client: imaplib.IMAP4, folder: str) -> tuple[int, int] | None:
    """The folder's UIDVALIDITY and UIDNEXT without opening it (STATUS): a re-sync that finds
    UIDNEXT where the last sync left it has nothing to read. None when the server does not say."""
    try:
        typ, data = client.status(_quote(folder), "(UIDVALIDITY UIDNEXT)")
    except imaplib.IMAP4.error:
        return None
    line = b" ".join(d for d in data if isinstance(d, bytes)) if typ == "OK" and data else b""
    validity, following = re.search(rb"UIDVALIDITY (\d+)", line), re.search(rb"UIDNEXT (\d+)", line)
    if not validity or not following:
        return None
    return int(validity.group(1)), int(following.group(1))


def uids_after(client: imaplib.IMAP4, last_uid: int) -> list[int]:
    """The UIDs above `last_uid`, in order ("N:*" always names the last message, even an older one)."""
    typ, data = client.uid("SEARCH", None, f"UID {last_uid + 1}:*")
    if typ != "OK":
        raise ImapError(f"UID SEARCH failed: {_why(Exception(data[0] if data else typ))}")
    return sorted(u for u in (int(x) for x in b" ".join(d for d in data if d).split()) if u > last_uid)


def _ranges(uids: list[int]) -> str:
    """A UID set: 1:5,7,9:12."""
    parts, start, prev = [], uids[0], uids[0]
    for uid in uids[1:]:
        if uid != prev + 1:
            parts.append(f"{start}:{prev}" if start != prev else str(start))
            start = uid
        prev = uid
    parts.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(parts)


def _fetched(data: list) -> Iterator[tuple[int, int | None, bytes]]:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            head, body = item
            uid = _UID.search(head)
            size = _SIZE.search(head)
            if uid:
                yield int(uid.group(1)), int(size.group(1)) if size else None, body


def fetch(client: imaplib.IMAP4, folder: str, uids: list[int], *, max_bytes: int) -> list[RawMail]:
    """One chunk of messages, whole, except those larger than `max_bytes`: their header only."""
    if not uids:
        return []
    typ, data = client.uid("FETCH", _ranges(uids), "(RFC822.SIZE)")
    sizes = {}
    for item in data if typ == "OK" else []:
        line = item[0] if isinstance(item, tuple) else item
        if isinstance(line, bytes) and (uid := _UID.search(line)) and (size := _SIZE.search(line)):
            sizes[int(uid.group(1))] = int(size.group(1))
    small = [u for u in uids if sizes.get(u, 0) <= max_bytes]
    large = [u for u in uids if sizes.get(u, 0) > max_bytes]
    found: dict[int, RawMail] = {}
    for wanted, part, too_large in ((small, "BODY.PEEK[]", False), (large, "BODY.PEEK[HEADER]", True)):
        if not wanted:
            continue
        typ, data = client.uid("FETCH", _ranges(wanted), f"(UID {part})")
        if typ != "OK":
            raise ImapError(f"FETCH failed in {folder!r}: {_why(Exception(data[0] if data else typ))}")
        for uid, _size, body in _fetched(data):
            found[uid] = RawMail(body, where=folder, uid=uid, too_large=sizes.get(uid) if too_large else None)
    return [found[u] for u in uids if u in found]
