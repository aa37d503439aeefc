"""The seam between the relay and aiortc: every use of aiortc, aioice and pylibsrtp internals.

aiortc has no public API for what a forwarding relay does: receiving encoded frames, taking RTP
off a connection and sending it below aiortc's per-packet objects, reacting to a subscriber's
keyframe request or NACK on a sender that forwards, per-sender stream ids, keeping payload
types across re-offers. So this package reaches into aiortc 1.16.0 (and the aioice 0.13 and
pylibsrtp 1.0 under it), pinned exactly (``PINNED_AIORTC_VERSION``, pyproject.toml). One module
per aiortc object it adapts; tests/media/aiortc/ checks every shape relied on, and fails loudly
if the pin moves. Everything adapts single objects (one receiver, one sender, one transport,
one ICE connection), never aiortc's classes, with one documented exception: ``install()``
(media/aiortc/passthrough.py).

The rest of the tree uses aiortc's public API (``from aiortc import RTCPeerConnection``) and,
for anything more, the names below, imported from ``media.aiortc`` itself. Two checks keep it
so (pyproject.toml): ruff's private-member rule (SLF001) is ignored only here and in
tests/media/aiortc/, and import-linter forbids importing aiortc's and aioice's submodules
anywhere else (ruff's banned-api rule, pylibsrtp's compiled ``_binding``).
"""

from aiortc.rtp import RtcpSrPacket
from aiortc.sdp import SessionDescription

from media.aiortc.dtls import (
    keep_on,
    kept_on,
    rtcp_transmitter,
    rtp_transmitter,
    srtp_unprotector,
)
from media.aiortc.host_candidates import PortRangeExhausted, local_candidates
from media.aiortc.ice import (
    DatagramHandler,
    add_loopback_candidates,
    datagram_protocols,
    ice_connection,
    intercept_datagrams,
    selected_candidate_types,
)
from media.aiortc.negotiated import (
    Negotiated,
    ReceiveCodecs,
    answered_transport_cc,
    negotiated_codec,
    offer_transport_cc,
    parse_sdp,
    receive_codecs,
    remember_negotiated,
    restore_negotiated,
)
from media.aiortc.passthrough import (
    PassthroughQueue,
    PassthroughTrack,
    install,
    is_installed,
    make_passthrough_receiver,
)
from media.aiortc.receiver import (
    forget_receive_statistics,
    log_task_error,
    on_sender_report,
    receiver_report,
    remb,
    request_keyframe,
    router_ssrcs,
    rtcp_ssrc,
    rtp_timestamp_origin,
    rtx_ssrcs,
    send_nack,
    send_pli,
    send_rtcp,
)
from media.aiortc.sender import (
    SendParameters,
    install_counting_encoder,
    on_bandwidth_estimate,
    on_keyframe_request,
    on_retransmit_request,
    packetizer,
    record_sent,
    send_parameters,
    set_sender_ids,
)
from media.aiortc.version import PINNED_AIORTC_VERSION, AiortcVersionError, check_version

__all__ = [
    "PINNED_AIORTC_VERSION",
    "AiortcVersionError",
    "DatagramHandler",
    "Negotiated",
    "PassthroughQueue",
    "PassthroughTrack",
    "PortRangeExhausted",
    "ReceiveCodecs",
    "RtcpSrPacket",
    "SendParameters",
    "SessionDescription",
    "add_loopback_candidates",
    "answered_transport_cc",
    "check_version",
    "datagram_protocols",
    "forget_receive_statistics",
    "ice_connection",
    "install",
    "install_counting_encoder",
    "intercept_datagrams",
    "is_installed",
    "keep_on",
    "kept_on",
    "local_candidates",
    "log_task_error",
    "make_passthrough_receiver",
    "negotiated_codec",
    "offer_transport_cc",
    "on_bandwidth_estimate",
    "on_keyframe_request",
    "on_retransmit_request",
    "on_sender_report",
    "packetizer",
    "parse_sdp",
    "receive_codecs",
    "receiver_report",
    "record_sent",
    "remb",
    "remember_negotiated",
    "request_keyframe",
    "restore_negotiated",
    "router_ssrcs",
    "rtcp_ssrc",
    "rtcp_transmitter",
    "rtp_timestamp_origin",
    "rtp_transmitter",
    "rtx_ssrcs",
    "selected_candidate_types",
    "send_nack",
    "send_parameters",
    "send_pli",
    "send_rtcp",
    "set_sender_ids",
    "srtp_unprotector",
]
