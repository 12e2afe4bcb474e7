"""What every command shares: the resolved database and user, opened once per command."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import tzinfo
from functools import cached_property
from typing import TYPE_CHECKING

from crm_tui import config

if TYPE_CHECKING:  # the database and the services load when a command first asks for them
    import typer
    from sqlalchemy.orm import Session

    from crm_tui.db import Database
    from crm_tui.services.common import Actor


class CliState:
    """The global options, and the database, settings and acting user they lead to."""

    def __init__(self, *, db_arg: str | None, user_arg: str | None) -> None:
        self.db_arg = db_arg
        self.user_arg = user_arg
        self._db: Database | None = None
        self._actor: Actor | None = None
        # only `crm init`, and the app's first start on the default path, create a database
        self.may_create = False
        # the app's start reads on a plain connection before SQLAlchemy loads (services/start.py)
        self.quick_reads = False

    @cached_property
    def settings(self) -> config.Settings:
        """The config file, read once per command; the app and the engine are handed these."""
        return config.load_settings()

    @cached_property
    def url(self) -> str:
        return config.resolve_database_url(self.db_arg, self.settings)

    @cached_property
    def login_request(self) -> config.LoginRequest:
        return config.login_request(self.user_arg, self.settings)

    @property
    def db(self) -> Database:
        """The database, opened (and upgraded to the code's schema) on first use."""
        if self._db is None:
            from crm_tui.db import open_database

            self._db = open_database(self.url, create=self.may_create, quick_reads=self.quick_reads)
        return self._db

    def _resolve_actor(self, session: Session) -> Actor:
        from crm_tui.services import users

        # the one resolution the app shares: the app is handed this actor (cli/main.py)
        self._actor = users.resolve_actor(session, request=self.login_request, settings=self.settings)
        return self._actor

    @property
    def actor(self) -> Actor:
        """The acting user. Resolved in a write unit: on an empty database it becomes the admin."""
        if self._actor is None:
            with self.db.write() as session:
                self._resolve_actor(session)
        return self._actor

    @property
    def zone(self) -> tzinfo:
        """The zone times are shown in: the user's, else the config file's, else the machine's."""
        return self.actor.zone

    @contextmanager
    def write(self) -> Iterator[tuple[Session, Actor]]:
        """One unit of work with the acting user resolved inside it: all of it commits, or none."""
        resolved_here = self._actor is None
        try:
            with self.db.write() as session:
                actor = self._resolve_actor(session) if resolved_here else self._actor
                yield session, actor
        except BaseException:
            if resolved_here:  # a first user created in this unit was rolled back with it
                self._actor = None
            raise

    @contextmanager
    def read(self) -> Iterator[tuple[Session, Actor]]:
        actor = self.actor
        with self.db.read() as session:
            yield session, actor

    def run_app(self) -> None:
        """`crm` with no command: the app, on this database, as this user (cli/entry.py starts it
        without typer; the root command with it)."""
        from crm_tui.app import run_app  # textual is slow to load and no command needs it
        from crm_tui.services.start import quick_actor

        # the app's first start on the default path makes the database; a path given is opened only
        self.may_create = self.url == config.resolve_database_url(None, config.Settings())
        self.quick_reads = True
        # the everyday sign-in needs no ORM: the app paints before SQLAlchemy loads (services/start.py)
        actor = quick_actor(self.db, request=self.login_request, settings=self.settings) or self.actor
        run_app(db=self.db, actor=actor, settings=self.settings)

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


def state(ctx: typer.Context) -> CliState:
    """The state the root callback stored (a fresh one when a sub-app runs on its own)."""
    found = ctx.find_object(CliState)
    if found is None:
        found = CliState(db_arg=None, user_arg=None)
        ctx.obj = found
        ctx.call_on_close(found.close)
    return found


def quiet_library_logs() -> None:
    """Keep libraries' log records off the terminal. vobject, for one, adds a stderr handler of
    its own when the root logger has none, and logs every line of a bad vCard with its raw bytes
    (96 lines for one binary file); Python's last-resort handler would print any other library's
    warnings the same way. One NullHandler on the root stops both; what goes wrong reaches the
    person as the command's own one-line error."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
