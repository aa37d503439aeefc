"""RTP-level forwarding: a publisher's packets to its subscribers below aiortc's per-packet
objects (docs/media.md, "RTP-level forwarding"). aiortc still negotiates every connection and
handles ICE, DTLS, RTCP and keyframe requests; only the media packets take this path."""
