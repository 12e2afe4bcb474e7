"""Alembic migrations. `crm_tui.db.HEAD` names the newest revision; a test keeps it equal to the
scripts' head, so opening a database checks it without loading Alembic at all."""
