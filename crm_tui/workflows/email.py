"""Email: SMTP settings from the config file (the password from an environment variable or the
system keyring), and sending the outbox after the firings committed — each email at most once, the
rest retried on later runs."""

from __future__ import annotations

import re
import smtplib
import socket
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from sqlalchemy import case, func, or_, select, update

from crm_tui import secrets
from crm_tui.config import DEFAULT_PASSWORD_ENV, Settings, SmtpUserConfig
from crm_tui.db import Database
from crm_tui.errors import InvalidInput
from crm_tui.models.user import User
from crm_tui.models.workflow import EmailOutbox

BATCH = 200


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    ssl: bool = False
    timeout: float = 10.0
    # the users who log in as themselves ([smtp.users.<login>]); any other user does too when a
    # password for their own address is found (CRM_SMTP_PASSWORD_<LOGIN>, or the keyring)
    users: tuple[SmtpUserConfig, ...] = ()


@dataclass(frozen=True)
class SmtpLogin:
    """Whose SMTP password it is, and where it may come from: `env`, else the keyring's `secret_name`.
    `own`: a user's login that [smtp.users.<login>] names (their email waits without its password)."""

    host: str
    username: str
    env: str
    own: bool = False

    @property
    def secret_name(self) -> str:
        return f"smtp:{self.username}@{self.host}"


def smtp_login(settings: Settings) -> SmtpLogin | None:
    """The login of the [smtp] table; None when email is off or sends without logging in."""
    smtp = settings.smtp
    if smtp is None or not smtp.host or not smtp.username:
        return None
    return SmtpLogin(host=smtp.host, username=smtp.username, env=smtp.password_env)


def user_env(login: str) -> str:
    """The variable a user's own SMTP password comes from unless their table names one:
    CRM_SMTP_PASSWORD_ANN for ann (CRM_SMTP_PASSWORD_J_DOE for j.doe)."""
    return f"{DEFAULT_PASSWORD_ENV}_{re.sub(r'[^A-Z0-9]', '_', login.upper())}"


def _user_login(host: str, users: tuple[SmtpUserConfig, ...], login: str, email: str | None) -> SmtpLogin | None:
    table = next((u for u in users if u.login == login.lower()), None)
    username = (table.username if table else None) or (email or "").strip()
    if not username:
        return None
    return SmtpLogin(host=host, username=username, env=(table.password_env if table else None) or user_env(login),
                     own=table is not None)


def user_login(settings: Settings, *, login: str, email: str | None) -> SmtpLogin | None:
    """A user's own SMTP login: [smtp.users.<login>]'s username, else their email address, on the
    [smtp] host; None when email is off or the user has neither."""
    smtp = settings.smtp
    if smtp is None or not smtp.host:
        return None
    return _user_login(smtp.host, smtp.users, login, email)


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    """The [smtp] table of config.toml, checked, or None when email is off (no table, or no host)::

        [smtp]
        host = "smtp.example.com"
        port = 587                        # 465 means SSL; 587 STARTTLS; 25 plain
        from = "CRM <crm@example.com>"
        username = "crm@example.com"
        password_env = "CRM_SMTP_PASSWORD"  # the password itself never goes in the file

    The password comes from that variable, else from the system keyring (`crm secret set smtp`).
    """
    smtp = settings.smtp
    if smtp is None or not smtp.host:
        return None
    if not smtp.sender or "@" not in parseaddr(smtp.sender)[1]:
        raise InvalidInput("[smtp] in config.toml needs from = \"name <address>\" to send email")
    try:
        port = int(smtp.port)
    except (TypeError, ValueError):
        raise InvalidInput(f"[smtp] port must be a number, not {smtp.port!r}") from None
    login = smtp_login(settings)
    password = secrets.get_secret(login.secret_name, env=login.env) if login else None
    return SmtpSettings(
        host=smtp.host, sender=smtp.sender, port=port, username=smtp.username, password=password,
        ssl=smtp.ssl if smtp.ssl is not None else port == 465,
        starttls=smtp.starttls if smtp.starttls is not None else port == 587, timeout=float(smtp.timeout),
        users=smtp.users,
    )


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    deferred: int = 0
    error: str | None = None


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    cls = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    client = cls(smtp.host, smtp.port, timeout=smtp.timeout)
    if smtp.starttls and not smtp.ssl:
        client.starttls()
    if smtp.username and smtp.password:
        client.login(smtp.username, smtp.password)
    return client


