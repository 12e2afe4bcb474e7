"""The domain layer: every use case as a plain function over a Session.

The TUI, the CLI and the workflow engine call these and nothing below them. Nothing here
imports textual or typer. Functions are keyword-only, validate their input, write the audit
trail, and raise domain errors (crm_tui.errors) whose messages a person can read. They flush
but never commit: the caller's unit of work (`Database.write()`) commits or rolls back.
"""

from crm_tui.services.common import Actor, system_actor

__all__ = ["Actor", "system_actor"]
