// Tandem signaling client: one WebSocket, messages handled strictly in order, automatic reconnect.
// Protocol: docs/signaling.md (version 1).

import { trace } from "./trace.js";

export const PROTOCOL_VERSION = 1;

// The client pings this often and tells the server so (`?heartbeat=`): a socket that stays
// silent for 2.5 heartbeats is dead on both sides (a cut link never closes a TCP socket).
export const HEARTBEAT_SECONDS = 2;
const SILENT_MS = HEARTBEAT_SECONDS * 2500;
// A connect attempt that neither opens nor fails (SYNs lost on a dead link) is abandoned.
const CONNECT_TIMEOUT_MS = 3000;

// Close codes after which reconnecting cannot help (docs/signaling.md, "Close codes").
const FINAL_CLOSE_CODES = new Set([1003, 1008, 1009, 4001, 4002, 4003, 4004, 4029, 4403, 4404, 4410, 4426]);

function randomId(bytes = 16) {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// One id per browser profile: the same link opened on another device must knock again.
export function deviceClientId() {
  const key = "tandem.client_id";
  let id = null;
  try { id = localStorage.getItem(key); } catch (_) { /* storage disabled: per-tab id */ }
  if (!id) {
    id = randomId();
    try { localStorage.setItem(key, id); } catch (_) { /* keep it in memory */ }
  }
  return id;
}

export class SignalingClient {
  constructor({ sessionId, role, token, onMessage, onStatus, canResume }) {
    // Asked at each reconnect: may the relay keep our peer connection (join.resume_media)?
    this.canResume = canResume || (() => false);
    this.sessionId = sessionId;
    this.role = role;
    this.token = token || null;
    this.onMessage = onMessage;
    this.onStatus = onStatus || (() => {});
    this.clientId = deviceClientId();
    this.ws = null;
    this.queue = Promise.resolve();
    this.finished = false;
    this.attempt = 0;
    this.pingTimer = null;
    this.reconnectTimer = null;
    this.connectTimer = null;
    this.lastHeard = 0;
    this.probes = [];
    this.watchOnline();
  }

  // The browser says the network is back: try at once rather than at the next retry.
  watchOnline() {
    window.addEventListener("online", () => this.retryNow());
  }

  // The network works again (the browser, or media flowing, says so): a reconnect waiting for
  // its timer, or stuck on a SYN sent into the void, starts over now.
  retryNow() {
    if (this.finished) return;
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.CONNECTING) {
      this.ws = null;
      try { ws.close(); } catch (_) { /* never opened */ }
      this.connect();
    } else if (ws === null && this.reconnectTimer !== null) {
      this.connect();
    }
  }

  get rejoinKey() { return `tandem.rejoin.${this.sessionId}`; }

  get rejoin() {
    try { return sessionStorage.getItem(this.rejoinKey); } catch (_) { return null; }
  }

  set rejoin(value) {
    try {
      if (value) sessionStorage.setItem(this.rejoinKey, value);
      else sessionStorage.removeItem(this.rejoinKey);
    } catch (_) { /* storage disabled: rejoin will knock again */ }
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const as = this.role === "therapist" ? "?as=therapist" : "";
    const query = `${as ? `${as}&` : "?"}heartbeat=${HEARTBEAT_SECONDS}`;
    return `${scheme}//${location.host}/ws/sessions/${encodeURIComponent(this.sessionId)}${query}`;
  }

  connect() {
    if (this.finished) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    trace(`socket: connecting (try ${this.attempt})`);
    this.onStatus(this.attempt ? "reconnecting" : "connecting");
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => { if (ws === this.ws && ws.readyState !== WebSocket.OPEN) this.restart(); }, CONNECT_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      clearTimeout(this.connectTimer);
      trace("socket: open");
      this.lastHeard = Date.now();
      const join = { type: "join", v: PROTOCOL_VERSION, client_id: this.clientId };
      this.sendJoin(ws, join);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let msg;
      try { msg = JSON.parse(event.data); } catch (_) { return; }
      this.lastHeard = Date.now();
      this.settleProbes(true); // anything at all from the server proves the socket alive
      if (msg.type === "pong") return;
      if (msg.type === "welcome" || msg.type === "admitted") this.attempt = 0;
      // Strictly in order: an offer must not start while the previous answer is being applied.
      this.queue = this.queue.then(() => this.onMessage(msg)).catch((err) => {
        console.error("signaling handler failed", err);
      });
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      trace(`socket: closed ${event.code}`);
      clearInterval(this.pingTimer);
      this.ws = null;
      if (this.finished || FINAL_CLOSE_CODES.has(event.code)) {
        this.finished = true;
        this.queue = this.queue.then(() => this.onMessage({ type: "_closed", code: event.code, reason: event.reason }));
        return;
      }
      this.scheduleReconnect();
    });
  }

  async sendJoin(ws, join) {
    if (this.role !== "therapist") {
      join.token = this.token;
      const rejoin = this.rejoin;
      if (rejoin) join.rejoin = rejoin;
    }
    const mayResume = this.canResumeOnce !== false;
    this.canResumeOnce = true;
    if (this.attempt && mayResume && await this.canResume().catch(() => false)) join.resume_media = true;
    if (ws !== this.ws) return;
    this.send(join);
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.heartbeat(), HEARTBEAT_SECONDS * 1000);
  }

  // Every heartbeat: a ping, unless the socket has been silent too long (then it is dead).
  heartbeat() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && Date.now() - this.lastHeard > SILENT_MS) {
      this.restart();
      return;
    }
    this.send({ type: "ping" });
  }

  // Is the socket alive? A ping answered within `timeoutMs`.
  probe(timeoutMs = 1000) {
    if (!this.send({ type: "ping" })) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = { resolve, timer: setTimeout(() => this.settleProbe(entry, false), timeoutMs) };
      this.probes.push(entry);
    });
  }

  // Can a *new* connection reach the server? A small static file, fetched past every cache:
  // resolves with the round trip in ms, `null` when the network refused at once (no route, the
  // interface is down), or `undefined` when nothing came back within `timeoutMs`.
  async reach(timeoutMs) {
    const started = performance.now();
    try {
      await fetch(new URL("./trace.js", import.meta.url), {
        method: "HEAD", cache: "no-store", signal: AbortSignal.timeout(timeoutMs),
      });
      return performance.now() - started;
    } catch (err) {
      return err && err.name === "TimeoutError" ? undefined : null;
    }
  }

  settleProbe(entry, ok) {
    clearTimeout(entry.timer);
    this.probes = this.probes.filter((e) => e !== entry);
    entry.resolve(ok);
  }

  settleProbes(ok) {
    for (const entry of [...this.probes]) this.settleProbe(entry, ok);
  }

  scheduleReconnect(now = false) {
    if (this.finished) return;
    this.attempt += 1;
    this.settleProbes(false);
    // The link may come back any moment: retry at least every second for the first half
    // minute (a failed attempt on a dead link costs nothing), then every 5 s. A restart the
    // page decided on (the socket was found dead) tries once at once.
    const quick = now && this.attempt === 1 ? 0 : Math.min(250 * 2 ** (this.attempt - 1), 1000);
    const delay = this.attempt > 30 ? 5000 : quick;
    this.onStatus("reconnecting");
    this.queue = this.queue.then(() => this.onMessage({ type: "_reconnecting" }));
    trace(`socket: retry in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  // Drop the socket and come back: used when the peer connection failed (aiortc has no ICE
  // restart), or the socket was found dead (`now`: the first try goes at once).
  restart(now = false) {
    if (this.finished || (this.ws === null && this.reconnectTimer !== null)) return; // already on it
    const ws = this.ws;
    this.ws = null;
    trace("socket: restart");
    if (ws) { try { ws.close(4000, "reconnect"); } catch (_) { /* already closing */ } }
    this.scheduleReconnect(now);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  finish() {
    this.finished = true;
    this.settleProbes(false);
    clearInterval(this.pingTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.reconnectTimer);
    if (this.ws) { try { this.ws.close(1000, "left"); } catch (_) { /* closing anyway */ } }
  }
}
