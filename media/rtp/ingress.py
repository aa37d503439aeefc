"""Where a publisher's packets leave aiortc: between the UDP socket and aiortc's receive loop."""

from __future__ import annotations

import asyncio
import logging
import time

from aiortc import RTCDtlsTransport
from pylibsrtp import Error as SrtpError

from media.aiortc import (
    DatagramHandler,
    forget_receive_statistics,
    intercept_datagrams,
    keep_on,
    kept_on,
    router_ssrcs,
    rtcp_ssrc,
    rtcp_transmitter,
    rtx_ssrcs,
    srtp_unprotector,
)
from media.rtp.instream import InStream
from media.rtp.twcc import TransportFeedback, transport_sequence
from media.rtp.wire import rtp_ssrc
from media.stats import Counters

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 0.1
# How long after a packet arrives the transport feedback reporting it goes out: libwebrtc's
# receivers report every 50-250 ms (100 ms by default). Every 50 ms cost the relay ~29 % more
# CPU per stream than no feedback (half of it the sendto of each report); 100 ms about half.
FEEDBACK_INTERVAL = 0.1


class Ingress:
    """Takes the RTP of the publisher's forwarded tracks off one connection.

    Sits in front of aioice's queue (``media.aiortc.intercept_datagrams``): an SRTP packet whose
    SSRC belongs to a registered ``InStream`` is unprotected and handed to it right there, in
    the socket's callback, without aioice's queue, aiortc's DTLS loop, ``RtpPacket`` parsing or
    the receiver. Everything else (ICE, DTLS, RTCP, unknown SSRCs) goes aiortc's way: RTCP
    keeps reaching the receiver (sender reports, BYE), and a stream whose SSRC the SDP did not
    announce is taken over once aiortc's router has learnt it from a first packet.
    """

    def __init__(self, dtls: RTCDtlsTransport, counters: Counters) -> None:
        self._dtls = dtls
        self._counters = counters
        self._streams: list[InStream] = []
        self._routes: dict[int, tuple[InStream, bool]] = {}
        # SSRC -> when it was last looked for in vain: looked for again after RECHECK_SECONDS,
        # since aiortc registers a receiver's SSRCs a moment after DTLS is up, and the
        # publisher's first packets can arrive in between.
        self._unknown: dict[int, float] = {}
        self._feedback: TransportFeedback | None = None
        self._feedback_id = 0
        self._feedback_timer: asyncio.TimerHandle | None = None
        self._feedback_ssrcs: tuple[int, int] | None = None  # (ours, one of the publisher's)
        self._send_rtcp = rtcp_transmitter(dtls)
        intercept_datagrams(dtls, self._wrap)

    @classmethod
    def of(cls, dtls: RTCDtlsTransport, counters: Counters) -> Ingress:
        """The connection's ingress, made on first use."""
        # Kept on the transport itself: it lives and dies with the connection.
        ingress = kept_on(dtls, Ingress)
        if ingress is None:
            ingress = cls(dtls, counters)
            keep_on(dtls, ingress)
        return ingress

    @staticmethod
    def on(dtls: RTCDtlsTransport) -> Ingress | None:
        """The connection's ingress, if it has one."""
        return kept_on(dtls, Ingress)

    def route(self, ssrc: int) -> InStream | None:
        """The stream an SSRC's packets go to, once known."""
        route = self._routes.get(ssrc)
        return None if route is None else route[0]

    def forget(self, ssrc: int) -> None:
        """Drop an SSRC's route as if its first packet had just been looked for in vain: it is
        looked for again after ``RECHECK_SECONDS``."""
        self._routes.pop(ssrc, None)  # in place: the datagram handler holds this dict
        self._unknown[ssrc] = time.monotonic()

    def enable_feedback(self, ext_id: int | None) -> None:
        """Send transport feedback for packets carrying extension ``ext_id`` (what the
        publisher's answer negotiated); None stops it."""
        if ext_id == (self._feedback_id if self._feedback is not None else None):
            return
        self._feedback = None if ext_id is None else TransportFeedback()
        self._feedback_id = ext_id or 0
        self._feedback_ssrcs = None

    def _noted(self) -> None:
        """A packet was noted: make sure a report goes out."""
        if self._feedback_timer is None:
            loop = asyncio.get_running_loop()
            self._feedback_timer = loop.call_later(FEEDBACK_INTERVAL, self._send_feedback)

    def _send_feedback(self) -> None:
        self._feedback_timer = None
        feedback = self._feedback
        if feedback is None or not feedback.pending:
            return
        # Any of the publisher's streams can speak for the connection: feedback is per transport.
        if self._feedback_ssrcs is None:
            sender = next((ssrc for s in self._streams if (ssrc := rtcp_ssrc(s.receiver))), None)
            media = next((s.media_ssrc for s in self._streams if s.media_ssrc is not None), None)
            if sender is None or media is None:
                return
            self._feedback_ssrcs = (sender, media)
        sender, media = self._feedback_ssrcs
        for packet in feedback.build(sender, media):
            try:
                if self._send_rtcp(packet):
                    self._counters.rtp_feedback_packets += 1
            except (SrtpError, ValueError, OSError, RuntimeError) as exc:
                logger.debug("transport feedback not sent: %r", exc)
                return

    def close(self) -> None:
        self._feedback = None
        if self._feedback_timer is not None:
            self._feedback_timer.cancel()
            self._feedback_timer = None

    def register(self, stream: InStream) -> None:
        self._streams.append(stream)
        self._unknown.clear()

    def unregister(self, stream: InStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)
        for ssrc in [ssrc for ssrc, route in self._routes.items() if route[0] is stream]:
            del self._routes[ssrc]  # in place: the datagram handler holds this dict

    def _wrap(self, stock: DatagramHandler) -> DatagramHandler:
        routes = self._routes
        learn = self._learn
        counters = self._counters
        unprotect = srtp_unprotector(self._dtls)
        ingress = self
        monotonic = time.monotonic

        def data_received(data: bytes, component: int) -> None:
            ssrc = rtp_ssrc(data)
            if ssrc is not None:
                route = routes.get(ssrc) or learn(ssrc)
                if route is not None:
                    try:
                        plain = unprotect(data)
                    except (SrtpError, ValueError):  # ValueError: too long for SRTP
                        counters.rtp_unprotect_failures += 1
                        return
                    if plain is not None:
                        feedback = ingress._feedback
                        if feedback is not None:
                            number = transport_sequence(plain, ingress._feedback_id)
                            if number is not None:
                                feedback.add(number, monotonic())
                                if ingress._feedback_timer is None:
                                    ingress._noted()
                        stream, rtx = route
                        stream.on_rtp(plain, rtx)
                        return
            stock(data, component)

        return data_received

    def _learn(self, ssrc: int) -> tuple[InStream, bool] | None:
        """Find the stream an SSRC belongs to (rarely: once per SSRC, or for a stranger)."""
        now = time.monotonic()
        if now - self._unknown.get(ssrc, -RECHECK_SECONDS) < RECHECK_SECONDS:
            return None
        for stream in self._streams:
            if ssrc in router_ssrcs(stream.receiver):
                forget_receive_statistics(stream.receiver, ssrc)
                self._routes[ssrc] = (stream, False)
                return self._routes[ssrc]
            if ssrc in rtx_ssrcs(stream.receiver):
                self._routes[ssrc] = (stream, True)
                return self._routes[ssrc]
        if len(self._unknown) >= 1024:
            self._unknown.clear()  # bounded, whatever a peer sends
        self._unknown[ssrc] = now
        return None
