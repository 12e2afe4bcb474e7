"""A reader that goes away (`crm ... | head -3`) ends the command quietly, as it does for other
Unix tools: no "internal error", no traceback (issue 17 #24)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CASES = [  # (arguments, needs a database)
    (["--help"], False),
    (["contact", "show", "--help"], False),
    (["contact", "list", "--limit", "200"], True),
    (["contact", "list", "--limit", "200", "--json"], True),
    (["audit"], True),
]


def _run_into_a_closed_pipe(args: list[str], env: dict) -> tuple[int, str]:
    """Run `crm ARGS` with its stdout a pipe whose reading end is already closed."""
    read, write = os.pipe()
    os.close(read)  # every write now fails with EPIPE, whatever the timing
    try:
        done = subprocess.run([sys.executable, "-m", "crm_tui", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=120)
    finally:
        os.close(write)
    return done.returncode, done.stderr


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> str:
    """Enough rows that a page overflows the pipe's buffer, made once for the module (in this
    process: only the commands under test need a process of their own)."""
    from typer.testing import CliRunner

    from crm_tui.cli.main import app

    path = tmp_path_factory.mktemp("pipe") / "crm.db"
    env = {"CRM_CONFIG_DIR": str(path.parent / "config"), "CRM_DATA_DIR": str(path.parent)}
    for args in (["init"], ["demo", "--contacts", "300", "--seed", "1"]):
        result = CliRunner().invoke(app, ["--db", str(path), "--user", "ann", *args], env=env)
        assert result.exit_code == 0, result.output
    return str(path)


@pytest.mark.parametrize(("args", "needs_db"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_closed_pipe_ends_the_command_quietly(args, needs_db, request):
    env = dict(os.environ)
    if needs_db:
        args = ["--db", request.getfixturevalue("demo_db"), "--user", "ann", *args]
    code, err = _run_into_a_closed_pipe(args, env)
    assert err == "", err
    assert code in (0, 1, 141), code
