"""All tables, one module per table (or per tight pair), imported here so metadata is complete."""

from server.models.audit import AuditEntry
from server.models.client import Caregiver, Client
from server.models.login_session import LoginSession
from server.models.user import User, UserRole
from server.models.video_session import (
    JoinLink,
    SessionAttendance,
    VideoSession,
    VideoSessionState,
)

__all__ = [
    "AuditEntry",
    "Caregiver",
    "Client",
    "JoinLink",
    "LoginSession",
    "SessionAttendance",
    "User",
    "UserRole",
    "VideoSession",
    "VideoSessionState",
]
