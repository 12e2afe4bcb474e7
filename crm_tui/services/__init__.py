"""The domain layer: every use case as a plain function over a Session.

The TUI, the CLI and the workflow engine call these and nothing below them. Nothing here
imports textual or typer. Functions are keyword-only, validate their input, write the audit
trail, and raise domain errors (crm_tui.errors) whose messages a person can read. They flush
but never commit: the caller's unit of work (`Database.write()`) commits or rolls back.
"""

__all__ = ["Actor", "system_actor"]


def __getattr__(name: str):
    # on first use: importing one service module (crm_tui.services.validation, say) must not load
    # the models and SQLAlchemy through this package (`crm --help` uses validation's printable)
    if name in __all__:
        from crm_tui.services import common

        return getattr(common, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
