"""Plain shapes that need no ORM: the acting user, a page of a list and its cursor, the contact
list's row. The services hand them out (and re-export them where they always have); the app's first
frame uses them before SQLAlchemy and the models are loaded (services/start.py)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Generic, TypeVar

from crm_tui.clock import get_zone
from crm_tui.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE = 500
# `before=END` asks for the last page (the End key of a list).
END = "end"


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, or the system (workflow engine, import) with a label."""

    user_id: int | None
    login: str
    role: str = "admin"
    timezone: str | None = None
    locale: str | None = None  # how the user writes numbers (amounts); en_US when not set
    # who really acts, when an admin acts as this user (crm --user): their OS or database login
    via: str | None = None
    # the country of phone numbers typed without +code (config `phone_country`); None: kept as typed
    phone_country: str | None = None
    # the zone a calendar day (a close date, a report's month) is in: config.team_timezone; UTC when not set
    team_timezone: str | None = None
    date_order: str | None = None  # how the user writes 03/04/2027: "dmy", "mdy" or "ymd"; refused when not set

    @property
    def zone(self) -> tzinfo:
        """The zone this user's times are shown and typed in: theirs (which services.users.resolve_actor
        fills from the config file's when they set none), else the machine's."""
        return get_zone(self.timezone)

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    @property
    def label(self) -> str:
        """ "bob", or "root (as bob)" when root acts as bob."""
        return f"{self.via} (as {self.login})" if self.via else self.login


def system_actor(name: str = "system") -> Actor:
    return Actor(user_id=None, login=f"system:{name}" if name != "system" else "system", role="admin")


@dataclass(frozen=True)
class Cursor:
    value: Any
    id: int

    def encode(self) -> str:
        value = self.value
        kind = None
        if isinstance(value, datetime):
            value, kind = value.isoformat(), "dt"
        elif isinstance(value, date):
            value, kind = value.isoformat(), "d"
        raw = json.dumps([value, kind, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            value, kind, id_ = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if kind == "dt":
                value = datetime.fromisoformat(value)
            elif kind == "d":
                value = date.fromisoformat(value)
            return cls(value, int(id_))
        except (ValueError, TypeError, json.JSONDecodeError):
            raise InvalidInput(f"invalid page cursor {token!r}") from None


@dataclass
class Page(Generic[T]):
    items: list[T]
    # pass as `after` for the next page; None at the end of the list
    next_cursor: str | None = None
    # pass as `before` for the previous page; None at the start of the list
    prev_cursor: str | None = None
    total: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ContactRow:
    """One line of the contact list."""

    id: int
    full_name: str
    company_name: str | None
    email: str | None
    phone: str | None
    lifecycle: str
    owner_login: str | None
    last_contacted_at: datetime | None
    created_at: datetime
