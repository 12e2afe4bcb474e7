"""Printing results: rich tables for people, one JSON document for scripts, one-line errors."""

from __future__ import annotations

from typing import Annotated

import dataclasses
import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from functools import cache
from typing import TYPE_CHECKING

import typer

from crm_tui.cli.context import quiet_library_logs  # noqa: F401 - output.quiet_library_logs, as it was
from crm_tui.clock import in_zone
from crm_tui.services.validation import format_money, printable

if TYPE_CHECKING:
    from rich.console import Console

    from crm_tui.services.paging import Page

JSON_HELP = "Print one JSON document instead of a table."

# the options every list command shares, declared once: `as_json: output.Json = False`
Json = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
Limit = Annotated[int, typer.Option("--limit", help="How many to show.")]
After = Annotated[str | None, typer.Option("--after", metavar="CURSOR", help="Continue after this cursor.")]


PIPE_WIDTH = 160


@cache
def _plain_console() -> type[Console]:
    # made on first use: a command that prints only JSON (or nothing) does not load rich
    from rich.console import Console

    class PlainConsole(Console):
        """A console that sends no control character of people's text to the terminal: every str it
        prints (a line, a table's cell, title or header) goes through `printable` first, so a name
        holding ESC[2J or an OSC title, from an older database or a direct SQL write, shows as
        harmless text instead of wiping the screen. Rich itself drops only BEL, BS, VT, FF and CR."""

        def render_str(self, text: str, **kwargs: Any):
            return super().render_str(printable(text), **kwargs)

    return PlainConsole


def console(*, stderr: bool = False) -> Console:
    # made per call, so it writes to whatever sys.stdout is now (CliRunner swaps it); no markup and
    # no emoji codes: the tables hold people's text, "[/b]" in a name would fail the command and
    # ":smile:" in one would print as an emoji
    out = _plain_console()(stderr=stderr, highlight=False, markup=False, emoji=False)
    if not out.is_terminal:
        # piped into a file or another program: wrap tables less than rich's default 80
        out.width = PIPE_WIDTH
    return out


def to_jsonable(value: Any) -> Any:
    """Plain JSON values: models and rows become objects, times ISO-8601 strings."""
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


# JSON escapes C0 but not DEL or C1 (U+009B is a one-character CSI): escaped here the same way; they
# can only stand inside a string, where \u009b means the very same character
_JSON_UNESCAPED_CONTROLS = re.compile("[\x7f-\x9f]")


def emit_json(value: Any) -> None:
    text = json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)
    typer.echo(_JSON_UNESCAPED_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def emit_page_json(page: Page) -> None:
    emit_json({"items": page.items, "next_cursor": page.next_cursor, "total": page.total})


def local_time(value: datetime | None, zone: tzinfo) -> str:
    return in_zone(value, zone).strftime("%Y-%m-%d %H:%M") if value else ""


def day(value: date | None) -> str:
    return value.isoformat() if value else ""


def money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    from rich.table import Table

    grid = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        grid.add_column(name, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    console().print(grid)


def details(pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    """A record as a two-column grid of field and value; empty fields are left out."""
    from rich.table import Table

    grid = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in pairs:
        if value not in (None, "", []):
            grid.add_row(label, str(value))
    console().print(grid)


def say(message: str) -> None:
    # never wrapped: a cursor or a path must stay copyable
    console().print(message, markup=False, soft_wrap=True)


def more_hint(page: Page, *, shown: int) -> None:
    """Tell how to get the next page, when there is one."""
    if page.total is not None:
        say(f"{page.total:,} in all, {shown:,} shown")
    if page.next_cursor:
        say(f"more: repeat with --after {page.next_cursor}")


def error_line(prefix: str, message: str) -> None:
    """One line on stderr, whatever the message holds."""
    one_line = " ".join(printable(str(message)).split())
    sys.stderr.write(f"{prefix}: {one_line}\n")
    sys.stderr.flush()
