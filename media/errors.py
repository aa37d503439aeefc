"""What the relay raises to the signaling layer when an offer/answer exchange goes wrong."""

from __future__ import annotations


class NegotiationError(Exception):
    """Bad or unparseable SDP, a stale revision, or an unknown participant."""


class PublishNotAllowed(NegotiationError):
    """A receive-only participant's answer tries to send media."""
