"""All models, imported so that metadata and migrations see every table."""

from .audit import AuditEvent, AuditHead
from .designer import ProcessDraft
from .documents import Attachment, Blob, Comment
from .monitoring import CycleRollup, InstanceFact, RoadmapMeasureFact, StepFact, StepRollup
from .notification import Notification, NotificationPreference, TaskReminder
from .org import TIERS, ApiToken, OrgUnit, RoleGrant, User
from .process import HumanTask, ProcessInstance, ProcessVersion, TaskCandidate
from .schedule import ScheduledStart
from .signature import Signature
from .substitution import Substitution
from .task_draft import TaskDraft

__all__ = [
    "TIERS",
    "ApiToken",
    "Attachment",
    "Blob",
    "Comment",
    "CycleRollup",
    "AuditEvent",
    "AuditHead",
    "HumanTask",
    "InstanceFact",
    "Notification",
    "NotificationPreference",
    "OrgUnit",
    "ProcessDraft",
    "ProcessInstance",
    "ProcessVersion",
    "RoadmapMeasureFact",
    "RoleGrant",
    "ScheduledStart",
    "Signature",
    "StepFact",
    "StepRollup",
    "Substitution",
    "TaskCandidate",
    "TaskDraft",
    "TaskReminder",
    "User",
]
