"""Secrets from the environment, else the system keyring; a missing or failing keyring is "not there"
(issue 8). The keyring is an in-memory backend here, or one that fails; the real one is put back."""

from __future__ import annotations

import json
import subprocess
import sys

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.fail import Keyring as NoKeyring
from keyring.errors import KeyringError, PasswordDeleteError, PasswordSetError

from crm_tui import secrets
from crm_tui.config import parse_settings
from crm_tui.errors import StorageError
from crm_tui.workflows.email import smtp_login, smtp_settings

SMTP = {"smtp": {"host": "mail.example.com", "from": "crm@example.com", "username": "crm"}}
ENTRY = "smtp:crm@mail.example.com"


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps its entries in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


class BrokenKeyring(KeyringBackend):
    """A keyring whose backend fails at everything (a locked or crashed secret service)."""

    priority = 1

    def get_password(self, service, username):
        raise KeyringError("the secret service fell over")

    def set_password(self, service, username, password):
        raise PasswordSetError("the collection is locked")

    def delete_password(self, service, username):
        raise RuntimeError("D-Bus went away")


@pytest.fixture
def use_keyring():
    """Installs a keyring backend for the test; the original comes back after it."""
    original = keyring.get_keyring()

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(original)


def test_the_environment_comes_first_then_the_keyring(use_keyring, monkeypatch):
    ring = use_keyring(MemoryKeyring())
    assert secrets.get_secret("smtp:x@y", env="MY_PW") is None
    assert secrets.source_of("smtp:x@y", env="MY_PW") is None
    ring.set_password("crm-tui", "smtp:x@y", "from-keyring")
    assert secrets.get_secret("smtp:x@y", env="MY_PW") == "from-keyring"
    assert secrets.source_of("smtp:x@y", env="MY_PW") == "keyring"
    monkeypatch.setenv("MY_PW", "")  # set but empty: as good as unset
    assert secrets.get_secret("smtp:x@y", env="MY_PW") == "from-keyring"
    monkeypatch.setenv("MY_PW", "from-env")
    assert secrets.get_secret("smtp:x@y", env="MY_PW") == "from-env"
    assert secrets.source_of("smtp:x@y", env="MY_PW") == "env"
    assert secrets.keyring_backend().endswith("MemoryKeyring")


def test_set_and_forget_keep_the_secret_in_the_keyring_only(use_keyring):
    ring = use_keyring(MemoryKeyring())
    secrets.set_secret("smtp:x@y", "s3cret")
    assert ring.entries == {("crm-tui", "smtp:x@y"): "s3cret"}
    assert secrets.forget_secret("smtp:x@y") is True
    assert secrets.forget_secret("smtp:x@y") is False
    assert ring.entries == {}
    with pytest.raises(StorageError, match="empty"):
        secrets.set_secret("smtp:x@y", "")


@pytest.mark.parametrize("backend", [NoKeyring, BrokenKeyring], ids=["no backend", "failing backend"])
def test_a_missing_or_failing_keyring_is_not_there_and_never_a_traceback(use_keyring, backend):
    use_keyring(backend())
    assert secrets.get_secret("smtp:x@y") is None
    assert secrets.source_of("smtp:x@y") is None
    with pytest.raises(StorageError) as stored:
        secrets.set_secret("smtp:x@y", "s3cret")
    with pytest.raises(StorageError) as forgotten:
        secrets.forget_secret("smtp:x@y")
    for exc in (stored.value, forgotten.value):
        assert "s3cret" not in exc.message and "\n" not in exc.message
    if backend is NoKeyring:
        assert secrets.NO_KEYRING in stored.value.message
        assert secrets.keyring_backend() == "none"
    else:
        assert "the collection is locked" in stored.value.message


def test_no_keyring_package_is_not_there_either(monkeypatch):
    def missing():
        raise ImportError("No module named 'keyring'")

    monkeypatch.setattr(secrets, "_keyring", missing)
    assert secrets.get_secret("smtp:x@y") is None
    with pytest.raises(StorageError, match="no keyring backend"):
        secrets.set_secret("smtp:x@y", "s3cret")


def test_the_smtp_password_comes_from_the_keyring_when_the_environment_has_none(use_keyring, monkeypatch):
    monkeypatch.delenv("CRM_SMTP_PASSWORD", raising=False)
    ring = use_keyring(MemoryKeyring())
    assert smtp_login(parse_settings(SMTP)).secret_name == ENTRY
    assert smtp_settings(parse_settings(SMTP)).password is None
    ring.set_password("crm-tui", ENTRY, "Kr1ngPw")
    smtp = smtp_settings(parse_settings(SMTP))
    assert smtp.password == "Kr1ngPw" and "Kr1ngPw" not in repr(smtp)
    monkeypatch.setenv("CRM_SMTP_PASSWORD", "EnvPw")
    assert smtp_settings(parse_settings(SMTP)).password == "EnvPw"
    # without a username there is no login, so no password is looked up
    assert smtp_login(parse_settings({"smtp": {"host": "mail.example.com", "from": "crm@example.com"}})) is None


def test_a_failing_keyring_leaves_email_without_a_password(use_keyring, monkeypatch):
    monkeypatch.delenv("CRM_SMTP_PASSWORD", raising=False)
    use_keyring(BrokenKeyring())
    assert smtp_settings(parse_settings(SMTP)).password is None


def test_the_cli_does_not_load_the_keyring_until_a_secret_is_needed():
    code = ("import json, sys; import crm_tui.cli.main; "
            "print(json.dumps([m for m in ('keyring', 'crm_tui.workflows.email') if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
