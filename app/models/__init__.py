"""All models, imported so that metadata and migrations see every table."""

from .audit import AuditEvent, AuditHead
from .designer import ProcessDraft
from .documents import Attachment, Blob, Comment
from .notification import Notification, NotificationPreference, TaskReminder
from .org import TIERS, ApiToken, OrgUnit, RoleGrant, User
from .process import HumanTask, ProcessInstance, ProcessVersion, TaskCandidate
from .signature import Signature
from .substitution import Substitution

__all__ = [
    "TIERS",
    "ApiToken",
    "Attachment",
    "Blob",
    "Comment",
    "AuditEvent",
    "AuditHead",
    "HumanTask",
    "Notification",
    "NotificationPreference",
    "OrgUnit",
    "ProcessDraft",
    "ProcessInstance",
    "ProcessVersion",
    "RoleGrant",
    "Signature",
    "Substitution",
    "TaskCandidate",
    "TaskReminder",
    "User",
]
