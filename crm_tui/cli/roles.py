"""`crm role`: see and change what each role may do (admins only change it)."""

from __future__ import annotations

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.services import permissions

app = typer.Typer(name="role", help="Roles: what admin, manager, sales, marketing and support may do.",
                  no_args_is_help=True)

_SHOWN = {permissions.ALL: "all", permissions.OWN: "own", permissions.NONE: "-"}


def _cell(row: permissions.MatrixRow, role: str) -> str:
    return _SHOWN[row.scopes[role]] + ("*" if role in row.changed else "")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: output.Json = False,
) -> None:
    """Each permission and what every role may do of it: all records, their own, or nothing (-)."""
    with state(ctx).read() as (session, _actor):
        rows = permissions.matrix(session)
    if as_json:
        output.emit_json({"roles": list(permissions.ROLES),
                          "items": [{"action": r.action, "description": r.description, "scopes": r.scopes,
                                     "changed": sorted(r.changed)} for r in rows]})
        return
    output.table(["Permission", *permissions.ROLES, "Lets them"],
                 [(r.action, *(_cell(r, role) for role in permissions.ROLES), r.description) for r in rows])
    if any(r.changed for r in rows):
        output.say("* changed from the default; `crm role reset [ROLE]` puts it back")


def _done(row: permissions.MatrixRow, role: str, as_json: bool) -> None:
    if as_json:
        output.emit_json({"action": row.action, "role": role, "scope": row.scopes[role]})
    else:
        output.say(f"{role} {row.action}: {row.scopes[role]}")


@app.command("grant")
def grant(
    ctx: typer.Context,
    role: str = typer.Argument(..., help="manager, sales, marketing or support."),
    action: str = typer.Argument(..., help="A permission from `crm role list`, e.g. deal.edit."),
    own: bool = typer.Option(False, "--own", help="Only on records they own or are assigned."),
    as_json: output.Json = False,
) -> None:
    """Let a role do something, on every record (or with --own, on their own)."""
    with state(ctx).write() as (session, actor):
        row = permissions.grant(session, role=role, action=action, own=own, actor=actor)
    _done(row, role.strip().lower(), as_json)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    role: str = typer.Argument(..., help="manager, sales, marketing or support."),
    action: str = typer.Argument(..., help="A permission from `crm role list`, e.g. deal.edit."),
    as_json: output.Json = False,
) -> None:
    """Take a permission away from a role."""
    with state(ctx).write() as (session, actor):
        row = permissions.revoke(session, role=role, action=action, actor=actor)
    _done(row, role.strip().lower(), as_json)


@app.command("reset")
def reset(
    ctx: typer.Context,
    role: str | None = typer.Argument(None, help="One role; every role when left out."),
) -> None:
    """Put a role (or every role) back to the default permissions."""
    with state(ctx).write() as (session, actor):
        undone = permissions.reset(session, role=role, actor=actor)
    output.say(f"{role or 'every role'} back to the defaults ({undone} change{'s' if undone != 1 else ''} undone)")
