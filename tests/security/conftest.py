"""The hostile-input suite (issue 16): each file holds one family of attacks as a table of cases,
so that a new case is one more row. The `db_url`, `db` and `actor` fixtures come from
tests/conftest.py (SQLite and PostgreSQL); `crm` (the CLI runner) from tests/cli/conftest.py."""

from tests.cli.conftest import Crm, crm, row_counts, sql_compiled_once  # noqa: F401 - shared fixtures and helpers
