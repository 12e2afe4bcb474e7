"""Domain errors: each carries a message a person can read, shown as one line."""


class CrmError(Exception):
    """Base for every error the CRM reports to a person rather than as a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, see: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # a command that shows what there is (`crm user list`): the command line's advice, which
        # the app (with its own pickers and lists) leaves out
        self.see = see

    def __str__(self) -> str:
        return self.message

    @property
    def cli_line(self) -> str:
        """The message as the command line prints it, with its advice."""
        return f"{self.message}; see `{self.see}`" if self.see else self.message


class NotFound(CrmError):
    """The record asked for does not exist (or is not visible)."""


class InvalidInput(CrmError):
    """Input failed validation; nothing was written."""

    exit_code = 2


class Conflict(CrmError):
    """Someone else changed the record since it was read; nothing was overwritten."""

    exit_code = 3

    def __init__(self, message: str, *, entity: str = "", entity_id: int | None = None,
                 expected_version: int | None = None, current_version: int | None = None,
                 what_happened: str = "") -> None:
        super().__init__(message)
        # who changed it and when, without the advice for the command line ("reload it and ..."):
        # the app's conflict dialog offers its own ways out
        self.what_happened = what_happened or message
        self.entity = entity
        self.entity_id = entity_id
        self.expected_version = expected_version
        self.current_version = current_version


class PermissionDenied(CrmError):
    """The acting user's role does not allow this action."""

    exit_code = 4


class SchemaError(CrmError):
    """The database schema cannot be used by this version of crm."""

    exit_code = 5


class StorageError(CrmError):
    """The database could not be reached or is unusable (locked, missing, unreachable)."""

    exit_code = 6


class Forbidden(PermissionDenied):
    """The acting user's role may not do this; the message names the role that may."""


class Duplicate(InvalidInput):
    """A new record would repeat one that exists (same email, domain or company name); nothing
    was written. Names the existing record, so a form can offer to open it; the caller may insist
    with allow_duplicate=True."""

    def __init__(self, message: str, *, entity: str, existing_id: int, existing_label: str,
                 found: str | None = None) -> None:
        super().__init__(message)
        self.entity = entity
        self.existing_id = existing_id
        self.existing_label = existing_label
        # what was found, without the command line's advice (`crm ... show`, --allow-duplicate):
        # the app offers its own choices
        self.found = found or message


class UnknownCompany(NotFound):
    """A company was named that does not exist; it is created only when the person says so."""

    def __init__(self, message: str, *, name: str, see: str | None = None) -> None:
        super().__init__(message, see=see)
        self.name = name
