"""An error's command-line advice (`see crm user list`) is the command line's to print: the app,
which has its own pickers and lists, shows the message without it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from crm_tui.cli.main import report
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.services import users

SERVICES = Path(__file__).resolve().parents[2] / "crm_tui" / "services"
# the sign-in's refusals: printed on the terminal before any screen, where a command is the way out
SIGN_IN = ("--os-login", "crm user add", "--active`")


def test_the_app_reads_the_message_and_the_command_line_adds_its_advice(db, capsys):
    with db.read() as s, pytest.raises(NotFound) as info:
        users.resolve_user(s, "carol")
    assert info.value.message == "no user 'carol'"
    assert info.value.cli_line == "no user 'carol'; see `crm user list`"
    assert report(info.value) == info.value.exit_code
    assert "no user 'carol'; see `crm user list`" in capsys.readouterr().err
    assert InvalidInput("plain").cli_line == "plain"


def _raised_texts(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            first = node.exc.args[0]
            parts = first.values if isinstance(first, ast.JoinedStr) else [first]
            text = "".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))
            yield node.lineno, text


def test_no_service_puts_a_command_in_an_error_message():
    found = []
    for path in sorted(SERVICES.rglob("*.py")):
        for line, text in _raised_texts(ast.parse(path.read_text(encoding="utf-8"))):
            if "`crm " in text and not any(mark in text for mark in SIGN_IN):
                found.append(f"{path.relative_to(SERVICES)}:{line}: {text}")
    assert not found, "give the command as see=..., not in the message:\n" + "\n".join(found)
