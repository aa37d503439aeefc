// What the page says about its own connection, set and cleared from real events only:
// the signaling socket's status, the peer connection's state, the quality samples and probes.
// It also decides what to do when the media path breaks: the relay (aiortc) has no ICE restart,
// so the way back is a new peer connection, which the relay makes when the socket rejoins.

import { trace } from "./trace.js";

const TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  poor: "Connection poor",
  reconnecting: "Reconnecting…",
  back: "Connected again",
};
// How long "Connected again" stays before it settles to "Connected".
const BACK_MS = 4000;
// A peer connection that has not connected this long after the relay's offer never will
// (ICE checks fail silently when a firewall drops UDP).
const CONNECT_MS = 8000;
// After ICE reports the path lost, how long it may heal by itself while the socket still works.
const HEAL_MS = 1500;
// Media packets are counted this often; none for STALL_MS while connected means trouble, long
// before ICE says so (a cut link or a lost address is seen by ICE after 5 s or more, if ever).
const SAMPLE_MS = 250;
const STALL_MS = 700;
// A probe is a ping: the socket is taken for dead when nothing comes back within this (a busy
// server answered in more than 0.8 s under load, and a live socket taken for dead costs a rejoin).
const PROBE_MS = 1200;
// While the probe is out, a new connection to the server is tried beside it: when that one gets
// through and the socket still says nothing for three times its round trip (at least this long:
// on a lossy link a ping can wait for a retransmission), the socket is dead though the network
// works (the address it was made from is gone). The browser sees a new address only 2 s after
// it appears (Chromium's network-change delay on Linux), so this wait costs nothing there.
const WITNESS_GRACE_MS = 800;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function inboundPackets(peer) {
  let count = 0;
  if (!peer) return count;
  (await peer.stats()).forEach((s) => {
    if (s.type === "inbound-rtp") count += s.packetsReceived || 0;
  });
  return count;
}

export class ConnectionWatch {
  constructor(root, { signaling, getPeer, iceServers }) {
    this.root = root;
    this.signaling = signaling;
    this.getPeer = getPeer;
    this.iceServers = iceServers;
    this.el = root.querySelector("#connection-status");
    this.state = null;
    this.everConnected = false; // since the page loaded
    this.lost = false; // the call was up and went away: the next "connected" is "back"
    this.failures = 0; // peer connections in a row that never connected
    this.reason = null; // why the call cannot connect, once known
    this.level = "idle";
    this.backTimer = null;
    this.connectTimer = null;
    this.recovering = false;
    this.packets = null; // [count, since] of the current connection
    this.sampler = setInterval(() => this.sample().catch(() => {}), SAMPLE_MS);
    this.show("connecting");
  }

  async sample() {
    const peer = this.getPeer();
    if (!peer || peer.pc.connectionState !== "connected") {
      this.packets = null;
      return;
    }
    const count = await inboundPackets(peer);
    const now = Date.now();
    if (!this.packets || this.packets[2] !== peer || count !== this.packets[0]) {
      this.packets = [count, now, peer];
    } else if (count > 0 && now - this.packets[1] >= STALL_MS) {
      this.packets = [count, now, peer];
      this.stalled();
    }
  }

  // --- events in ---------------------------------------------------------------------------------

  socketStatus(status) {
    if (status === "reconnecting") this.goneAway();
    else if (!this.everConnected) this.show("connecting");
  }

