"""The database tables, as typed SQLAlchemy 2.0 models (schema changes go through Alembic).

One module per area; every table is importable from `engine.models`.
"""

from engine.models.base import Base, UTCDateTime
from engine.models.identity import DirectoryLink, GroupGrant, GroupRole, PersonEvent
from engine.models.operations import (
    DeploymentLog,
    IdempotencyRecord,
    Incident,
    OutboxMessage,
    PeriodicJob,
    ProcessDraft,
    UsedToken,
)
from engine.models.people import (
    ApiToken,
    Delegation,
    LoginFailure,
    Role,
    RoleEvent,
    ServiceAccount,
    TaskCandidate,
    User,
    UserRole,
)
from engine.models.privacy import SubjectAccessSearch
from engine.models.processes import (
    Attachment,
    AuditEvent,
    DefinitionFile,
    MessageSubscription,
    ProcessDefinition,
    ProcessInstance,
    SensitiveAccess,
    TaskDraft,
    TaskRecord,
    Timer,
)
from engine.models.states import InstanceState

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "Base",
    "DefinitionFile",
    "Delegation",
    "DeploymentLog",
    "DirectoryLink",
    "GroupGrant",
    "GroupRole",
    "IdempotencyRecord",
    "Incident",
    "InstanceState",
    "LoginFailure",
    "MessageSubscription",
    "OutboxMessage",
    "PeriodicJob",
    "PersonEvent",
    "ProcessDefinition",
    "ProcessDraft",
    "ProcessInstance",
    "Role",
    "RoleEvent",
    "SensitiveAccess",
    "ServiceAccount",
    "SubjectAccessSearch",
    "TaskCandidate",
    "TaskDraft",
    "TaskRecord",
    "Timer",
    "UTCDateTime",
    "UsedToken",
    "User",
    "UserRole",
]
