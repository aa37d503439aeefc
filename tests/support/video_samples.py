"""getStats of a call, sampled in the page: decoded frames per publisher, and what the browser
sends. Shared by the network tests and the home-network benchmark (tests/network/)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

SAMPLE_MS = 200
FREEZE_S = 0.5

# Runs in each page: a getStats sample every SAMPLE_MS into window.__benchSamples.
SAMPLER_JS = """(interval) => {
  if (window.__benchSamples) return;
  const samples = [];
  window.__benchSamples = samples;
  const tick = async () => {
    const call = window.tandemCall;
    const pc = call && call.peer && call.peer.pc;
    if (!pc) return;
    const report = await pc.getStats();
    const s = { t: Date.now(), inbound: {}, out: null, pair: null };
    report.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") {
        const pid = call.trackOwner.get(r.trackIdentifier);
        if (!pid) return;
        const d = s.inbound[pid] || { frames: 0, bytes: 0, width: 0 };
        d.frames += r.framesDecoded || 0;
        d.bytes += r.bytesReceived || 0;
        d.width = Math.max(d.width, r.frameWidth || 0);
        s.inbound[pid] = d;
      } else if (r.type === "outbound-rtp" && r.kind === "video") {
        s.out = { bytes: (r.bytesSent || 0) + (r.headerBytesSent || 0),
                  rtx: r.retransmittedBytesSent || 0, target: r.targetBitrate || 0,
                  width: r.frameWidth || 0, limit: r.qualityLimitationReason || "" };
      } else if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") {
        s.pair = { available: r.availableOutgoingBitrate || 0 };
      }
    });
    samples.push(s);
  };
  setInterval(() => { tick().catch(() => {}); }, interval);
}"""


@dataclass
class Series:
    """One receiver's samples of one publisher's video: (ms, framesDecoded)."""

    points: list[tuple[float, int]] = field(default_factory=list)

    def first_frame(self, after: float) -> float | None:
        return next((t for t, f in self.points if t >= after and f > 0), None)

    def freezes(self, start: float, end: float) -> list[float]:
        """Seconds of each stretch without a new frame longer than FREEZE_S, clipped to
        [start, end) (a stretch still going at ``end`` counts up to there)."""
        last_change: float | None = None
        last_frames: int | None = None
        stretches: list[tuple[float, float]] = []
        for t, frames in self.points:
            if last_frames is None or frames != last_frames:
                if last_change is not None and t - last_change > FREEZE_S * 1000:
                    stretches.append((last_change, t))
                last_change, last_frames = t, frames
        if last_change is not None and end - last_change > FREEZE_S * 1000:
            stretches.append((last_change, end))
        overlaps = [(min(b, end) - max(a, start)) / 1000 for a, b in stretches]
        return [overlap for overlap in overlaps if overlap > 0]

    def frozen(self, start: float, end: float) -> tuple[float, int]:
        """Frozen seconds in [start, end), and how many freezes."""
        found = self.freezes(start, end)
        return sum(found), len(found)

    def at(self, t: float) -> int:
        """framesDecoded at the last sample at or before t."""
        value = 0
        for ts, frames in self.points:
            if ts > t:
                break
            value = frames
        return value

    def fps(self, start: float, end: float) -> float:
        return (self.at(end) - self.at(start)) / ((end - start) / 1000)


def series(samples: list[dict[str, Any]], publisher: str) -> Series:
    return Series([(s["t"], s["inbound"][publisher]["frames"])
                   for s in samples if publisher in s["inbound"]])  # fmt: skip


def sender(samples: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """What a browser sent (outbound video) over [start, end]."""
    inside = [s for s in samples if start <= s["t"] <= end and s["out"] is not None]
    if len(inside) < 2:
        return {}
    a, b = inside[0], inside[-1]
    seconds = (b["t"] - a["t"]) / 1000
    widths = [s["out"]["width"] for s in inside if s["out"]["width"]]
    limits: dict[str, int] = {}
    for s in inside:
        limits[s["out"]["limit"]] = limits.get(s["out"]["limit"], 0) + 1
    available = [s["pair"]["available"] for s in inside if s["pair"] and s["pair"]["available"]]
    return {
        "kbit_s": round((b["out"]["bytes"] - a["out"]["bytes"]) * 8 / seconds / 1000, 1),
        "rtx_kbit_s": round((b["out"]["rtx"] - a["out"]["rtx"]) * 8 / seconds / 1000, 1),
        "target_kbit_s": round(statistics.mean(s["out"]["target"] for s in inside) / 1000, 1),
        "width_median": statistics.median(widths) if widths else 0,
        "quality_limitation": max(limits, key=lambda k: limits[k]),
        "available_outgoing_kbit_s": (
            round(statistics.mean(available) / 1000, 1) if available else None
        ),
    }
