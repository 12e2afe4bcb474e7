"""Settings: where config and data live, and the config file (TOML) with env overrides."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_tui.errors import InvalidInput

APP_NAME = "crm-tui"
DATE_ORDERS = {"dmy": "day/month/year", "mdy": "month/day/year", "ymd": "year/month/day"}
DEFAULT_PASSWORD_ENV = "CRM_SMTP_PASSWORD"  # where the [smtp] password comes from, unless password_env says


def config_dir() -> Path:
    if env := os.environ.get("CRM_CONFIG_DIR"):
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    if env := os.environ.get("CRM_DATA_DIR"):
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    return config_dir() / "config.toml"


def app_state_path() -> Path:
    """What the app remembers between launches for this person on this machine (the theme): in
    their own config dir, never in the shared database."""
    return config_dir() / "app-state.json"


def read_theme() -> str | None:
    """The theme chosen last time, or None (never chosen, or the file unreadable: the default)."""
    import json

    try:
        theme = json.loads(app_state_path().read_text(encoding="utf-8")).get("theme")
    except (OSError, ValueError, AttributeError):
        return None
    return theme if isinstance(theme, str) and theme else None


def save_theme(theme: str) -> None:
    """Remember the theme for the next launch (written whole, then moved in place); a file that
    cannot be written only means the choice is not kept."""
    import json

    path = app_state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        state = state if isinstance(state, dict) else {}
        state["theme"] = theme
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def default_database_path() -> Path:
    return data_dir() / "crm.db"


def _table(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class SmtpUserConfig:
    """A user's own SMTP login, [smtp.users.<login>]: the username (None: the user's email address)
    and the variable that holds its password (None: CRM_SMTP_PASSWORD_<LOGIN>; else the keyring)."""

    login: str
    username: str | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class SmtpConfig:
    """The [smtp] table as the config file writes it. Checked when email is sent
    (workflows.email.smtp_settings), so a mistake there turns email off rather than every command."""

    host: str | None = None
    sender: str | None = None  # `from`, else `sender`, else the username
    username: str | None = None
    password_env: str = DEFAULT_PASSWORD_ENV
    port: Any = 587  # as written: 465 means SSL, 587 STARTTLS, 25 plain
    ssl: bool | None = None  # None: SSL on port 465
    starttls: bool | None = None  # None: STARTTLS on port 587
    timeout: Any = 10  # seconds, as written
    users: tuple[SmtpUserConfig, ...] = ()  # [smtp.users.<login>]: who logs in as themselves

    @classmethod
    def from_table(cls, table: Any) -> SmtpConfig | None:
        """The table's values, or None when the file has no [smtp] table."""
        if not isinstance(table, dict):
            return None
        sender = table.get("from") or table.get("sender") or table.get("username")
        return cls(
            host=str(table["host"]) if table.get("host") else None,
            sender=str(sender) if sender else None,
            username=str(table["username"]) if table.get("username") else None,
            password_env=str(table.get("password_env", DEFAULT_PASSWORD_ENV)),
            port=table.get("port", 587),
            ssl=bool(table["ssl"]) if "ssl" in table else None,
            starttls=bool(table["starttls"]) if "starttls" in table else None,
            timeout=table.get("timeout", 10),
            users=tuple(SmtpUserConfig(str(login).strip().lower(),
                                       str(one["username"]) if one.get("username") else None,
                                       str(one["password_env"]) if one.get("password_env") else None)
                        for login, one in _table(table.get("users")).items() if isinstance(one, dict)),
        )


@dataclass(frozen=True)
class ImapConfig:
    """One mailbox of the [mail] table ([mail.imap]: yours; [mail.team]: the team's BCC box), as
    written. Checked when mail is synced (services/mail_capture/imap.account_from), so a mistake
    there stops the sync, not every command. The password is never in the file: `password_env`,
    else the keyring."""

    host: str | None = None
    username: str | None = None
    password_env: str = "CRM_IMAP_PASSWORD"
    port: Any = None  # as written; None: 993 (IMAPS), or 143 with security = "starttls"
    security: str | None = None  # "ssl" or "starttls"; None: by the port
    folders: tuple[str, ...] = ()  # () : INBOX and the folder the server marks as Sent
    timeout: Any = 30
    address: str | None = None  # the mailbox's address (the team box's: crm@company.com)
    ca_file: str | None = None  # a certificate (or bundle) to trust beside the system's: a self-hosted server's

    @classmethod
    def from_table(cls, table: Any, *, default_env: str) -> ImapConfig | None:
        if not isinstance(table, dict):
            return None
        folders = table.get("folders") or []
        return cls(host=str(table["host"]) if table.get("host") else None,
                   username=str(table["username"]) if table.get("username") else None,
                   password_env=str(table.get("password_env", default_env)), port=table.get("port"),
                   security=str(table["security"]).lower() if table.get("security") else None,
                   folders=tuple(str(f) for f in (folders if isinstance(folders, list) else [folders])),
                   timeout=table.get("timeout", 30),
                   address=str(table["address"]).strip().lower() if table.get("address") else None,
                   ca_file=str(Path(str(table["ca_file"])).expanduser()) if table.get("ca_file") else None)


