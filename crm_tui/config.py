"""Settings: where config and data live, and the config file (TOML) with env overrides."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from crm_tui.errors import InvalidInput

APP_NAME = "crm-tui"


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


def default_database_path() -> Path:
    return data_dir() / "crm.db"


@dataclass(frozen=True)
class Settings:
    """What the config file may say. Every key is optional."""

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
    # how often the app looks for changes teammates saved ([live] refresh_seconds); 0 turns that off
    live_refresh_seconds: float = 1.0
    raw: dict = field(default_factory=dict)


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_path()
    if not path.exists():
        return Settings(locale=os.environ.get("CRM_LOCALE") or None, phone_country=_phone_country({}),
                        date_order=_date_order({}))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc.strerror}") from None
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
        live_refresh_seconds=_live_refresh(data),
        raw=data,
    )


def _phone_country(data: dict) -> str | None:
    from crm_tui.services.validation import phone_country

    if env := os.environ.get("CRM_PHONE_COUNTRY"):
        return phone_country(env, "CRM_PHONE_COUNTRY")
    value = data.get("phone_country")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"phone_country in the config file must be a two-letter country code, not {value!r}")
    return phone_country(value, "phone_country in the config file")


def _date_order(data: dict) -> str | None:
    from crm_tui.services.dates import check_order

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


def team_timezone(settings: Settings | None = None) -> str:
    """The first of: CRM_TEAM_TIMEZONE, `team_timezone` in the config file, `timezone` there, UTC.

    Never the machine's zone: two teammates on different machines must see the same report."""
    if env := os.environ.get("CRM_TEAM_TIMEZONE"):
        return env.strip()
    settings = settings or load_settings()
    return settings.team_timezone or settings.timezone or "UTC"


def resolve_database_url(cli_url: str | None = None, settings: Settings | None = None) -> str:
    """The first of: --db, CRM_DATABASE_URL, the config file, the embedded SQLite default."""
    if cli_url:
        return _as_url(cli_url)
    if env := os.environ.get("CRM_DATABASE_URL"):
        return _as_url(env)
    settings = settings or load_settings()
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


def login_request(cli_user: str | None = None, settings: Settings | None = None) -> LoginRequest:
    """The login asked for is the first of: --user, CRM_USER, `user` in the config file. Whether
    this OS (or database) login may act as it is decided by services.users.sign_in."""
    me = os_login()
    if cli_user and cli_user.strip():
        return LoginRequest(me, cli_user.strip().lower(), "--user")
    if (env := os.environ.get("CRM_USER")) and env.strip():
        return LoginRequest(me, env.strip().lower(), "CRM_USER")
    settings = settings or load_settings()
    if settings.user and str(settings.user).strip():
        return LoginRequest(me, str(settings.user).strip().lower(), "the config file")
    return LoginRequest(me)
