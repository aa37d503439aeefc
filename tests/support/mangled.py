"""Name-mangled privates by name, for the tests that pin what media/aiortc/ relies on.

Inside ``class RTCRtpReceiver``, ``self.__decoder_queue`` is stored as
``_RTCRtpReceiver__decoder_queue``: no type declares it, so reading it as an attribute needs a
type checker's silence at every use. Read here, it is plainly what it is to these tests: unknown.
"""

from __future__ import annotations

from typing import Any


def mangled(obj: object, owner: type, name: str) -> Any:
    """``owner``'s private ``__name`` as stored on ``obj`` (an instance, or ``owner`` itself)."""
    return getattr(obj, f"_{owner.__name__}__{name}")
