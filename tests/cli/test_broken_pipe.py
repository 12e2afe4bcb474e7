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
    """Enough rows that a page overflows the pipe's buffer, made once for the module."""
    path = tmp_path_factory.mktemp("pipe") / "crm.db"
    env = {**os.environ, "CRM_CONFIG_DIR": str(path.parent / "config"), "CRM_DATA_DIR": str(path.parent)}
    subprocess.run([sys.executable, "-m", "crm_tui", "--db", str(path), "--user", "ann", "init"], check=True,
                   capture_output=True, env=env, timeout=120)
    subprocess.run([sys.executable, "-m", "crm_tui", "--db", str(path), "--user", "ann", "demo", "--contacts",
                    "300", "--seed", "1"], check=True, capture_output=True, env=env, timeout=300)
    return str(path)


@pytest.mark.parametrize(("args", "needs_db"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_closed_pipe_ends_the_command_quietly(args, needs_db, request):
    env = dict(os.environ)
    if needs_db:
        args = ["--db", request.getfixturevalue("demo_db"), "--user", "ann", *args]
    code, err = _run_into_a_closed_pipe(args, env)
    assert err == "", err
    assert code in (0, 1, 141), code