@dataclass(frozen=True)
class MailConfig:
    """The [mail] table: the mailboxes `crm mail sync` reads, and how."""

    imap: ImapConfig | None = None
    team: ImapConfig | None = None
    # your own other addresses (aliases): mail from them is yours, and they never go to Triage
    addresses: tuple[str, ...] = ()
    # the app syncs every this many minutes (0: never; cron runs `crm mail sync` instead)
    sync_minutes: float = 0.0
    max_message_mb: float = 25.0  # a larger message is stored without its body and attachments

    @classmethod
    def from_table(cls, table: Any) -> MailConfig | None:
        if not isinstance(table, dict):
            return None
        minutes, size = table.get("sync_minutes", 0), table.get("max_message_mb", 25)
        for key, value in (("sync_minutes", minutes), ("max_message_mb", size)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidInput(f"[mail] {key} in the config file must be a number, not {value!r}")
        addresses = table.get("addresses") or ()
        return cls(imap=ImapConfig.from_table(table.get("imap"), default_env="CRM_IMAP_PASSWORD"),
                   team=ImapConfig.from_table(table.get("team"), default_env="CRM_TEAM_IMAP_PASSWORD"),
                   addresses=tuple(str(a).strip().lower() for a in
                                   (addresses if isinstance(addresses, list) else [addresses])),
                   sync_minutes=float(minutes), max_message_mb=float(size) or 25.0)


@dataclass(frozen=True)
class QuotesConfig:
    """The [quotes] table: what a quote's PDF and Markdown say about the team, and its defaults::

        [quotes]
        company = "Acme Sales Ltd"
        address = "1 Main St\\nSpringfield"     # lines
        logo = "~/logo.png"                      # an image path (PNG or JPEG)
        footer = "Acme Sales Ltd · VAT GB123"
        valid_days = 30                          # a new quote is valid this many days
        terms = "Payment within 30 days."        # a new quote's terms unless given
        font = "/path/to/font.ttf"               # a Unicode TrueType font for the PDF (else a system one)
    """

    company: str = ""
    address: str = ""
    logo: str | None = None
    footer: str = ""
    valid_days: int = 30
    terms: str = ""
    font: str | None = None

    @classmethod
    def from_table(cls, table: Any) -> QuotesConfig:
        if not isinstance(table, dict):
            return cls()
        days = table.get("valid_days", 30)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 3650:
            raise InvalidInput(f"[quotes] valid_days in the config file must be a number of days, not {days!r}")
        logo = table.get("logo")
        return cls(company=str(table.get("company", "")), address=str(table.get("address", "")),
                   logo=str(Path(str(logo)).expanduser()) if logo else None, footer=str(table.get("footer", "")),
                   valid_days=days, terms=str(table.get("terms", "")),
                   font=str(Path(str(table["font"])).expanduser()) if table.get("font") else None)


@dataclass(frozen=True)
class SupportConfig:
    """The [support] table: the service desk (issue 23)::

        [support]
        addresses = ["support@acme.com"]     # mail sync turns mail to these into cases
        team = "Support"                     # the queue a new case goes to unless given
        ack_template = "Case received"       # the email template that acknowledges a new case
        csat_template = "How did we do?"     # the email template of the CSAT survey
        survey_url = "https://crm.acme.com"  # where `crm serve` answers surveys (/survey/<token>)
        secret_env = "CRM_SURVEY_SECRET"     # the variable holding the key that signs survey links
        soon_minutes = 60                    # "breaching soon": an SLA target this close
    """

    addresses: tuple[str, ...] = ()
    team: str | None = None
    ack_template: str | None = None
    csat_template: str | None = None
    survey_url: str | None = None
    secret_env: str = "CRM_SURVEY_SECRET"
    soon_minutes: int = 60

    def sender(self, name: str | None = None, address: str | None = None) -> str | None:
        """The From of the service desk's email: `name` (else the team's, else "Support") at `address`
        (else the first support address), so that replies come back to the support mailbox; None
        when no support address is set (the agent's own address, or the [smtp] sender)."""
        address = address or (self.addresses[0] if self.addresses else None)
        if not address:
            return None
        from email.utils import formataddr

        return formataddr((name or self.team or "Support", address))

    @classmethod
    def from_table(cls, table: Any) -> SupportConfig:
        if not isinstance(table, dict):
            return cls()
        addresses = table.get("addresses", ())
        if isinstance(addresses, str):
            addresses = (addresses,)
        if not isinstance(addresses, (list, tuple)) or not all(isinstance(a, str) and "@" in a for a in addresses):
            raise InvalidInput(f"[support] addresses in the config file must be email addresses, not {addresses!r}")
        soon = table.get("soon_minutes", 60)
        if isinstance(soon, bool) or not isinstance(soon, int) or not 0 < soon <= 7 * 24 * 60:
            raise InvalidInput(f"[support] soon_minutes in the config file must be a number of minutes, not {soon!r}")

        def text_(key: str) -> str | None:
            value = table.get(key)
            return str(value) if value not in (None, "") else None

        return cls(addresses=tuple(a.strip().lower() for a in addresses), team=text_("team"),
                   ack_template=text_("ack_template"), csat_template=text_("csat_template"),
                   survey_url=(text_("survey_url") or "").rstrip("/") or None,
                   secret_env=text_("secret_env") or "CRM_SURVEY_SECRET", soon_minutes=soon)


@dataclass(frozen=True)
class Settings:
    """What the config file may say, typed. Every key is optional. Loaded once, by the CLI (which
    starts the app), and handed down: nothing below the CLI and the app reads the file."""

    database_url: str | None = None
    user: str | None = None
    timezone: str | None = None
    currency: str = "USD"
    # how people here write numbers ("de_DE": 12.500,50); amounts are read with its separators
    locale: str | None = None
    # the zone reports bucket days, weeks and months in, the same for everyone on the team
    team_timezone: str | None = None
    # the country of phone numbers typed without +code ("US"): stored E.164 (CRM_PHONE_COUNTRY overrides)
    phone_country: str | None = None
    # how people here write an ambiguous numeric date (03/04/2027): "dmy", "mdy" or "ymd"; without it
    # such a date is refused, never guessed (CRM_DATE_ORDER overrides)
    date_order: str | None = None
    # how often the app runs the workflow engine ([workflows] interval_minutes); 0 turns that off
    workflow_interval_minutes: float = 5.0
    # the rules file ([workflows] file); None: workflows.toml in the config dir
    workflows_file: Path | None = None
    # how often the app looks for changes teammates saved ([live] refresh_seconds); 0 turns that off
    live_refresh_seconds: float = 1.0
    # email from workflows ([smtp]); None: email is off
    smtp: SmtpConfig | None = None
    # mail capture ([mail]); None: no mailbox to sync
    mail: MailConfig | None = None
    # quotes' letterhead and defaults ([quotes])
    quotes: QuotesConfig = QuotesConfig()
    # the service desk ([support])
    support: SupportConfig = SupportConfig()


def load_settings(path: Path | None = None) -> Settings:
    """The config file (config_path() unless given) with the environment's overrides. Only the CLI
    (and the tests) call this; the app and the engine are handed what it returned."""
    path = path or config_path()
    if not path.exists():
        return parse_settings({})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_settings(data)


def parse_settings(data: dict) -> Settings:
    """Settings from the config file's parsed TOML, with the environment's overrides."""
    return Settings(
        database_url=data.get("database_url"),
        user=data.get("user"),
        timezone=data.get("timezone"),
        currency=str(data.get("currency", "USD")).upper(),
        locale=os.environ.get("CRM_LOCALE") or data.get("locale"),
        team_timezone=data.get("team_timezone"),
        phone_country=_phone_country(data),
        date_order=_date_order(data),
        workflow_interval_minutes=_workflow_interval(data),
        workflows_file=_workflows_file(data),
        live_refresh_seconds=_live_refresh(data),
        smtp=SmtpConfig.from_table(data.get("smtp")),
        mail=MailConfig.from_table(data.get("mail")),
        quotes=QuotesConfig.from_table(data.get("quotes")),
        support=SupportConfig.from_table(data.get("support")),
    )


def _workflows_file(data: dict) -> Path | None:
    table = data.get("workflows")
    named = table.get("file") if isinstance(table, dict) else None
    return Path(str(named)).expanduser() if named else None


def _phone_country(data: dict) -> str | None:
    if env := os.environ.get("CRM_PHONE_COUNTRY"):
        return phone_country(env, "CRM_PHONE_COUNTRY")
    value = data.get("phone_country")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"phone_country in the config file must be a two-letter country code, not {value!r}")
    return phone_country(value, "phone_country in the config file")


