"""The real `crm` in a real pseudo-terminal of 80x24: it starts and draws the contacts screen in a
256-colour terminal (TERM=xterm-256color, no COLORTERM: no true-colour escapes), and with NO_COLOR
(greys only), and quits cleanly on ctrl+q."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time

import pytest

from crm_tui.db import open_database
from crm_tui.services import contacts, users

pytestmark = pytest.mark.slow

ROWS, COLS = 24, 80
NAMES = ("Zelda Quartermain", "Yusuf Brightwater")
DEADLINE_S = 30  # an upper bound on a loaded machine; a start takes about two seconds
ANSI = re.compile(r"\x1b(?:\[[0-9;?$<>=]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Z0-9]|[=>])")
COLOUR_256 = re.compile(r"\x1b\[[0-9;]*?[34]8;5;(\d+)")
# the greys of the 256-colour palette: the 24-step ramp, the cube's diagonal, and the system greys
GREYS = set(range(232, 256)) | {16, 59, 102, 145, 188, 231} | {0, 7, 8, 15}


@pytest.fixture
def db_url(tmp_path, sqlite_template, now):
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    try:
        with db.write() as session:
            actor = users.actor_for(session, login="ann", now=now)
            for name in NAMES:
                first, last = name.split()
                contacts.create_contact(session, data={"first_name": first, "last_name": last}, actor=actor, now=now)
    finally:
        db.dispose()
    return url


class Terminal:
    """`crm` started in an 80x24 pty with `env`; `out` gathers everything it writes."""

    def __init__(self, db_url: str, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        base = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "NO_COLOR", "TERM", "TEXTUAL")}
        self.proc = subprocess.Popen([sys.executable, "-m", "crm_tui", "--db", db_url, "--user", "ann"],
                                     stdin=slave, stdout=slave, stderr=slave, env=base | env, start_new_session=True)
        os.close(slave)
        self.out, self.open = b"", True

    def read(self) -> None:
        try:
            self.out += os.read(self.master, 1 << 16)
        except OSError:  # the pty closes when the app exits
            self.open = False

    def drawn(self) -> bool:
        return all(n.encode() in self.out for n in NAMES) and b"of 2" in self.out

    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        os.close(self.master)


def wait_for(terminals: list[Terminal], done, what: str) -> None:
    """Read from every terminal until `done(terminal)` holds for each; fail naming `what`."""
    deadline = time.monotonic() + DEADLINE_S
    while not all(done(t) for t in terminals):
        late = [ANSI.sub("", t.text())[-600:] for t in terminals if not done(t)]
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {late!r}"
        ready, _, _ = select.select([t.master for t in terminals if t.open], [], [], 0.1)
        for t in terminals:
            if t.master in ready:
                t.read()


def _check_contacts_screen(out: str, code: int) -> None:
    assert code == 0, f"crm exited with {code}"
    text = ANSI.sub("", out)
    assert "1 Contacts" in text and "Contacts · 2" in text and "^p palette" in text, text[-800:]
    assert "Traceback" not in text
    assert "\x1b[38;2;" not in out and ";38;2;" not in out, "true-colour escapes in a 256-colour terminal"


def test_app_runs_in_256_colours_and_with_no_color(db_url):
    """Both at once (each start is mostly waiting on imports): draw, ctrl+q, exit 0."""
    terminals = [Terminal(db_url, {"TERM": "xterm-256color"}),
                 Terminal(db_url, {"TERM": "xterm-256color", "NO_COLOR": "1"})]
    try:
        wait_for(terminals, Terminal.drawn, "the contacts list")
        for t in terminals:
            os.write(t.master, b"\x11")  # ctrl+q
        wait_for(terminals, lambda t: t.proc.poll() is not None, "the app to quit")
        colour, no_colour = terminals
        for t in terminals:
            _check_contacts_screen(t.text(), t.proc.wait(timeout=DEADLINE_S))
        used = {int(n) for n in COLOUR_256.findall(colour.text())}
        assert used - GREYS, f"no colour at all in a 256-colour terminal: {sorted(used)}"
        used = {int(n) for n in COLOUR_256.findall(no_colour.text())}
        assert used and used <= GREYS, f"colours other than greys with NO_COLOR: {sorted(used - GREYS)}"
    finally:
        for t in terminals:
            t.close()