  // A new peer connection, with the relay's offer being answered.
  peerStarted(pc) {
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (this.getPeer()?.pc === pc && pc.connectionState !== "connected") this.neverConnected(pc);
    }, CONNECT_MS);
  }

  peerState(pc, state) {
    if (this.getPeer()?.pc !== pc) return;
    trace(`peer: ${state}`);
    if (state === "connected") {
      // Media gets through again, so would a socket: do not wait for the next retry.
      this.signaling.retryNow();
      clearTimeout(this.connectTimer);
      this.failures = 0;
      this.reason = null;
      this.everConnected = true;
      if (this.lost) {
        this.lost = false;
        this.show("back");
        clearTimeout(this.backTimer);
        this.backTimer = setTimeout(() => { this.backTimer = null; this.settle(); }, BACK_MS);
      } else {
        this.settle();
      }
    } else if (state === "disconnected" || state === "failed") {
      this.mediaLost(pc);
    }
  }

  quality(level) {
    this.level = level;
    if (this.state === "connected" || this.state === "poor") this.settle();
  }

  // The relay kept our peer connection across a reconnect of the socket: media must flow on it
  // again soon, or a fresh one is asked for (the next rejoin does not ask to keep it).
  async resumed(pc) {
    if (pc.connectionState === "connected") this.peerState(pc, "connected");
    const peer = this.getPeer();
    const before = await inboundPackets(peer);
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(async () => {
      if (this.getPeer() !== peer || (await inboundPackets(peer)) > before) return;
      this.signaling.canResumeOnce = false;
      this.goneAway();
      this.signaling.restart();
    }, HEAL_MS);
  }

  // --- what happens -------------------------------------------------------------------------------

  goneAway() {
    if (this.everConnected) this.lost = true;
    clearTimeout(this.backTimer);
    this.backTimer = null;
    if (this.reason) this.showReason();
    else this.show(this.everConnected ? "reconnecting" : "connecting");
  }

  // Is the signaling socket alive? "alive" (it answered a ping), "dead" (no answer, or the
  // network refuses any connection: the interface is down), or "moved" (a new connection gets
  // through but the socket does not: the path it was made on is gone, Wi-Fi to cellular).
  async socketVerdict() {
    let answered = null;
    const probe = this.signaling.probe(PROBE_MS).then((ok) => { answered = ok; return ok; });
    const reach = await this.signaling.reach(PROBE_MS);
    let verdict;
    if (answered !== null) verdict = answered ? "alive" : "dead";
    else if (reach === null) verdict = "dead";
    else if (reach === undefined) verdict = (await probe) ? "alive" : "dead";
    else {
      const ok = await Promise.race([probe, sleep(Math.max(WITNESS_GRACE_MS, 3 * reach)).then(() => answered)]);
      verdict = ok ? "alive" : "moved";
    }
    trace(`socket ${verdict}${typeof reach === "number" ? ` (a new connection took ${Math.round(reach)} ms)` : ""}`);
    return verdict;
  }

  // ICE lost the path: at once, probe the socket. A dead socket means the network is gone:
  // reconnect it (the rejoin brings a new peer connection). A live one means only the media
  // path broke: give ICE a moment to heal, then ask for a new peer connection the same way.
  async mediaLost(pc) {
    if (this.recovering) return;
    this.recovering = true;
    try {
      this.goneAway();
      const started = Date.now();
      trace("media lost");
      const verdict = await this.socketVerdict();
      if (verdict === "alive") {
        await sleep(Math.max(0, HEAL_MS - (Date.now() - started)));
        if (this.getPeer()?.pc !== pc || pc.connectionState === "connected") return;
      }
      if (this.getPeer()?.pc !== pc) return;
      if (verdict === "moved") this.signaling.canResumeOnce = false;
      this.signaling.restart(verdict !== "alive");
    } finally {
      this.recovering = false;
    }
  }

  // The offer was answered but ICE never got through. If the socket works, the network lets
  // signaling (TCP) through but not media: say so, and keep trying.
  async neverConnected(pc) {
    this.failures += 1;
    const alive = await this.signaling.probe(1500);
    if (alive) {
      const turn = (this.iceServers() || []).some((s) =>
        [].concat(s.urls || []).some((u) => /^turns?:/.test(u)));
      this.reason = turn
        ? "The video cannot get through, not even through the relay server: this network blocks it. Try another network (for example mobile data). Still trying…"
        : "The video cannot get through: this network seems to block it (UDP), and no relay server is set up to go around that. Try another network (for example mobile data), or ask the practice to set up a relay. Still trying…";
      this.showReason();
    }
    if (this.getPeer()?.pc === pc) {
      // Each try costs the relay a peer connection: space them out once the reason is known.
      const wait = this.failures > 1 ? 10000 : 0;
      setTimeout(() => { if (this.getPeer()?.pc === pc) this.signaling.restart(); }, wait);
    }
  }

  // No media arrived for a whole quality sample: if the socket is dead too, the network is gone
  // (this notices a cut link seconds before ICE does).
  async stalled() {
    if (this.recovering || !this.everConnected) return;
    this.recovering = true;
    try {
      const peer = this.getPeer();
      trace("media stalled");
      const verdict = await this.socketVerdict();
      // A live socket may ride another path than the media: is the address the media used
      // still there? If it is gone, this connection cannot come back.
      const addressable = verdict !== "alive" || !peer || await peer.stillAddressable().catch(() => true);
      if (!addressable) trace("our address is gone");
      if ((verdict !== "alive" || !addressable) && this.getPeer() === peer) {
        if (verdict === "moved" || !addressable) this.signaling.canResumeOnce = false;
        this.goneAway();
        this.signaling.restart(true);
      }
    } finally {
      this.recovering = false;
    }
  }

  settle() {
    if (this.reason) return;
    this.show(this.level === "poor" ? "poor" : "connected");
  }

  showReason() {
    this.state = "failed";
    this.root.dataset.connection = "failed";
    if (this.el) this.el.textContent = this.reason;
  }

  show(state) {
    if (this.state === "back" && (state === "connected" || state === "poor") && this.backTimer) {
      return; // "Connected again" stays its few seconds
    }
    this.state = state;
    this.root.dataset.connection = state;
    if (this.el) this.el.textContent = TEXT[state];
  }

  stop() {
    clearInterval(this.sampler);
    clearTimeout(this.backTimer);
    clearTimeout(this.connectTimer);
  }
}
