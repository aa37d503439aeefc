// A publish-only source of someone in the call (docs/signaling.md, "Sources"): the therapist's
// shared screen, or a phone joined as a parent's second camera. Its own WebSocket and peer
// connection; it answers the relay's offers, publishes its one video track and receives nothing.

import { PROTOCOL_VERSION } from "./signaling.js";
import { PeerSession } from "./peer.js";

function clientId() {
  const raw = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class SourceLink {
  // source: "screen" | "camera"; token: a second camera's link (not for the screen).
  constructor({ sessionId, source, token = null, stream, iceServers = [], onEnd = () => {}, onState = () => {} }) {
    Object.assign(this, { sessionId, source, token, stream, iceServers, onEnd, onState });
    this.ws = null;
    this.peer = null;
    this.queue = Promise.resolve();
    this.ended = false;
    this.participantId = null;
  }

  start() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const as = this.source === "screen" ? "?as=therapist" : "";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/sessions/${encodeURIComponent(this.sessionId)}${as}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const join = { type: "join", v: PROTOCOL_VERSION, client_id: clientId(), source: this.source };
      if (this.token) join.token = this.token;
      this.send(join);
      this.ping = setInterval(() => this.send({ type: "ping" }), 15000);
    });
    ws.addEventListener("message", (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (_) { return; }
      // Strictly in order, like the call's own connection.
      this.queue = this.queue.then(() => this.handle(msg)).catch((err) => console.error("source", err));
    });
    ws.addEventListener("close", (event) => this.end(event.code, event.reason));
  }

  async handle(msg) {
    if (msg.type === "welcome") {
      this.participantId = msg.participant_id;
      if (msg.ice_servers && msg.ice_servers.length) this.iceServers = msg.ice_servers;
      this.onState("joined", msg);
    } else if (msg.type === "offer") {
      if (!this.peer) {
        this.peer = new PeerSession({
          iceServers: this.iceServers,
          localStream: this.stream,
          publish: true,
          onTrack: () => {},
          onFailed: () => this.stop(),
          onState: (state) => this.onState(state),
        });
      }
      const sdp = await this.peer.handleOffer(msg.sdp);
      this.send({ type: "answer", sdp, revision: msg.revision });
      this.send({ type: "media_state", audio: false, video: true });
    } else if (msg.type === "error") {
      this.onState("error", msg);
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  stop() {
    this.send({ type: "leave" });
    this.end(1000, "stopped");
  }

  end(code, reason) {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.ping);
    if (this.peer) this.peer.close();
    try { this.ws.close(); } catch (_) { /* already closed */ }
    for (const track of this.stream.getTracks()) track.stop();
    this.onEnd(code, reason);
  }
}
