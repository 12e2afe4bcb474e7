"""The CRM's tables (SQLModel). Importing this package registers them all on SQLModel.metadata."""

from sqlmodel import SQLModel

# Every table and shape (models/schemas.py) builds its pydantic validator when it first validates,
# not when its module is imported: a start or a command uses a handful of the sixty, and building
# them all was half the cost of importing the models (bench/bench_process.py). Set before any of
# them is defined; each class reads its parents' config as it is made.
SQLModel.model_config["defer_build"] = True

from crm_tui.models.activity import Activity
from crm_tui.models.audit import AuditEvent
from crm_tui.models.bulk_edit import BulkEdit
from crm_tui.models.case import BusinessCalendar, Case, CaseEntry, Holiday, SlaPolicy, Survey
from crm_tui.models.company import Company
from crm_tui.models.custom_field import CustomField
from crm_tui.models.contact import Contact, ContactEmail, ContactPhone, ContactTag, Tag
from crm_tui.models.deal import Deal
from crm_tui.models.dedupe import DedupeDismissal
from crm_tui.models.email import EmailMessage
from crm_tui.models.email_template import EmailTemplate
from crm_tui.models.enums import (
    ActivityKind,
    DealStatus,
    Direction,
    Lifecycle,
    Role,
    Source,
    StageKind,
    TaskOrigin,
)
from crm_tui.models.goal import Goal
from crm_tui.models.mail_capture import MailFolder, MailIgnore, MailSyncLog, MailTriage
from crm_tui.models.lost_reason import LostReason
from crm_tui.models.import_run import ImportRun
from crm_tui.models.pipeline import Pipeline, Stage
from crm_tui.models.product import DealItem, FxRate, Product, ProductPrice, Quote, QuoteCounter, QuoteItem
from crm_tui.models.role_permission import RolePermission
from crm_tui.models.sequence import Sequence, SequenceEnrollment, SequenceSend, SequenceStep
from crm_tui.models.task import Task
from crm_tui.models.user import User
from crm_tui.models.view import SavedView
from crm_tui.models.workflow import EmailOutbox, Notification, WorkflowCursor, WorkflowFiring, WorkflowRuleset

__all__ = [
    "Activity", "ActivityKind", "AuditEvent", "BulkEdit", "BusinessCalendar", "Case", "CaseEntry", "Holiday", "SlaPolicy", "Survey", "Company", "Contact", "ContactEmail", "ContactPhone",
    "ContactTag", "CustomField", "Deal", "DealStatus", "DedupeDismissal", "Direction", "EmailMessage", "EmailTemplate", "Goal", "ImportRun", "Lifecycle",
    "LostReason", "MailFolder", "MailIgnore", "MailSyncLog", "MailTriage", "Pipeline", "Role", "RolePermission", "SavedView", "DealItem", "FxRate", "Product", "ProductPrice", "Quote", "QuoteCounter", "QuoteItem", "Sequence", "SequenceEnrollment", "SequenceSend", "SequenceStep",
    "Source", "Stage", "StageKind", "Tag", "Task", "TaskOrigin", "User",
    "EmailOutbox", "Notification", "WorkflowCursor", "WorkflowFiring", "WorkflowRuleset",
]
