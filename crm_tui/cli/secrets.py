"""`crm secret`: keep the SMTP password (the [smtp] login's, or with --mine your own SMTP login's),
your IMAP mailbox's ([mail.imap]), the team BCC box's ([mail.team]) and the key that signs survey
links ([support]) in the system keyring, forget them, and say where each would come from, never
printing one."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from crm_tui import secrets
from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput, StorageError

app = typer.Typer(name="secret", no_args_is_help=True,
                  help="Passwords in the system keyring (SMTP, your IMAP mailbox, the team BCC box); "
                       "never in the database or a log.")

# what each secret is, by the name `crm secret set NAME` (or --NAME) takes
KINDS = ("smtp", "imap", "team", "survey")
TITLE = {"smtp": "SMTP", "imap": "IMAP", "team": "team IMAP", "survey": "survey signing", "mine": "personal SMTP"}
NOUN = {"survey": "key"}  # what each secret is called; the others are passwords
TABLE = {"smtp": "[smtp]", "imap": "[mail.imap]", "team": "[mail.team]", "survey": "[support]", "mine": "[smtp]"}


@dataclass(frozen=True)
class Login:
    """Whose password a secret is, and where it may come from: `env`, else the keyring's `secret_name`
    (the very name the SMTP sender and the IMAP sync look up)."""

    kind: str
    host: str
    username: str
    env: str
    secret_name: str

    @property
    def whose(self) -> str:
        return f"{self.username} at {self.host}"

    @property
    def title(self) -> str:
        return TITLE[self.kind]

    @property
    def noun(self) -> str:
        return NOUN.get(self.kind, "password")


def login_of(settings, kind: str) -> Login | None:
    """The login `kind` names in the config; None when its table has no host or username."""
    if kind == "survey":  # the key that signs survey links; always has a place, whatever survey_url says
        from crm_tui.services.surveys import SECRET_NAME

        support = settings.support
        return Login("survey", support.survey_url or "this CRM", "the survey links", support.secret_env, SECRET_NAME)
    if kind == "smtp":
        from crm_tui.workflows.email import smtp_login  # here: every `crm` command imports this module

        smtp = smtp_login(settings)
        return None if smtp is None else Login("smtp", smtp.host, smtp.username, smtp.env, smtp.secret_name)
    from crm_tui.services.mail_capture.imap import secret_name

    mail = settings.mail
    config = (mail.team if kind == "team" else mail.imap) if mail else None
    if config is None or not config.host or not config.username:
        return None
    return Login(kind, config.host, config.username, config.password_env,
                 secret_name(config.username, config.host))


def own_login(ctx: typer.Context) -> Login:
    """The acting user's own SMTP login: [smtp.users.<login>]'s username, else their email address,
    on the [smtp] host (workflows/email sends their email under it once its password is found)."""
    from crm_tui.services import users
    from crm_tui.workflows.email import user_login

    st = state(ctx)
    smtp = st.settings.smtp
    if smtp is None or not smtp.host:
        raise InvalidInput("set host under [smtp] in config.toml first: your password is for a login there")
    with st.read() as (session, actor):
        if actor.user_id is None:
            raise InvalidInput("--mine is a user's own SMTP login; act as a user (--user LOGIN)")
        me = users.get_user(session, user_id=actor.user_id)
    login = user_login(st.settings, login=me.login, email=me.email)
    if login is None:
        raise InvalidInput(f"{me.login} has no email address, so no SMTP login of their own: set username "
                           f"under [smtp.users.{me.login}] in config.toml, or the user's email address")
    return Login("mine", login.host, login.username, login.env, login.secret_name)


def _kind(what: str | None, *, smtp: bool, imap: bool, team: bool, survey: bool = False,
          mine: bool = False) -> str:
    """The one secret asked for: by name (smtp, imap, team, survey) or by flag; SMTP when neither says.
    `mine`: the SMTP password of your own login ("mine") rather than the [smtp] login's."""
    asked = {k for k, on in (("smtp", smtp), ("imap", imap), ("team", team), ("survey", survey)) if on}
    if what is not None:
        name = what.strip().lower()
        if name not in KINDS:
            raise InvalidInput(f"no secret {what!r}: crm keeps the SMTP password (smtp), your mailbox's (imap), "
                               "the team BCC box's (team) and the survey links' signing key (survey); the "
                               "database password belongs in PGPASSWORD or ~/.pgpass")
        asked.add(name)
    if len(asked) > 1:
        raise InvalidInput("name one secret at a time: smtp, imap, team or survey")
    kind = asked.pop() if asked else "smtp"
    if mine and kind != "smtp":
        raise InvalidInput("--mine is your own SMTP login; IMAP mailboxes and the survey key are named in the config")
    return "mine" if mine else kind


