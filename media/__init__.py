"""Tandem's media relay: a forwarding SFU on aiortc (see docs/media.md)."""

from media.config import IceServer, RelayConfig
from media.errors import NegotiationError, PublishNotAllowed
from media.peer import OfferSink, StateSink
from media.relay import Relay
from media.room import Room
from media.sinks import PacketSink, SenderReportSink
from media.stats import RelayStats

__all__ = [
    "IceServer",
    "NegotiationError",
    "OfferSink",
    "PacketSink",
    "PublishNotAllowed",
    "Relay",
    "RelayConfig",
    "RelayStats",
    "Room",
    "SenderReportSink",
    "StateSink",
]
