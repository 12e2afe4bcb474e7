"""Issue 16, item 3: `--user`, CRM_USER and the config file's `user` cannot make someone else.

Who you really are is the OS login of the process on SQLite (from the user id, not $USER) and the
database login on PostgreSQL (a real login per person here, with the GRANTs `crm user grants`
prints). Only an admin (or the storage's own admin: the file's owner, a superuser or the database
owner) may act as another user, and the audit then records both: "ann (as bob)".

Each case is one row: who really runs `crm`, how they ask for a user, which user, and what must
happen (None: refused, nothing written; else the audit's "who" of the change)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from crm_tui import config
from crm_tui.cli.main import app
from crm_tui.services import users
from tests.security.conftest import Crm, row_counts

# who really runs crm -> the CRM user they are, and that user's role ("" for no CRM user)
PEOPLE = {"ann": "admin", "bob": "sales", "eve": "sales", "dora": "admin", "mallory": ""}
DEACTIVATED = {"dora"}

REFUSED = None
CASES = [
    # (real identity, how the user is asked for, which user, the audit's "who" or REFUSED)
    ("eve", "--user", "bob", REFUSED),
    ("eve", "CRM_USER", "bob", REFUSED),
    ("eve", "config", "bob", REFUSED),
    ("eve", "--user", "ann", REFUSED),  # a seller cannot become the admin
    ("eve", "CRM_USER", "root", REFUSED),  # nor a name that is no user at all
    ("mallory", "--user", "bob", REFUSED),  # a login with no CRM user of its own
    ("mallory", "CRM_USER", "mallory", REFUSED),
    ("mallory", None, None, REFUSED),
    ("dora", "--user", "bob", REFUSED),  # a deactivated admin is no admin
    ("eve", None, None, "eve"),
    ("eve", "--user", "eve", "eve"),
    ("eve", "config", "eve", "eve"),
    ("bob", "CRM_USER", "bob", "bob"),
    ("ann", "--user", "bob", "ann (as bob)"),
    ("ann", "CRM_USER", "eve", "ann (as eve)"),
    ("ann", "config", "bob", "ann (as bob)"),
]


class Identities:
    """Runs `crm` as a given real identity: on SQLite by the OS login the process reports, on
    PostgreSQL by connecting as a database login of that person's own (created here, dropped after)."""

    def __init__(self, db_url: str, monkeypatch) -> None:
        self.db_url = db_url
        self.monkeypatch = monkeypatch
        self.is_pg = db_url.startswith("postgresql")
        self.suffix = uuid.uuid4().hex[:8]
        self.roles: list[str] = []

    def name(self, person: str) -> str:
        """The real identity's name: the OS login itself, or a database login unique to this test."""
        return f"crm_{person}_{self.suffix}" if self.is_pg else person

    def create_login(self, person: str, *, admin: bool = False) -> str:
        """PostgreSQL: a LOGIN role for `person` with the GRANTs `crm user grants` prints."""
        role = self.name(person)
        engine = sa.create_engine(self.db_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
            self.roles.append(role)
            for statement in users.database_grants(role, admin=admin):
                conn.execute(sa.text(statement))
        engine.dispose()
        return role

    def crm(self, person: str) -> Crm:
        """A `crm` runner whose process is `person` to the storage (the runner adds no --user)."""
        if self.is_pg:
            if self.name(person) not in self.roles:
                self.create_login(person)
            return Crm(sa.engine.make_url(self.db_url).set(username=self.name(person))
                       .render_as_string(hide_password=False))
        self.monkeypatch.setattr(config, "os_login", lambda: person)
        return Crm(self.db_url)

    def drop(self) -> None:
        if not self.roles:
            return
        engine = sa.create_engine(self.db_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for role in self.roles:
                conn.execute(sa.text(f'DROP OWNED BY "{role}"'))  # its privileges in this database
                conn.execute(sa.text(f'DROP ROLE "{role}"'))
        engine.dispose()


def run(crm: Crm, how: str | None, login: str | None, *args: str, monkeypatch, tmp_path):
    """`crm ARGS`, asking for `login` the way `how` says (never with the runner's own --user)."""
    argv = ["--db", crm.db_url]
    if how == "--user":
        argv += ["--user", login]
    elif how == "CRM_USER":
        monkeypatch.setenv("CRM_USER", login)
    elif how == "config":
        (tmp_path / "config").mkdir(exist_ok=True)
        (tmp_path / "config" / "config.toml").write_text(f'user = "{login}"\n', encoding="utf-8")
    return crm.runner.invoke(app, [*argv, *args])


@pytest.fixture
def team(db, db_url, monkeypatch, now):
    """ann (admin, the first user), bob and eve (sales), dora (a deactivated admin); on PostgreSQL
    each also has a database login of their own, mapped to their CRM user (users.os_login)."""
    who = Identities(db_url, monkeypatch)
    with db.write() as session:
        ann = users.actor_for(session, login="ann", now=now)
        for login, role in PEOPLE.items():
            if role and login != "ann":
                users.create_user(session, data={"login": login, "role": role}, actor=ann, now=now)
        for login in DEACTIVATED:
            users.update_user(session, user_id=users.resolve_user(session, login).id, changes={"active": False},
                              actor=ann, now=now)
    if who.is_pg:  # an admin maps each person's database login to their CRM user (made when used)
        with db.write() as session:
            for person, role in PEOPLE.items():
                if role:
                    users.update_user(session, user_id=users.resolve_user(session, person).id,
                                      changes={"os_login": who.name(person)}, actor=ann, now=now)
    yield who
    who.drop()


def _last_contact_audit(db_url: str) -> tuple[str, str | None]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT actor, via FROM audit_events WHERE entity = 'contact' "
                                   "ORDER BY id DESC LIMIT 1")).one()
    engine.dispose()
    return row.actor, row.via


