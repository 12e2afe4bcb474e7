"""Every background thread of the app goes through Textual's workers (tracked, cancelled with the
screen or app that started them), and their results come back as typed messages or as the worker's
return value, never as calls into the UI from inside the thread. A plain thread, or a call_from_thread,
anywhere in crm_tui fails this test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "crm_tui"

# what starts a thread, or calls into the UI from one; and the one module each may appear in
FORBIDDEN = {
    r"\bcall_from_thread\b": set(),
    # threading.Thread(...), Thread(...); the mail sync's prefetch: one thread fetching the next chunk
    # while this one is stored, joined before its generator returns (structured, never left running)
    r"\bThread\s*\(": {"services/mail_capture/run.py"},
    r"\b_thread\b": set(),
    # `crm serve`'s survey pages (not the Textual app): their database work runs on the web server's
    # own pool of two threads, shut down with the server
    r"\bThreadPoolExecutor\b": {"cli/survey_web.py"},
    r"\bProcessPoolExecutor\b": set(),
    # the early first page, on the loop's pool at once, tracked by a worker of its screen
    r"\brun_in_executor\b": {"background.py", "cli/survey_web.py"},
    # the palette's record search: awaited inside the command palette's own (async) worker
    r"\bto_thread\b": {"commands.py"},
}


def breaches(source: str, name: str) -> list[str]:
    """The forbidden names in `source` (the module at `name`, relative to crm_tui/)."""
    return [pattern for pattern, allowed in FORBIDDEN.items() if name not in allowed and re.search(pattern, source)]


def test_no_thread_outside_textual_workers():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if hits := breaches(path.read_text(encoding="utf-8"), name):
            found[name] = hits
    assert found == {}, "start background work with a Textual worker (@work / run_worker) and post its result " \
                        "as a Message: see crm_tui/background.py and screens/base.py"


@pytest.mark.parametrize("line", [
    "self.app.call_from_thread(self._show, found)",
    "threading.Thread(target=work, daemon=True).start()",
    "Thread(target=work).start()",
    "_thread.start_new_thread(work, ())",
    "pool = ThreadPoolExecutor(2)",
    "await loop.run_in_executor(None, work)",
    "await asyncio.to_thread(work)",
])
def test_a_breach_is_caught(line):
    assert breaches(f"def f():\n    {line}\n", "screen.py")


def test_the_allowed_places_are_still_there():
    """An allowance for a module that no longer needs it goes (the list stays the truth)."""
    for pattern, allowed in FORBIDDEN.items():
        for name in allowed:
            path = PACKAGE / name
            assert re.search(pattern, path.read_text(encoding="utf-8")), f"{name} no longer uses {pattern}"