def _date_order(data: dict) -> str | None:
    if env := os.environ.get("CRM_DATE_ORDER"):
        return check_order(env, "CRM_DATE_ORDER")
    value = data.get("date_order")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"date_order in the config file must be dmy, mdy or ymd, not {value!r}")
    return check_order(value, "date_order in the config file")


def _workflow_interval(data: dict) -> float:
    table = data.get("workflows")
    value = table.get("interval_minutes", 5.0) if isinstance(table, dict) else 5.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidInput(f"[workflows] interval_minutes in the config file must be a number of minutes, not {value!r}")
    return float(value)


def _live_refresh(data: dict) -> float:
    table = data.get("live")
    value = table.get("refresh_seconds", 1.0) if isinstance(table, dict) else 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidInput(f"[live] refresh_seconds in the config file must be a number of seconds, not {value!r}")
    return float(value)


def team_timezone(settings: Settings) -> str:
    """The first of: CRM_TEAM_TIMEZONE, `team_timezone` in the config file, `timezone` there, UTC.

    Never the machine's zone: two teammates on different machines must see the same report."""
    if env := os.environ.get("CRM_TEAM_TIMEZONE"):
        return env.strip()
    return settings.team_timezone or settings.timezone or "UTC"


def resolve_database_url(cli_url: str | None, settings: Settings) -> str:
    """The first of: --db, CRM_DATABASE_URL, the config file, the embedded SQLite default."""
    if cli_url:
        return _as_url(cli_url)
    if env := os.environ.get("CRM_DATABASE_URL"):
        return _as_url(env)
    if settings.database_url:
        return _as_url(settings.database_url)
    return f"sqlite:///{default_database_path()}"