def _login(ctx: typer.Context, kind: str) -> Login:
    if kind == "mine":
        return own_login(ctx)
    login = login_of(state(ctx).settings, kind)
    if login is None:
        raise InvalidInput(f"set host and username under {TABLE[kind]} in config.toml first: "
                           "the password is for that login")
    return login


def _can_ask() -> bool:
    """Hidden input needs a terminal (getpass on a pipe would warn and read it in the clear)."""
    return sys.stdin.isatty()


WHAT_HELP = ("smtp (the [smtp] login), imap (your mailbox, [mail.imap]), team (the BCC box, [mail.team]) or "
             "survey (the key that signs survey links, [support]).")
SmtpFlag = typer.Option(False, "--smtp", help="The password of the [smtp] login (the default).")
ImapFlag = typer.Option(False, "--imap", help="The password of your mailbox, [mail.imap] (crm mail sync).")
TeamFlag = typer.Option(False, "--team", help="The password of the team BCC box, [mail.team] "
                                              "(crm mail sync --team).")
SurveyFlag = typer.Option(False, "--survey", help="The key that signs survey links ([support] secret_env), "
                                                  "at least 16 characters: `openssl rand -hex 32`.")
MineFlag = typer.Option(False, "--mine", help="With smtp: the password of your own SMTP login "
                                              "([smtp.users.<you>], else your email address), under "
                                              "which the email you send goes out.")


@app.command("set")
def set_(
    ctx: typer.Context,
    what: str | None = typer.Argument(None, help=WHAT_HELP, show_default=False),
    smtp: bool = SmtpFlag,
    imap: bool = ImapFlag,
    team: bool = TeamFlag,
    survey: bool = SurveyFlag,
    mine: bool = MineFlag,
    from_stdin: bool = typer.Option(False, "--stdin", help="Read the password from the first line of "
                                                           "standard input instead of asking."),
) -> None:
    """Store a password in the system keyring, asked for with hidden input (or read from stdin)."""
    login = _login(ctx, _kind(what, smtp=smtp, imap=imap, team=team, survey=survey, mine=mine))
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif _can_ask():
        password = typer.prompt(f"{login.title} {login.noun} for {login.whose}", hide_input=True,
                                confirmation_prompt=True)
    else:
        raise InvalidInput("no terminal to ask on: pass --stdin to read the password from standard input")
    if not password:
        raise InvalidInput(f"no {login.noun} given; nothing was stored")
    if login.kind == "survey" and len(password) < 16:
        raise InvalidInput("a survey signing key is at least 16 characters (e.g. `openssl rand -hex 32`); "
                           "nothing was stored")
    try:
        secrets.set_secret(login.secret_name, password)
    except StorageError as exc:
        raise StorageError(f"{exc.message}; give the {login.noun} in {login.env} instead") from None
    output.say(f"stored the {login.title} {login.noun} for {login.whose} in the system keyring "
               f"({secrets.keyring_backend()})")
    if secrets.from_env(login.env):
        output.say(f"note: {login.env} is set, and comes before the keyring")


