"""Secrets (the SMTP password, the IMAP passwords of your mailbox and of the team BCC box): from an
environment variable, else the system keyring; never from the database, the config file or a log.

A keyring that is missing or fails (a headless server has no backend) counts as "not there".
`keyring` is imported on first use: most commands never need a secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from crm_tui.errors import StorageError

SERVICE = "crm-tui"  # the keyring's service name; the username is the secret's name

Source = Literal["env", "keyring"]


def _keyring():
    import keyring  # here: it costs ~0.1 s, and only commands that use a secret pay it

    return keyring


def from_env(env: str | None) -> str | None:
    """The variable's value; an empty one counts as unset."""
    return (os.environ.get(env) or None) if env else None


def from_keyring(name: str) -> str | None:
    """The keyring's entry for `name`, or None when there is none or no keyring works here."""
    try:
        return _keyring().get_password(SERVICE, name) or None
    except Exception:  # noqa: BLE001 - NoKeyringError, a locked or broken backend, no keyring package
        return None


def get_secret(name: str, *, env: str | None = None) -> str | None:
    """The secret: the environment variable `env` if it is set, else the keyring entry `name`."""
    return from_env(env) or from_keyring(name)


# --- a process's cache of keyring reads (the app's engine looks every tick) ---------------------
_cache: dict[str, str | None] = {}
_cache_mark: tuple | None = None
_generation = 0  # bumped by set_secret and forget_secret in this process


def _stamp() -> Path:
    """Touched by `set_secret` and `forget_secret` (`crm secret set` and `forget`, in another
    process): the running app's cached reads see the keyring changed. In the config dir, as the
    keyring, of this person on this machine."""
    from crm_tui.config import config_dir

    return config_dir() / "secrets.changed"


def _mark() -> tuple:
    path = _stamp()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    return _generation, str(path), stamp


def _changed() -> None:
    global _generation
    _generation += 1
    try:
        path = _stamp()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path)
    except OSError:
        pass  # no config dir to write: only this process learns of the change


def cached_secret(name: str, *, env: str | None = None) -> str | None:
    """`get_secret`, its keyring read kept by this process until `crm secret set` or `forget` (or
    `forget_cached`) changes it: for what runs often, as the engine's look for each user's SMTP
    password. The variable is read each time (it costs nothing)."""
    global _cache_mark
    if (value := from_env(env)) is not None:
        return value
    mark = _mark()
    if mark != _cache_mark:
        _cache.clear()
        _cache_mark = mark
    if name not in _cache:
        _cache[name] = from_keyring(name)
    return _cache[name]


def forget_cached(name: str) -> None:
    """Read `name` from the keyring again next time (its cached password was refused)."""
    _cache.pop(name, None)


def source_of(name: str, *, env: str | None = None) -> Source | None:
    """Where `get_secret` would find it ("env" or "keyring"), without handing out the value."""
    if from_env(env):
        return "env"
    return "keyring" if from_keyring(name) else None


def keyring_backend() -> str:
    """The keyring in use here, by name ("none" when no backend works), for status lines."""
    try:
        backend = _keyring().get_keyring()
    except Exception:  # noqa: BLE001 - as in from_keyring
        return "none"
    name = getattr(backend, "name", None) or type(backend).__name__
    return "none" if type(backend).__module__.startswith("keyring.backends.fail") else str(name)


def set_secret(name: str, value: str) -> None:
    """Store the secret under `name` in the system keyring (never anywhere else)."""
    if not value:
        raise StorageError("an empty secret was not stored")
    try:
        _keyring().set_password(SERVICE, name, value)
    except Exception as exc:  # noqa: BLE001 - the backend's message, never the value
        raise StorageError(f"cannot store {name!r} in the system keyring: {_why(exc)}") from None
    _changed()


def forget_secret(name: str) -> bool:
    """Remove `name` from the keyring; False when it was not there."""
    try:
        keyring = _keyring()
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot reach the system keyring: {_why(exc)}") from None
    try:
        if keyring.get_password(SERVICE, name) is None:
            return False
        keyring.delete_password(SERVICE, name)
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"cannot remove {name!r} from the system keyring: {_why(exc)}") from None
    _changed()
    return True


NO_KEYRING = "no keyring backend works here (a server without a desktop session has none)"


def _why(exc: BaseException) -> str:
    """One line for a keyring failure (never the secret: the backends' messages do not hold it)."""
    if isinstance(exc, ImportError) or type(exc).__name__ == "NoKeyringError":
        return NO_KEYRING
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