def _as_url(value: str) -> str:
    """Accept a bare file path as shorthand for a SQLite URL."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def os_login() -> str:
    """The login of the account this process runs as, from the operating system itself (the
    process's user id), never from $USER or $LOGNAME, which anyone can set."""
    try:
        import pwd
    except ImportError:  # pragma: no cover - Windows: no user ids; the account name is all there is
        import getpass

        return getpass.getuser().strip().lower()
    return pwd.getpwuid(os.geteuid()).pw_name.strip().lower()


@dataclass(frozen=True)
class LoginRequest:
    """Who asks to act as whom: the OS login this process runs as, and the CRM login asked for
    (None: whoever that OS login, or on PostgreSQL the database login, is) and where it came from."""

    os_login: str
    login: str | None = None
    source: str | None = None  # "--user", "CRM_USER" or "the config file"


def login_request(cli_user: str | None, settings: Settings) -> LoginRequest:
    """The login asked for is the first of: --user, CRM_USER, `user` in the config file. Whether
    this OS (or database) login may act as it is decided by services.users.sign_in."""
    me = os_login()
    if cli_user and cli_user.strip():
        return LoginRequest(me, cli_user.strip().lower(), "--user")
    if (env := os.environ.get("CRM_USER")) and env.strip():
        return LoginRequest(me, env.strip().lower(), "CRM_USER")
    if settings.user and str(settings.user).strip():
        return LoginRequest(me, str(settings.user).strip().lower(), "the config file")
    return LoginRequest(me)


def check_order(order: str | None, label: str = "date_order") -> str | None:
    """A configured date order, normalised ("dmy", "mdy" or "ymd"), or None when not set."""
    if order is None or not str(order).strip():
        return None
    key = str(order).strip().lower().replace("-", "").replace("/", "")
    if key not in DATE_ORDERS:
        raise InvalidInput(f"invalid {label} {order!r}: use dmy, mdy or ymd")
    return key


def phone_country(value: str | None, what: str = "--country") -> str | None:
    """A default country for phone numbers ("us" -> "US"), or None when not given."""
    code = (value or "").strip().upper() or None
    if code is None:  # no country set: phonenumbers need not load (the settings are read at every start)
        return None
    import phonenumbers

    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"{what} {value!r}: use a two-letter country code such as US or FR")
    return code
