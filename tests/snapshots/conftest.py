from tests.tui.conftest import actor_sqlite, sqlite_db  # noqa: F401 - shared fixtures