def _message(email: EmailOutbox, smtp: SmtpSettings, now: datetime,
             attachment: tuple[str, bytes] | None = None) -> EmailMessage:
    msg = EmailMessage()
    # a person's email goes from their own address; a rule's from the [smtp] sender
    msg["From"] = email.from_addr or smtp.sender
    msg["To"] = ", ".join(email.to_addrs or [email.to_addr])
    if email.cc_addrs:
        msg["Cc"] = ", ".join(email.cc_addrs)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(now)
    if (email.rule or "").startswith("auto-replied:"):  # RFC 3834: other machines do not answer it
        msg["Auto-Submitted"] = "auto-replied"
    if email.message_id:  # the id the CRM stored the message under, so replies thread to it
        msg["Message-ID"] = f"<{email.message_id}>"
    else:
        domain = parseaddr(smtp.sender)[1].rpartition("@")[2] or "crm.invalid"
        # the same id on a retry, so a receiving server can recognise a duplicate
        msg["Message-ID"] = f"<crm-outbox-{email.id}@{domain}>"
    if email.in_reply_to:
        msg["In-Reply-To"] = f"<{email.in_reply_to}>"
        msg["References"] = " ".join(f"<{ref}>" for ref in (email.references or email.in_reply_to).split())
    msg.set_content(email.body)
    if attachment is not None:
        msg.add_attachment(attachment[1], maintype="application", subtype="pdf", filename=attachment[0])
    return msg


def _attachment(db: Database, email: EmailOutbox) -> tuple[str, bytes] | None:
    """A quote's email carries the PDF stored when it was sent (services/quote_send.py)."""
    if email.quote_id is None:
        return None
    from crm_tui.models import Quote

    with db.read() as session:
        row = session.execute(select(Quote.number, Quote.revision, Quote.pdf).where(Quote.id == email.quote_id)).first()
    if row is None or row.pdf is None:
        return None
    return f"{row.number}" + (f"-rev{row.revision}" if row.revision > 1 else "") + ".pdf", row.pdf


def send_queued(db: Database, smtp: SmtpSettings, *, now: datetime, limit: int = BATCH) -> SendReport:
    """Send what is queued. Each email is claimed (queued -> sending) in its own transaction before
    it is sent, so of several engines only one sends it; an SMTP failure that proves it was not
    sent puts it back in the queue, and one that proves it never will be marks it failed.

    A person's email (its user_id, from their own address) goes out under their own SMTP login
    when they have one (see `_logins`); the rest, and every email from the [smtp] sender (a rule's),
    under the [smtp] login: one connection per login. A user whose
    own login has no password here keeps their email queued (never sent under another login), and
    the others' email is not held up behind it."""
    report = SendReport()
    with db.read() as session:
        logins = _logins(session, smtp)
        waiting = sorted(uid for uid, login in logins.items() if login is not None and login.password is None)
        personal = EmailOutbox.from_addr.is_not(None)
        mine = (EmailOutbox.user_id.label("user_id") if not logins
                else case((personal, EmailOutbox.user_id), else_=None).label("user_id"))
        queued = select(EmailOutbox.id, mine).where(EmailOutbox.status == "queued")
        if waiting:
            queued = queued.where(or_(~personal, EmailOutbox.user_id.is_(None), EmailOutbox.user_id.not_in(waiting)))
            for user_id, n in session.execute(
                    select(EmailOutbox.user_id, func.count()).where(EmailOutbox.status == "queued", personal,
                                                                    EmailOutbox.user_id.in_(waiting))
                    .group_by(EmailOutbox.user_id)):
                report.deferred += n
                _error(report, f"{logins[user_id].whose}'s email waits: no SMTP password for "
                               f"{logins[user_id].username} here (set {logins[user_id].env}, or run "
                               "`crm secret set smtp` as that user)")
        rows = session.execute(queued.order_by(EmailOutbox.id).limit(limit)).all()
    groups: dict[_Own | None, list[int]] = {}  # a user's own login (None: the [smtp] login) -> its emails
    for email_id, user_id in rows:
        groups.setdefault(logins.get(user_id), []).append(email_id)
    for login, ids in groups.items():
        as_login = smtp if login is None else replace(smtp, username=login.username, password=login.password)
        _send_batch(db, as_login, ids, now, report, whose=login.whose if login else None)
    return report


