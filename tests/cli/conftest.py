"""Helpers for driving `crm` through typer's CliRunner against the `db_url` databases."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from typer.testing import CliRunner

import crm_tui.models  # noqa: F401 - registers every table on SQLModel.metadata
from crm_tui.cli.main import app


class Crm:
    """Runs `crm --db URL --user ann ...` and parses what it prints."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.runner = CliRunner()

    def __call__(self, *args: str, user: str = "ann", env: dict | None = None):
        return self.runner.invoke(app, ["--db", self.db_url, "--user", user, *args], env=env)

    def ok(self, *args: str, **kwargs):
        result = self(*args, **kwargs)
        assert result.exit_code == 0, f"crm {' '.join(args)} failed ({result.exit_code}): {result.output}"
        return result

    def json(self, *args: str, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    def fails(self, *args: str, code: int | None = None, **kwargs):
        """Run a command that must fail the way a person should see it: one line on stderr."""
        result = self(*args, **kwargs)
        assert result.exit_code != 0, f"crm {' '.join(args)} should have failed: {result.output}"
        if code is not None:
            assert result.exit_code == code, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert "Traceback" not in result.output
        return result


@pytest.fixture(autouse=True, scope="session")
def sql_compiled_once():
    """Each `crm` a test runs opens its own engine, and SQLAlchemy keeps the SQL it compiled per
    engine (keyed by the engine's dialect object): every command compiled all of its statements
    anew, about half of a command's time in CliRunner. Here the engines of one server (every SQLite
    file; one PostgreSQL server) share a dialect and its compiled statements, once the first of
    them has connected (a dialect learns its server's settings then). The SQL sent is the same
    either way (SQLAlchemy's cache contract); each engine keeps its own pool and events.
    tests/security uses this fixture too (its conftest imports it)."""
    import crm_tui.db
    from sqlalchemy.engine import make_url
    from sqlalchemy.util import LRUCache

    make = crm_tui.db.make_engine
    if getattr(make, "shares_compiled_sql", False):  # already in place
        yield
        return
    donors: dict[tuple, sa.Engine] = {}
    pending: dict[tuple, sa.Engine] = {}

    def make_engine(url: str, *, echo: bool = False):
        engine = make(url, echo=echo)
        parsed = make_url(url)
        key = (parsed.drivername, parsed.host, parsed.port, echo)
        donor = donors.get(key)
        if donor is None and (first := pending.get(key)) is not None \
                and hasattr(first.dialect, "default_isolation_level"):  # set when it first connected
            donor = donors[key] = first
            donor._compiled_cache = LRUCache(3000)
        if donor is not None:
            engine.dialect, engine._compiled_cache = donor.dialect, donor._compiled_cache
        else:
            pending[key] = engine
        return engine

    make_engine.shares_compiled_sql = True
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crm_tui.db, "make_engine", make_engine)
        yield


@pytest.fixture
def crm(db_url) -> Crm:
    return Crm(db_url)


_COUNTERS: dict[str, sa.Engine] = {}


def row_counts(db_url: str) -> dict[str, int]:
    """Rows in every table: what a refused command must leave untouched. One statement counts them
    all (a query a table cost a round trip each, twice a case), on an engine kept per URL whose
    connections close after each use (NullPool), so it holds nothing open between calls."""
    engine = _COUNTERS.get(db_url)
    if engine is None:
        engine = _COUNTERS[db_url] = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    tables = SQLModel.metadata.sorted_tables
    with engine.connect() as conn:
        counts = conn.execute(sa.select(*(sa.select(sa.func.count()).select_from(table).scalar_subquery()
                                          for table in tables))).one()
    return dict(zip((table.name for table in tables), counts))
