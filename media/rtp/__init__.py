"""RTP-level forwarding: a publisher's packets to its subscribers below aiortc's per-packet
objects (docs/media.md, "RTP-level forwarding"). aiortc still negotiates every connection and
handles ICE, DTLS, RTCP and keyframe requests; only the media packets take this path.

The names below are what a user outside the relay (the load generator's clients) builds on.
"""

from media.rtp.ingress import Ingress
from media.rtp.instream import InStream, InStreamEvents
from media.rtp.outstream import OutStream
from media.rtp.twcc import TRANSPORT_CC_URI
from media.rtp.wire import FIXED_HEADER, vp8_frame_start

__all__ = [
    "FIXED_HEADER",
    "TRANSPORT_CC_URI",
    "InStream",
    "InStreamEvents",
    "Ingress",
    "OutStream",
    "vp8_frame_start",
]
