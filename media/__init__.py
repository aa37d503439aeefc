"""Tandem's media relay: a forwarding SFU on aiortc (see docs/media.md)."""

from media.aiortc import PortRangeExhausted
from media.config import IceServer, PortRange, RelayConfig
from media.errors import NegotiationError, PublishNotAllowed
from media.forwarded_track import ForwardedTrack
from media.frame_tap import FrameTap, Snapshot
from media.hooks import (
    HookDispatcher,
    KeyframeReceived,
    MediaEvent,
    MediaHooks,
    ParticipantJoined,
    ParticipantLeft,
    RecordingFailed,
    SegmentWritten,
    TrackPublished,
)
from media.negotiation import force_codecs
from media.peer import AudioOnlySink, OfferSink, StateSink
from media.probe import ProbeBusy, ProbeLimits, Prober, ProbeRefused
from media.recording.recorder import (
    ParticipantRecorder,
    RecorderConfig,
    RecorderStats,
    RecordingResult,
    recover,
)
from media.recording.storage import LocalDirectoryStorage, RecordingStorage, WritableObject
from media.recording.timeline import RecordedSpan
from media.relay import Relay
from media.room import Room
from media.sinks import PacketSink, SenderReportSink
from media.stats import Counters, RelayStats

__all__ = [
    "AudioOnlySink",
    "Counters",
    "ForwardedTrack",
    "FrameTap",
    "HookDispatcher",
    "IceServer",
    "KeyframeReceived",
    "LocalDirectoryStorage",
    "MediaEvent",
    "MediaHooks",
    "NegotiationError",
    "OfferSink",
    "PacketSink",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantRecorder",
    "PortRange",
    "PortRangeExhausted",
    "ProbeBusy",
    "ProbeLimits",
    "ProbeRefused",
    "Prober",
    "PublishNotAllowed",
    "RecordedSpan",
    "RecorderConfig",
    "RecorderStats",
    "RecordingFailed",
    "RecordingResult",
    "RecordingStorage",
    "Relay",
    "RelayConfig",
    "RelayStats",
    "Room",
    "SegmentWritten",
    "SenderReportSink",
    "Snapshot",
    "StateSink",
    "TrackPublished",
    "WritableObject",
    "force_codecs",
    "recover",
]
