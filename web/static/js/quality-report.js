// Call quality on the record: every few seconds, a short summary of getStats goes to the server
// over the signaling socket (docs/signaling.md, "Call quality"). Numbers only, within the bounds
// the server checks; nothing is sent while there is no connected peer connection.

const REPORT_MS = 5000;
const CANDIDATES = new Set(["host", "srflx", "prflx", "relay"]);
const PROTOCOLS = new Set(["udp", "tcp", "tls"]);

const clamp = (value, high) => Math.min(high, Math.max(0, value));

function totals(report) {
  const byId = new Map();
  report.forEach((s) => byId.set(s.id, s));
  const t = { sent: 0, recv: 0, lost: 0, packets: 0, freezes: 0, frozen: 0, fps: 0, rtt: null, candidate: null, protocol: null };
  report.forEach((s) => {
    if (s.type === "outbound-rtp") t.sent += s.bytesSent || 0;
    if (s.type === "inbound-rtp") {
      t.recv += s.bytesReceived || 0;
      t.lost += Math.max(0, s.packetsLost || 0);
      t.packets += s.packetsReceived || 0;
      if (s.kind === "video") {
        t.freezes += s.freezeCount || 0;
        t.frozen += s.totalFreezesDuration || 0;
        t.fps = Math.max(t.fps, s.framesPerSecond || 0);
      }
    }
    if (s.type === "transport" && s.selectedCandidatePairId) {
      const pair = byId.get(s.selectedCandidatePairId);
      const local = pair && byId.get(pair.localCandidateId);
      if (pair && pair.currentRoundTripTime !== undefined) t.rtt = pair.currentRoundTripTime;
      if (local) {
        t.candidate = CANDIDATES.has(local.candidateType) ? local.candidateType : null;
        const protocol = local.candidateType === "relay" ? local.relayProtocol || "udp" : local.protocol;
        t.protocol = PROTOCOLS.has(protocol) ? protocol : null;
      }
    }
  });
  return t;
}

export class QualityReporter {
  constructor(getPeer, send) {
    this.getPeer = getPeer;
    this.send = send;
    this.last = null;
    this.timer = null;
  }

  start() {
    this.timer = setInterval(() => this.report().catch(() => {}), REPORT_MS);
  }

  stop() {
    clearInterval(this.timer);
  }

  async report() {
    const peer = this.getPeer();
    if (!peer || peer.pc.connectionState !== "connected") {
      this.last = null;
      return;
    }
    const now = performance.now();
    const t = totals(await peer.stats());
    const prev = this.last && this.last.peer === peer ? this.last : null;
    this.last = { ...t, now, peer };
    if (!prev) return; // counters start again with each peer connection
    const seconds = (now - prev.now) / 1000;
    if (seconds <= 0 || seconds > 60) return;
    const lost = Math.max(0, t.lost - prev.lost);
    const received = Math.max(0, t.packets - prev.packets);
    this.send({
      type: "quality",
      seconds: Math.round(seconds * 100) / 100,
      send_kbps: clamp(Math.round(((t.sent - prev.sent) * 8) / seconds / 100) / 10, 100000),
      recv_kbps: clamp(Math.round(((t.recv - prev.recv) * 8) / seconds / 100) / 10, 100000),
      fps: clamp(Math.round(t.fps * 10) / 10, 240),
      loss: lost + received > 0 ? Math.round((lost / (lost + received)) * 1000) / 1000 : 0,
      rtt_ms: t.rtt === null ? null : clamp(Math.round(t.rtt * 1000), 60000),
      freezes: clamp(t.freezes - prev.freezes, 1000),
      frozen_ms: clamp(Math.round((t.frozen - prev.frozen) * 1000), 60000),
      candidate: t.candidate,
      protocol: t.protocol,
    });
  }
}