@dataclass(frozen=True)
class _Own:
    """A user's own SMTP login as found here: the password None when it is not (their email waits)."""

    whose: str  # the user's login
    username: str
    env: str
    password: str | None = field(default=None, repr=False)


def _logins(session, smtp: SmtpSettings) -> dict[int, _Own | None]:
    """For each user with queued email: their own login (None: they send under the [smtp] login).
    A user has their own login when [smtp.users.<login>] names one, or when a password for their
    email address is found (their CRM_SMTP_PASSWORD_<LOGIN>, or the keyring's entry that
    `crm secret set smtp` stored for them). The keyring is read once per user and process (the
    engine runs this every tick), again after `crm secret set` or `forget`, or a refused login."""
    found: dict[int, _Own | None] = {}
    for user_id, login, email in session.execute(
            select(User.id, User.login, User.email)
            .where(User.id.in_(select(EmailOutbox.user_id).where(EmailOutbox.status == "queued",
                                                                 EmailOutbox.from_addr.is_not(None),
                                                                 EmailOutbox.user_id.is_not(None))))):
        own = _user_login(smtp.host, smtp.users, login, email)
        password = secrets.cached_secret(own.secret_name, env=own.env) if own is not None else None
        found[user_id] = (_Own(login, own.username, own.env, password) if own is not None and (password or own.own)
                          else None)
    return found


def _error(report: SendReport, error: str) -> None:
    report.error = f"{report.error}; {error}" if report.error else error


def _send_batch(db: Database, smtp: SmtpSettings, ids: list[int], now: datetime, report: SendReport, *,
                whose: str | None) -> None:
    """Send these emails over one connection logged in as `smtp.username`."""
    try:
        client = _connect(smtp)
    except smtplib.SMTPAuthenticationError as exc:
        report.deferred += len(ids)
        if whose is not None:  # a user's own password, perhaps changed since it was cached
            secrets.forget_cached(SmtpLogin(smtp.host, smtp.username or "", "").secret_name)
        _error(report, f"SMTP server {smtp.host}:{smtp.port} refused the login {smtp.username}"
                       f"{f' ({whose})' if whose else ''}: {exc.smtp_code}")
        return
    except (OSError, smtplib.SMTPException) as exc:
        report.deferred += len(ids)
        _error(report, f"SMTP server {smtp.host}:{smtp.port} unreachable: {exc}")
        return
    try:
        for n, email_id in enumerate(ids):
            email = _claim(db, email_id, now)
            if email is None:
                continue  # another engine took it
            try:
                client.send_message(_message(email, smtp, now, _attachment(db, email)))
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                permanent = _permanent(exc)
                _finish(db, email_id, "failed" if permanent else "queued", error=str(exc))
                if permanent:
                    report.failed.append((email_id, str(exc)))
                else:
                    report.deferred += 1
            except (OSError, smtplib.SMTPException) as exc:
                # the connection failed mid-way: this email and the rest wait for the next run
                _finish(db, email_id, "queued", error=str(exc))
                report.deferred += len(ids) - n
                _error(report, f"SMTP failed: {exc}")
                return
            else:
                _finish(db, email_id, "sent", sent_at=now)
                report.sent.append(email_id)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException, socket.error):
            pass


def _permanent(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return all(500 <= code < 600 for code in codes)
    code = getattr(exc, "smtp_code", 0)
    return 500 <= code < 600


def _claim(db: Database, email_id: int, now: datetime) -> EmailOutbox | None:
    with db.write() as session:
        claimed = session.execute(
            update(EmailOutbox).where(EmailOutbox.id == email_id, EmailOutbox.status == "queued")
            .values(status="sending", claimed_at=now, attempts=EmailOutbox.attempts + 1)
        ).rowcount
        return session.get(EmailOutbox, email_id) if claimed == 1 else None


def _finish(db: Database, email_id: int, status: str, *, error: str | None = None,
            sent_at: datetime | None = None) -> None:
    with db.write() as session:
        session.execute(update(EmailOutbox).where(EmailOutbox.id == email_id, EmailOutbox.status == "sending")
                        .values(status=status, last_error=error[:2000] if error else None, sent_at=sent_at))