@pytest.mark.parametrize(("person", "how", "login", "expected"), CASES)
def test_who_may_act_as_whom(team, db_url, person, how, login, expected, monkeypatch, tmp_path):
    crm = team.crm(person)
    before = row_counts(db_url)
    result = run(crm, how, login, "contact", "add", "--first", "Spoof", monkeypatch=monkeypatch,
                 tmp_path=tmp_path)
    if expected is REFUSED:
        assert result.exit_code != 0, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert "Traceback" not in result.output
        assert row_counts(db_url) == before
        return
    assert result.exit_code == 0, result.output
    actor, via = _last_contact_audit(db_url)
    shown = f"{via} (as {actor})" if via else actor
    real, _, acted = expected.partition(" (as ")
    assert shown == (f"{team.name(real)} (as {acted}" if acted else expected)
    audit = run(crm, how, login, "audit", "--entity", "contact", monkeypatch=monkeypatch, tmp_path=tmp_path)
    assert audit.exit_code == 0, audit.output
    assert shown in audit.stdout  # `crm audit` shows who really acted


def test_the_os_login_comes_from_the_user_id_not_the_environment(monkeypatch):
    import os
    import pwd

    monkeypatch.setenv("USER", "ann")
    monkeypatch.setenv("LOGNAME", "ann")
    monkeypatch.setenv("LNAME", "ann")
    monkeypatch.setenv("USERNAME", "ann")
    assert config.os_login() == pwd.getpwuid(os.geteuid()).pw_name


def test_the_first_user_is_linked_to_the_os_login_that_made_it(tmp_path, monkeypatch):
    """SQLite: `crm --user ann init` as OS login X makes ann the admin X signs in as; X then acts
    as bob, audited "X (as bob)"; the same `--user ann` from bob's OS login is refused."""
    db_url = f"sqlite:///{tmp_path / 'crm.db'}"
    monkeypatch.setattr(config, "os_login", lambda: "annie")
    first = Crm(db_url)
    first.ok("init", user="ann")
    first.ok("user", "add", "bob")
    assert first.json("user", "list")["items"][0]["os_login"] == "annie"
    assert first.runner.invoke(app, ["--db", db_url, "contact", "list"]).exit_code == 0  # annie is ann
    first.ok("contact", "add", "--first", "X", user="bob")
    assert _last_contact_audit(db_url) == ("bob", "annie")
    by_annie = first.json("audit", "--user", "annie", "--entity", "contact")["items"]
    assert [(e["actor"], e["via"]) for e in by_annie] == [("bob", "annie")]  # `crm audit --user` finds both
    monkeypatch.setattr(config, "os_login", lambda: "bob")
    assert "only an admin may act" in first.fails("contact", "list", user="ann").stderr
    first.ok("contact", "list", user="bob")


def test_the_owner_of_the_file_counts_as_its_admin(db_url, actor):
    """SQLite: the file's owner (this test's OS login, which is no CRM user here) may act as anyone,
    since they can rewrite the file anyway; audited as themselves."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the file owner is SQLite's; PostgreSQL's owner is in the two-logins test")
    crm = Crm(db_url)
    crm.ok("contact", "add", "--first", "X", user="ann")
    assert _last_contact_audit(db_url) == ("ann", config.os_login())


@pytest.mark.postgres
def test_two_database_logins_cannot_act_as_each_other_or_remap_themselves(team, db_url, now):
    """PostgreSQL, two real logins: bob's cannot act as eve, nor change who signs in as whom, even
    with SQL of its own (the GRANTs refuse it); eve's still signs in as eve."""
    if not team.is_pg:
        pytest.skip("database logins are PostgreSQL's")
    bob, eve = team.crm("bob"), team.crm("eve")
    assert "only an admin may act as another user" in bob.fails("contact", "list", user="eve").stderr
    assert "may not" in bob.fails("user", "edit", "eve", "--os-login", team.name("bob"), user="bob").stderr
    bob_url = bob.db_url
    engine = sa.create_engine(bob_url)
    for sql in (f"UPDATE users SET os_login = '{team.name('bob')}' WHERE login = 'eve'",
                "UPDATE users SET role = 'admin' WHERE login = 'bob'",
                "INSERT INTO users (login, name, role, active, version, created_at, updated_at) "
                "VALUES ('x', 'x', 'admin', true, 1, now(), now())",
                "UPDATE audit_events SET actor = 'eve'",
                "DELETE FROM audit_events",
                "DELETE FROM role_permissions",
                "DELETE FROM workflow_rulesets"):
        with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            conn.execute(sa.text(sql))
    engine.dispose()
    eve.ok("contact", "add", "--first", "Mine", user="eve")
    assert _last_contact_audit(db_url) == ("eve", None)
    # the superuser the suite connects as is the database's admin: it may act as bob, audited so
    Crm(db_url).ok("contact", "add", "--first", "Theirs", user="bob")
    assert _last_contact_audit(db_url) == ("bob", sa.engine.make_url(db_url).username)


def test_the_history_tabs_show_who_really_acted(now):
    from types import SimpleNamespace

    from crm_tui.models.schemas import AuditRead
    from crm_tui.screens.detail import history_columns

    who = history_columns(SimpleNamespace(actor=SimpleNamespace(timezone=None)))[1]
    event = dict(id=1, at=now, actor="bob", entity="contact", entity_id=1, action="update", field=None,
                 old_value=None, new_value=None)
    assert who.text(AuditRead(**event, via="root")) == "root (as bob)"
    assert who.text(AuditRead(**event)) == "bob"
