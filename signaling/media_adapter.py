"""The bridge to media/: its exception classes, and proof that the real relay fits the ports."""

from __future__ import annotations

from typing import Final

from media import NegotiationError, PublishNotAllowed, Relay
from signaling.ports import MediaErrors, MediaRelayPort

MEDIA_ERRORS: Final = MediaErrors(
    negotiation=NegotiationError, publish_not_allowed=PublishNotAllowed
)


def as_relay_port(relay: Relay) -> MediaRelayPort:
    # mypy proves here that media.Relay (and so media.Room) satisfies the ports signaling drives.
    return relay
