"""`archive` and `unarchive` for a kind of record: the same two commands for contacts and companies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state


def add_archive_commands(app: typer.Typer, *, noun: str, ref_help: str, version_help: str,
                         find: Callable[[Any, str], Any], set_archived: Callable[..., Any],
                         label: Callable[[Any], str]) -> None:
    """Register `archive REF` and `unarchive REF` on `app`. `find(session, ref)` resolves the
    record; `set_archived(session, record_id, archived, actor, version)` is the service call."""

    def change(ctx: typer.Context, ref: str, archived: bool, version: int | None) -> None:
        with state(ctx).write() as (session, actor):
            record = find(session, ref)
            record = set_archived(session, record.id, archived, actor, version)
        output.say(f"{'archived' if archived else 'unarchived'} {noun} #{record.id} {label(record)}")

    def archive(ctx: typer.Context, ref: str = typer.Argument(..., help=ref_help),
                version: int | None = typer.Option(None, "--version", help=version_help)) -> None:
        change(ctx, ref, True, version)

    def unarchive(ctx: typer.Context, ref: str = typer.Argument(..., help=ref_help),
                  version: int | None = typer.Option(None, "--version", help=version_help)) -> None:
        change(ctx, ref, False, version)

    archive.__doc__ = f"Archive a {noun} (hidden from lists; nothing is deleted)."
    unarchive.__doc__ = f"Bring an archived {noun} back."
    app.command("archive")(archive)
    app.command("unarchive")(unarchive)
