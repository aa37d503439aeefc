// Connection quality from getStats: round-trip time and packet loss, as words and a color.

export class QualityMonitor {
  constructor(getPeer, element, { onLevel = () => {}, onStall = () => {} } = {}) {
    this.getPeer = getPeer;
    this.onLevel = onLevel;
    this.onStall = onStall;
    this.el = element;
    this.timer = null;
    this.last = null;
  }

  start() {
    this.timer = setInterval(() => this.sample().catch(() => {}), 2000);
  }

  stop() {
    clearInterval(this.timer);
  }

  async sample() {
    const peer = this.getPeer();
    if (!this.el) return;
    if (!peer || peer.pc.connectionState !== "connected") {
      // Between connections: the last figures say nothing about the next one.
      this.last = null;
      this.el.dataset.level = "idle";
      this.el.textContent = "Connection: not connected";
      return;
    }
    const report = await peer.stats();
    let rtt = null;
    let lost = 0;
    let received = 0;
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime;
      if (s.type === "inbound-rtp") {
        lost += s.packetsLost || 0;
        received += s.packetsReceived || 0;
      }
    });
    const prev = this.last;
    this.last = { lost, received };
    if (!prev) return;
    const dLost = Math.max(0, lost - prev.lost);
    const dRecv = Math.max(0, received - prev.received);
    const loss = dLost + dRecv > 0 ? dLost / (dLost + dRecv) : 0;
    if (received === 0) {
      this.el.dataset.level = "idle";
      this.el.textContent = "Connection: waiting for others";
      return;
    }
    if (dRecv === 0) this.onStall();
    let level = "good";
    if (loss > 0.08 || (rtt !== null && rtt > 0.4) || dRecv === 0) level = "poor";
    else if (loss > 0.02 || (rtt !== null && rtt > 0.2)) level = "fair";
    this.el.dataset.level = level;
    this.onLevel(level);
    const rttText = rtt === null ? "" : `, ${Math.round(rtt * 1000)} ms`;
    this.el.textContent = `Connection: ${level}${rttText}`;
    this.el.title = `Packet loss ${(loss * 100).toFixed(1)}%${rttText}`;
  }
}
