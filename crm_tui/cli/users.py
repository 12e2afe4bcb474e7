"""`crm user`: add, list and change the team's users."""

from __future__ import annotations

import typer

from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.services import users

OS_LOGIN_HELP = ("The OS login (SQLite) or database login (PostgreSQL) that signs in as this user, "
                 "when it is not the CRM login (\"\" to clear).")

app = typer.Typer(name="user", help="The team: add, list, edit users.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    login: str = typer.Argument(..., help="Login name (what --user and CRM_USER take)."),
    name: str | None = typer.Option(None, "--name", help="Full name."),
    email: str | None = typer.Option(None, "--email"),
    role: str = typer.Option("sales", "--role", help="admin, manager, sales, marketing or support."),
    timezone: str | None = typer.Option(None, "--timezone", help="IANA zone, e.g. Europe/Paris."),
    os_login: str | None = typer.Option(None, "--os-login", metavar="NAME", help=OS_LOGIN_HELP),
    manager: str | None = typer.Option(None, "--manager", help="Who they report to: login, email or name."),
    team: str | None = typer.Option(None, "--team", help='Team or region, e.g. "EMEA" or "Inside sales".'),
    as_json: output.Json = False,
) -> None:
    """Add a user."""
    with state(ctx).write() as (session, actor):
        user = users.create_user(session, data={"login": login, "name": name, "email": email, "role": role,
                                                "timezone": timezone, "os_login": os_login, "team": team,
                                                "manager_id": refs.user_id(session, manager)}, actor=actor)
    if as_json:
        output.emit_json(user)
    else:
        output.say(f"added user #{user.id} {user.login} ({user.role})")


@app.command("list")
def list_(
    ctx: typer.Context,
    active_only: bool = typer.Option(False, "--active", help="Leave out deactivated users."),
    as_json: output.Json = False,
) -> None:
    """List the users."""
    with state(ctx).read() as (session, _actor):
        team = users.list_users(session, include_inactive=not active_only)
    logins = {u.id: u.login for u in team}
    if as_json:
        output.emit_json({"items": [{**u.model_dump(), "manager": logins.get(u.manager_id)} for u in team]})
        return
    output.table(["ID", "Login", "Name", "Email", "Role", "Team", "Manager", "Active", "Time zone", "Signs in as"],
                 [(u.id, u.login, u.name, u.email, u.role, u.team, logins.get(u.manager_id, u.manager_id),
                   "yes" if u.active else "no", u.timezone, u.os_login) for u in team])


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="User id, login, email or name."),
    name: str | None = typer.Option(None, "--name"),
    email: str | None = typer.Option(None, "--email", help='Email ("" to clear).'),
    role: str | None = typer.Option(None, "--role", help="admin, manager, sales, marketing or support."),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Reactivate or deactivate."),
    timezone: str | None = typer.Option(None, "--timezone", help='IANA zone ("" for the machine\'s).'),
    os_login: str | None = typer.Option(None, "--os-login", metavar="NAME", help=OS_LOGIN_HELP),
    manager: str | None = typer.Option(None, "--manager", help='Who they report to: login, email or name ("" clears).'),
    team: str | None = typer.Option(None, "--team", help='Team or region ("" clears).'),
    version: int | None = typer.Option(None, "--version", help="The version you last saw."),
    as_json: output.Json = False,
) -> None:
    """Change a user's name, email, role, time zone, manager, team, active state or OS login (admins only)."""
    with state(ctx).write() as (session, actor):
        user = users.resolve_user(session, ref)
        changes = {key: value for key, value in (("name", name), ("email", email), ("role", role),
                                                 ("active", active), ("timezone", timezone), ("team", team),
                                                 ("os_login", os_login)) if value is not None}
        if manager is not None:
            changes["manager_id"] = refs.user_id(session, manager)
        user = users.update_user(session, user_id=user.id, changes=changes, actor=actor, version=version)
    if as_json:
        output.emit_json(user)
    else:
        state_text = "active" if user.active else "inactive"
        output.say(f"updated user #{user.id} {user.login} ({user.role}, {state_text})")


@app.command("grants")
def grants(
    login: str = typer.Argument(..., help="The teammate's PostgreSQL login."),
    admin: bool = typer.Option(False, "--admin", help="An admin's login: may also change users, roles and rules."),
) -> None:
    """Print the PostgreSQL GRANTs a teammate's database login needs (pipe them to psql as the owner)."""
    for statement in users.database_grants(login, admin=admin):
        output.say(f"{statement};")

