"""A recording's journal: what the recorder received, appended to a file as it came.

During the call a recorder does no more than this: its sink keeps each RTP packet (or, on the
frame-level path, each frame) with its arrival time, and a writer thread appends them here
every half second. Everything that costs CPU per packet (assembling frames, timing them, writing
WebM) happens once the recording stops (``media.recording.replay``), or after a crash from what
the journal kept: the Janus way (``.mjr`` files and ``janus-pp-rec``).

One record: ``<I`` length of the rest, then ``<BBHd`` type, kind, source, time, then the body.
``time`` is the arrival (packets, frames, reports) or the session time (pause, resume, stop).
A record cut short by a crash is left out on reading; everything before it is whole.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = b"TNDMJRN1"

RTP = 1  # body: <H sequence number (the original one, for a retransmission), packet
FRAME = 2  # body: <qB pts, keyframe, frame bytes (frame-level path)
REPORT = 3  # body: <Iqd RTP timestamp, RTP origin of the pts line (-1: none), Unix wallclock
GAP = 4  # packets were dropped here (the writer fell behind)
PAUSE = 5
RESUME = 6
STOP = 7
START = 8  # time: the recorder's start on the relay's clock (Unix seconds), session time 0

KINDS = ("video", "audio")
KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}
_KIND_CODES = KIND_CODES

_LENGTH = struct.Struct("<I")
_HEAD = struct.Struct("<IBBHd")  # length, type, kind, source, time
_RTP = struct.Struct("<IBBHdH")
_FRAME = struct.Struct("<IBBHdqB")
_REPORT = struct.Struct("<IBBHdIqd")
_HEAD_SIZE = _HEAD.size - _LENGTH.size


@dataclass(frozen=True)
class Record:
    type: int
    kind: str
    source: int
    time: float
    seq: int = 0
    data: bytes = b""
    pts: int = 0
    keyframe: bool = False
    rtp_timestamp: int = 0
    rtp_origin: int | None = None
    wallclock: float = 0.0


# An RTP record's head; the packet follows. For writers that keep the two apart (no copy).
RTP_HEAD = _RTP
RTP_HEAD_BODY = _RTP.size - _LENGTH.size  # the length field counts this much before the packet


def rtp(kind: str, source: int, arrival: float, seq: int, packet: bytes) -> bytes:
    head = _RTP.pack(RTP_HEAD_BODY + len(packet), RTP, _KIND_CODES[kind], source, arrival, seq)
    return head + packet


def frame(kind: str, source: int, arrival: float, pts: int, keyframe: bool, data: bytes) -> bytes:
    head = _FRAME.pack(
        _FRAME.size - 4 + len(data), FRAME, _KIND_CODES[kind], source, arrival, pts, keyframe
    )
    return head + data


def report(
    kind: str,
    source: int,
    arrival: float,
    rtp_timestamp: int,
    rtp_origin: int | None,
    wallclock: float,
) -> bytes:
    origin = -1 if rtp_origin is None else rtp_origin
    return _REPORT.pack(
        _REPORT.size - 4,
        REPORT,
        _KIND_CODES[kind],
        source,
        arrival,
        rtp_timestamp,
        origin,
        wallclock,
    )


def control(type_: int, at: float) -> bytes:
    return _HEAD.pack(_HEAD_SIZE, type_, 0, 0, at)


def read(file: BinaryIO) -> Iterator[Record]:
    """Every whole record, in order. Raises ValueError if the file is not a journal."""
    if file.read(len(MAGIC)) != MAGIC:
        raise ValueError("not a recording journal")
    while True:
        prefix = file.read(_LENGTH.size)
        if len(prefix) < _LENGTH.size:
            return
        (length,) = _LENGTH.unpack(prefix)
        body = file.read(length)
        if len(body) < length or length < _HEAD_SIZE:
            return  # cut short by a crash
        yield _parse(prefix + body)


def _parse(raw: bytes) -> Record:
    _, type_, kind_code, source, at = _HEAD.unpack_from(raw)
    kind = KINDS[kind_code] if kind_code < len(KINDS) else "video"
    if type_ == RTP:
        seq = _RTP.unpack_from(raw)[5]
        return Record(type_, kind, source, at, seq=seq, data=raw[_RTP.size :])
    if type_ == FRAME:
        pts, keyframe = _FRAME.unpack_from(raw)[5:]
        data = raw[_FRAME.size :]
        return Record(type_, kind, source, at, pts=pts, keyframe=bool(keyframe), data=data)
    if type_ == REPORT:
        rtp_timestamp, origin, wallclock = _REPORT.unpack_from(raw)[5:]
        return Record(
            type_,
            kind,
            source,
            at,
            rtp_timestamp=rtp_timestamp,
            rtp_origin=None if origin < 0 else origin,
            wallclock=wallclock,
        )
    return Record(type_, kind, source, at)
