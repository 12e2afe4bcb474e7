"""Secrets (the SMTP password, the IMAP passwords of your mailbox and of the team BCC box): from an
environment variable, else the system keyring; never from the database, the config file or a log.

A keyring that is missing or fails (a headless server has no backend) counts as "not there".
`keyring` is imported on first use: most commands never need a secret.
"""

from __future__ import annotations

import os
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
    return True


NO_KEYRING = "no keyring backend works here (a server without a desktop session has none)"


def _why(exc: BaseException) -> str:
    """One line for a keyring failure (never the secret: the backends' messages do not hold it)."""
    if isinstance(exc, ImportError) or type(exc).__name__ == "NoKeyringError":
        return NO_KEYRING
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
