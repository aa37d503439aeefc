"""All tables, one module per table (or per tight pair), imported here so metadata is complete."""

from server.models.annotation import Annotation, AnnotationSnapshot, AnnotationTag
from server.models.appointment import Appointment, AppointmentSeries
from server.models.audit import AuditEntry
from server.models.authorization import Authorization
from server.models.availability import AvailabilityBlock, AvailabilityException
from server.models.calendar_feed import CalendarFeed
from server.models.call_quality import CallQuality
from server.models.charge import Charge, ChargeLine, ChargeLocked
from server.models.chart import ChartConsent, Diagnosis, Referral
from server.models.client import Caregiver, Client
from server.models.coverage import ClientCoverage
from server.models.family import FamilySession, FamilySignInLink
from server.models.family_forms import IntakeResponse, SignedConsent
from server.models.fee_schedule import FeeScheduleEntry
from server.models.home_program import HomeProgramItem, PracticeEntry
from server.models.login_session import LoginSession
from server.models.note import Note, NoteAddendum, SignedNoteLocked
from server.models.outbox import OutboxAttempt, OutboxMessage
from server.models.payer import Payer
from server.models.plan_of_care import Goal, PlanOfCare
from server.models.practice_profile import PracticeProfile
from server.models.recording import Recording, RecordingConsent, RecordingFile, RecordingSpan
from server.models.second_camera import SecondCameraLink
from server.models.therapist_profile import License, Location, Rate, SchedulePreferences
from server.models.user import User, UserRole
from server.models.video_node import VideoNode
from server.models.video_session import (
    JoinLink,
    SessionAttendance,
    SessionRemoval,
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
    "Authorization",
    "AvailabilityBlock",
    "AvailabilityException",
    "CalendarFeed",
    "CallQuality",
    "Caregiver",
    "Charge",
    "ChargeLine",
    "ChargeLocked",
    "ChartConsent",
    "Client",
    "ClientCoverage",
    "Diagnosis",
    "FamilySession",
    "FamilySignInLink",
    "FeeScheduleEntry",
    "Goal",
    "HomeProgramItem",
    "IntakeResponse",
    "JoinLink",
    "License",
    "Location",
    "LoginSession",
    "Note",
    "NoteAddendum",
    "OutboxAttempt",
    "OutboxMessage",
    "Payer",
    "PlanOfCare",
    "PracticeEntry",
    "PracticeProfile",
    "Rate",
    "Recording",
    "RecordingConsent",
    "RecordingFile",
    "RecordingSpan",
    "Referral",
    "SchedulePreferences",
    "SecondCameraLink",
    "SessionAttendance",
    "SessionRemoval",
    "SignedConsent",
    "SignedNoteLocked",
    "User",
    "UserRole",
    "VideoNode",
    "VideoSession",
    "VideoSessionState",
]
