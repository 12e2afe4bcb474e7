"""Where `crm mail ingest` reads messages from: RFC 822 files, mbox files, Maildirs, or a pipe (a
message or an mbox on stdin, as mutt's and aerc's pipe commands send it). One message at a time:
an mbox of a million messages is never read whole."""

from __future__ import annotations

import mailbox
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from crm_tui.errors import InvalidInput
from crm_tui.services.mail_capture.capture import RawMail

DEFAULT_MAX_BYTES = 25_000_000


def header_block(data: bytes) -> bytes:
    """The header lines of a message (to its first empty line)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = data.find(sep)
        if at >= 0:
            return data[:at + len(sep)]
    return data[:65536]


def _sized(data: bytes, where: str, max_bytes: int) -> RawMail:
    if len(data) > max_bytes:
        return RawMail(header_block(data), where=where, too_large=len(data))
    return RawMail(data, where=where)


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def read_paths(paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawMail]:
    """Every message in the files and Maildirs named, in order. A path that is neither is an error
    before anything is read (the caller checks them with `check_paths` first)."""
    for path in map(Path, paths):
        if is_maildir(path):
            yield from _maildir(path, max_bytes)
        elif _is_mbox(path):
            yield from _mbox(path, max_bytes)
        else:
            yield _sized(path.read_bytes(), path.name, max_bytes)


def check_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The paths, each a readable file or a Maildir; else one clear error, nothing read."""
    found = []
    for path in map(Path, paths):
        if path.is_dir() and not is_maildir(path):
            raise InvalidInput(f"{path} is a folder but not a Maildir (it has no cur/ and new/)")
        if not path.exists():
            raise InvalidInput(f"no such file: {path}")
        found.append(path)
    return found


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _mbox(path: Path, max_bytes: int) -> Iterator[RawMail]:
    box = mailbox.mbox(path, create=False)
    try:
        for n, key in enumerate(box.iterkeys(), start=1):
            yield _sized(box.get_bytes(key), f"{path.name} #{n}", max_bytes)
    finally:
        box.close()


def _maildir(path: Path, max_bytes: int) -> Iterator[RawMail]:
    for sub in ("new", "cur"):
        for file in sorted((path / sub).iterdir()):
            if file.is_file() and not file.name.startswith("."):
                yield _sized(file.read_bytes(), f"{path.name}/{sub}/{file.name}", max_bytes)


def read_stream(stream: BinaryIO, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RawMail]:
    """A message, or an mbox (lines starting "From " between messages), from a pipe."""
    first = stream.readline()
    if not first.startswith(b"From "):
        yield _sized(first + stream.read(), "stdin", max_bytes)
        return
    lines: list[bytes] = []
    n = 0
    previous_blank = True
    for line in stream:
        if line.startswith(b"From ") and previous_blank and lines:
            n += 1
            yield _sized(_unquote(lines), f"stdin #{n}", max_bytes)
            lines = []
        else:
            lines.append(line)
        previous_blank = not line.strip()
    if lines:
        yield _sized(_unquote(lines), f"stdin #{n + 1}", max_bytes)


def _unquote(lines: list[bytes]) -> bytes:
    """An mbox message's lines, with the ">From " quoting taken off (mboxrd)."""
    out = [line[1:] if line.startswith(b">") and line.lstrip(b">").startswith(b"From ") else line for line in lines]
    return b"".join(out)
