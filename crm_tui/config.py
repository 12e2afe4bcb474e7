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
    raw: dict = field(default_factory=dict)


def load_settings(path: Path | None = None) -> Settings:
    path = path or config_path()
    if not path.exists():
        return Settings()
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
        raw=data,
    )


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


def resolve_login(cli_user: str | None = None, settings: Settings | None = None) -> str:
    """The first of: --user, CRM_USER, the config file, the OS login name."""
    if cli_user:
        return cli_user.strip().lower()
    if env := os.environ.get("CRM_USER"):
        return env.strip().lower()
    settings = settings or load_settings()
    if settings.user:
        return settings.user.strip().lower()
    import getpass

    return getpass.getuser().strip().lower()
