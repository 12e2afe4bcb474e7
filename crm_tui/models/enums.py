"""The CRM's fixed vocabularies. Stored as plain strings, so adding a value needs no migration."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    SALES = "sales"
    MARKETING = "marketing"
    SUPPORT = "support"


class Lifecycle(StrEnum):
    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    FORMER = "former"


class Source(StrEnum):
    WEB = "web"
    REFERRAL = "referral"
    EVENT = "event"
    EMAIL_CAMPAIGN = "email_campaign"
    SOCIAL = "social"
    COLD = "cold"
    OTHER = "other"


class StageKind(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class DealStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class ActivityKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"
    STAGE_CHANGE = "stage_change"
    SYSTEM = "system"

    @property
    def is_interaction(self) -> bool:
        """Calls, emails and meetings reach the person; they move `last_contacted_at`."""
        return self in (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class TaskOrigin(StrEnum):
    MANUAL = "manual"
    RULE = "rule"


def choices(enum: type[StrEnum]) -> str:
    return ", ".join(member.value for member in enum)
