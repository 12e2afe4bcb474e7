"""Writing a file of CRM data safely: private (0600) whatever the umask, through a temporary file
that no one can predict or plant a symlink at, renamed into place when complete; and CSV cells a
spreadsheet will not run as formulas.

A temporary file is made by tempfile.mkstemp beside its target (O_CREAT|O_EXCL, a random name,
mode 0600), named `.crm-partial-PID-XXXXXXXX`. A run that is killed leaves its file behind; the next
write into the same folder removes such leftovers, but only the current user's regular files (never
through a symlink), only when they have not changed for STALE_AFTER_S, and only when the process
that made them is gone."""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from crm_tui.errors import StorageError

PARTIAL_PREFIX = ".crm-partial-"
STALE_AFTER_S = 60
# the leftovers of a killed run: ours, and the predictable names crm wrote before (".NAME.partial-PID")
_LEFTOVER = re.compile(rf"{re.escape(PARTIAL_PREFIX)}(\d+)-.*|\..+\.partial-(\d+)", re.DOTALL)
# OWASP's list for CSV injection: a spreadsheet reads a cell starting with these as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a signed number or phone number ("-12.50", "+1 (415) 555-0100"): no letters, so no function, cell
# reference or DDE call; kept as it is, so amounts stay numbers and phones read back as typed
_PLAIN_NUMBER = re.compile(r"[+-][\d .()/-]*\d[\d .()/-]*")


def _cannot(what: str, target: Path, exc: OSError) -> StorageError:
    return StorageError(f"cannot write {what} to {target}: {exc.strerror or exc}")


@contextmanager
def partial_file(target: Path | str, *, what: str = "the file") -> Iterator[tuple[int, Path]]:
    """A new empty private file beside `target`, as (open descriptor, path). Fill it; when the
    block ends without an error it is renamed onto `target` (a symlink there is replaced, never
    followed), otherwise removed. Errors of the file system come out as one StorageError."""
    target = Path(target)
    folder = target.parent
    sweep_leftovers(folder)
    try:
        fd, name = tempfile.mkstemp(prefix=f"{PARTIAL_PREFIX}{os.getpid()}-", dir=folder)
    except OSError as exc:
        raise _cannot(what, target, exc) from None
    partial = Path(name)
    done = False
    try:
        try:
            os.fchmod(fd, 0o600)  # mkstemp's mode already; said once more, as the promise
            yield fd, partial
            os.replace(partial, target)
            done = True
        except OSError as exc:
            raise _cannot(what, target, exc) from None
    finally:
        try:
            os.close(fd)
        except OSError:
            pass  # the caller closed it (os.fdopen's file object owns it)
        if not done:
            _remove_own(partial)


@contextmanager
def private_text_file(target: Path | str, *, what: str = "the file") -> Iterator[IO[str]]:
    """partial_file as a UTF-8 text handle (newline="" for the csv module), written through the
    descriptor mkstemp opened, so the file is never opened again by its name."""
    with partial_file(target, what=what) as (fd, _partial):
        with os.fdopen(os.dup(fd), "w", encoding="utf-8", newline="") as handle:
            yield handle


def same_file(fd: int, path: Path) -> bool:
    """Whether `path` (followed) is still the file open as `fd`: for a library that must open a
    partial file by its name, a check that no one swapped a symlink in meanwhile."""
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def sweep_leftovers(folder: Path) -> list[Path]:
    """Remove the partial files killed runs left in `folder` (see the module's docstring for which);
    returns what was removed. Never fails: a folder it cannot read is left as it is."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name)
        if not match:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid()
                or now - info.st_mtime < STALE_AFTER_S or _alive(int(match.group(1) or match.group(2)))):
            continue
        if _remove_own(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid at all: leave the file be
    return True


def _remove_own(path: Path) -> bool:
    """Unlink `path` if it is still our own regular file (unlink never follows a symlink)."""
    try:
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
            path.unlink()
            return True
    except OSError:
        pass
    return False


def csv_safe(cell: str) -> str:
    """A cell a spreadsheet shows as text, not runs as a formula (OWASP's advice: a leading ')."""
    if cell.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
