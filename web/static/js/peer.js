// One RTCPeerConnection with Tandem's relay. The relay always offers; we answer.

function midsWhereRelayReceives(sdp) {
  // m-sections the relay offered as recvonly are where this client publishes.
  const mids = new Set();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /a=mid:(\S+)/.exec(section);
    if (mid && /\r?\na=recvonly/.test(section)) mids.add(mid[1]);
  }
  return mids;
}

export function waitForIceGathering(pc, timeoutMs = 3000) {
  // The relay (aiortc) does not trickle ICE: the answer must carry the candidates.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        clearTimeout(timer);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, timeoutMs);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

export class PeerSession {
  constructor({ iceServers, localStream, publish, onTrack, onFailed, onState }) {
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [], bundlePolicy: "max-bundle" });
    this.localStream = localStream;
    this.publish = publish;
    this.onFailed = onFailed;
    this.closed = false;
    this.failTimer = null;
    this.pc.addEventListener("track", (event) => {
      const stream = event.streams[0];
      if (stream) onTrack(stream.id, event.track, stream);
    });
    this.pc.addEventListener("connectionstatechange", () => {
      const state = this.pc.connectionState;
      if (onState) onState(state);
      clearTimeout(this.failTimer);
      if (state === "failed") this.fail();
      // "disconnected" often heals by itself; give it a moment before starting over.
      if (state === "disconnected") this.failTimer = setTimeout(() => this.fail(), 2500);
    });
  }

  fail() {
    if (this.closed) return;
    this.close();
    this.onFailed();
  }

  async handleOffer(sdp) {
    const pc = this.pc;
    await pc.setRemoteDescription({ type: "offer", sdp });
    if (this.publish && this.localStream) {
      const mids = midsWhereRelayReceives(sdp);
      for (const transceiver of pc.getTransceivers()) {
        if (!mids.has(transceiver.mid)) continue;
        const kind = transceiver.receiver.track.kind;
        const track = this.localStream.getTracks().find((t) => t.kind === kind) || null;
        if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track);
        if (transceiver.sender.setStreams) transceiver.sender.setStreams(this.localStream);
        transceiver.direction = "sendonly";
      }
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await waitForIceGathering(pc);
    return pc.localDescription.sdp;
  }

  async replaceTrack(kind, track) {
    for (const sender of this.pc.getSenders()) {
      if (sender.track && sender.track.kind === kind) await sender.replaceTrack(track);
    }
  }

  async stats() {
    return this.pc.getStats();
  }

  close() {
    this.closed = true;
    clearTimeout(this.failTimer);
    try { this.pc.close(); } catch (_) { /* already closed */ }
  }
}
