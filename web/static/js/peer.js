// One RTCPeerConnection with Tandem's relay. The relay always offers; we answer.
import { trace } from "./trace.js";

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

// The addresses this browser offers as ICE candidates (loopback left out), from an SDP.
function usableCandidates(sdp) {
  return sdp.split(/\r?\n/)
    .filter((line) => line.startsWith("a=candidate:"))
    .map((line) => line.split(" ")[4])
    .filter((address) => address && !address.startsWith("127.") && address !== "::1");
}

// Which networks does the browser see right now? A throwaway connection's host candidates, and
// whether it gathered them all (a busy browser may not within the second it is given).
async function networksSeen(timeoutMs = 1000) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  try {
    pc.createDataChannel("probe");
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, timeoutMs);
    const addresses = usableCandidates(pc.localDescription ? pc.localDescription.sdp : "");
    addresses.complete = pc.iceGatheringState === "complete";
    return addresses;
  } finally {
    pc.close();
  }
}

// After a network comes back (Wi-Fi up again, a new address), the browser may let a page open a
// socket a second or more before its WebRTC stack sees the network: an answer made then carries
// no usable candidate and the relay, which takes no trickled candidates, never connects. So a
// connection that replaces one that had a network waits (up to `timeoutMs`) until one is seen.
// While the browser's list still names an address that is gone, a gathering on it stalls
// rather than fails: each look is cut short, so the new network is seen soon after it appears.
async function waitForNetwork(timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await networksSeen(300)).length) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export class PeerSession {
  constructor({ iceServers, localStream, publish, onTrack, onState, needsNetwork = false }) {
    this.needsNetwork = needsNetwork;
    this.hadNetwork = false; // its answer offered a usable candidate
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [], bundlePolicy: "max-bundle" });
    this.localStream = localStream;
    this.publish = publish;
    this.closed = false;
    this.pc.addEventListener("track", (event) => {
      const stream = event.streams[0];
      if (stream) onTrack(stream.id, event.track, stream);
    });
    // What to do about "disconnected" and "failed" is the page's call (connection.js).
    this.pc.addEventListener("connectionstatechange", () => {
      if (!this.closed && onState) onState(this.pc.connectionState);
    });
  }

  async handleOffer(sdp) {
    const pc = this.pc;
    if (this.needsNetwork) {
      this.needsNetwork = false;
      trace("offer: waiting for a network");
      await waitForNetwork();
    }
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
    const usable = usableCandidates(pc.localDescription.sdp);
    trace(`answer: ${usable.length} usable candidates`);
    if (usable.length) this.hadNetwork = true;
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

  // Could this connection carry on after a network hiccup? Not if the address its ICE path
  // starts from is gone (Wi-Fi to cellular): nothing would ever answer there again.
  async stillAddressable() {
    const report = await this.pc.getStats();
    let local = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) {
        const pair = report.get(s.selectedCandidatePairId);
        if (pair) local = report.get(pair.localCandidateId) || null;
      }
    });
    if (!local) return false;
    const from = local.candidateType === "host" ? local.address : local.relatedAddress;
    if (!from || from.startsWith("127.")) return true;
    const seen = await networksSeen();
    // Gone only if a complete gathering lacks it: a partial one proves nothing.
    return seen.includes(from) || !seen.complete;
  }

  close() {
    this.closed = true;
    try { this.pc.close(); } catch (_) { /* already closed */ }
  }
}
