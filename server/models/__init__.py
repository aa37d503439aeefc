"""All tables, one module per table (or per tight pair), imported here so metadata is complete."""

from server.models.annotation import Annotation, AnnotationSnapshot, AnnotationTag
from server.models.appointment import Appointment, AppointmentSeries
from server.models.audit import AuditEntry
from server.models.availability import AvailabilityBlock, AvailabilityException
from server.models.calendar_feed import CalendarFeed
from server.models.client import Caregiver, Client
from server.models.login_session import LoginSession
from server.models.outbox import OutboxMessage
from server.models.recording import Recording, RecordingConsent, RecordingFile, RecordingSpan
from server.models.therapist_profile import License, Location, Rate, SchedulePreferences
from server.models.user import User, UserRole
from server.models.video_session import (
    JoinLink,
    SessionAttendance,
    VideoSession,
    VideoSessionState,
)

__all__ = [
    "Annotation",
    "AnnotationSnapshot",
    "AnnotationTag",
    "Appointment",
    "AppointmentSeries",
    "AuditEntry",
    "AvailabilityBlock",
    "AvailabilityException",
    "CalendarFeed",
    "Caregiver",
    "Client",
    "JoinLink",
    "License",
    "Location",
    "LoginSession",
    "OutboxMessage",
    "Rate",
    "Recording",
    "RecordingConsent",
    "RecordingFile",
    "RecordingSpan",
    "SchedulePreferences",
    "SessionAttendance",
    "User",
    "UserRole",
    "VideoSession",
    "VideoSessionState",
]
