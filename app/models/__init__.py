"""All models, imported so that metadata and migrations see every table."""

from .audit import AuditEvent, AuditHead
from .documents import Attachment, Blob, Comment
from .org import TIERS, ApiToken, OrgUnit, RoleGrant, User
from .process import HumanTask, ProcessInstance, ProcessVersion, TaskCandidate

__all__ = [
    "TIERS",
    "ApiToken",
    "Attachment",
    "Blob",
    "Comment",
    "AuditEvent",
    "AuditHead",
    "HumanTask",
    "OrgUnit",
    "ProcessInstance",
    "ProcessVersion",
    "RoleGrant",
    "TaskCandidate",
    "User",
]