@app.command("forget")
def forget(
    ctx: typer.Context,
    what: str | None = typer.Argument(None, help=WHAT_HELP, show_default=False),
    smtp: bool = SmtpFlag,
    imap: bool = ImapFlag,
    team: bool = TeamFlag,
    survey: bool = SurveyFlag,
    mine: bool = MineFlag,
) -> None:
    """Remove a password from the system keyring."""
    login = _login(ctx, _kind(what, smtp=smtp, imap=imap, team=team, survey=survey, mine=mine))
    if secrets.forget_secret(login.secret_name):
        output.say(f"removed the {login.title} {login.noun} for {login.whose} from the system keyring")
    else:
        output.say(f"the system keyring holds no {login.title} {login.noun} for {login.whose}")


def _off(ctx: typer.Context, kind: str) -> str:
    """Why a secret has no login: its table is missing, or has no host or username."""
    settings = state(ctx).settings
    if kind == "smtp":
        smtp = settings.smtp
        return ("email is off (no [smtp] host in config.toml)" if smtp is None or not smtp.host
                else "sends without logging in (no username under [smtp])")
    what = "mail sync" if kind == "imap" else "mail sync --team"
    return f"not used: `crm {what}` is off (no host and username under {TABLE[kind]} in config.toml)"


def _status_of(ctx: typer.Context, kind: str) -> dict:
    login = own_login(ctx) if kind == "mine" else login_of(state(ctx).settings, kind)
    if login is None:
        return {"login": None, "source": None, "says": _off(ctx, kind)}
    source = secrets.source_of(login.secret_name, env=login.env)
    command = "smtp --mine" if kind == "mine" else kind
    says = {"env": f"from the environment variable {login.env}",
            "keyring": f"from the system keyring ({secrets.keyring_backend()})",
            None: f"nowhere: set {login.env}, or run `crm secret set {command}`"
                  + (" (until then your email goes under the [smtp] login)" if kind == "mine" else "")}[source]
    return {"login": login.whose, "env": login.env, "keyring_entry": login.secret_name, "source": source,
            "says": says}


def _database_status(ctx: typer.Context) -> dict:
    """Where the database password comes from: psycopg (libpq) reads PGPASSWORD and ~/.pgpass itself."""
    url = make_url(state(ctx).url)
    if url.get_backend_name() != "postgresql":
        return {"source": None, "says": "a SQLite file: no password (its file mode guards it)"}
    pgpass = Path(os.environ.get("PGPASSFILE") or Path.home() / ".pgpass")
    if url.password is not None:
        source, says = "url", "in the database URL: move it to PGPASSWORD or ~/.pgpass"
    elif os.environ.get("PGPASSWORD"):
        source, says = "env", "from the environment variable PGPASSWORD"
    elif pgpass.is_file():
        source, says = "pgpass", f"from {pgpass}, if it has a line for this database"
    else:
        source, says = None, "none given (PGPASSWORD or ~/.pgpass); fine where the server trusts this login"
    return {"source": source, "says": says}


@app.command("status")
def status(
    ctx: typer.Context,
    mine: bool = typer.Option(False, "--mine", help="Also your own SMTP login's (shown anyway when "
                                                    "config.toml has [smtp.users] tables)."),
    as_json: output.Json = False,
) -> None:
    """Where each password would come from: the environment, the keyring, or nowhere (never the
    passwords themselves)."""
    smtp = state(ctx).settings.smtp
    kinds = (*KINDS, "mine") if mine or (smtp is not None and smtp.host and smtp.users) else KINDS
    found = {kind: _status_of(ctx, kind) for kind in kinds}
    database = _database_status(ctx)
    if as_json:
        output.emit_json({**found, "database": database})
        return
    for kind, one in found.items():
        who = f" for {one['login']}" if one["login"] else ""
        output.say(f"{TITLE[kind]} {NOUN.get(kind, 'password')}{who}: {one['says']}")
    output.say(f"database password: {database['says']}")
