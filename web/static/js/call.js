// The call: signaling + peer connection + the page. Used by the therapist, parent and observer pages.

import { SignalingClient } from "./signaling.js";
import { trace } from "./trace.js";
import { PeerSession } from "./peer.js";
import { fillSelect, getLocalMedia, listDevices } from "./devices.js";
import { QualityMonitor } from "./quality.js";
import { ConnectionWatch } from "./connection.js";
import { QualityReporter } from "./quality-report.js";
import { installSessionTools } from "./session-tools.js";
import { sourcedMain } from "./sources.js";

const $ = (sel, root = document) => root.querySelector(sel);

const ROLE_LABEL = { therapist: "Therapist", parent: "Parent", observer: "Observer" };

export class CallController {
  constructor(root, config, { localStream = null } = {}) {
    this.root = root;
    this.config = config;
    this.role = config.role;
    this.localStream = localStream;
    this.publish = this.role !== "observer";
    this.peer = null;
    this.me = null;
    this.participants = [];
    this.streams = new Map(); // participant id -> MediaStream
    this.trackOwner = new Map(); // remote track id -> participant id
    this.state = "connecting";
    this.audioOn = true;
    this.videoOn = true;
    this.quality = new QualityMonitor(() => this.peer, $("#quality", root), {
      onLevel: (level) => this.connection.quality(level),
      onStall: () => this.connection.stalled(),
    });
    this.signaling = new SignalingClient({
      sessionId: config.sessionId,
      role: this.role,
      token: config.token,
      onMessage: (msg) => this.handle(msg),
      onStatus: (status) => this.setStatus(status),
      // Only a connection the browser has not given up on, on a network it never lost (ICE
      // ports die with their network: then only a new connection helps).
      canResume: async () => Boolean(this.peer && !this.wentOffline
        && ["connected", "disconnected"].includes(this.peer.pc.connectionState)
        && await (this.addressable || this.peer.stillAddressable())),
    });
    window.addEventListener("offline", () => { this.wentOffline = true; });
    this.connection = new ConnectionWatch(root, {
      signaling: this.signaling,
      getPeer: () => this.peer,
      iceServers: () => this.iceServers || this.config.iceServers,
    });
    this.reporter = new QualityReporter(() => this.peer, (msg) => this.signaling.send(msg));
    this.bindControls();
    this.tools = installSessionTools(this); // recording consent, annotations, drawing
    window.tandemCall = this; // for the browser tests and for support sessions
  }

  start() {
    this.showSelf();
    this.signaling.connect();
    // A closed tab leaves at once instead of holding its place for the reconnect grace.
    // (A reload leaves too, and comes back with its rejoin credential, without the lobby.)
    window.addEventListener("pagehide", (event) => {
      if (!event.persisted) this.signaling.send({ type: "leave" });
    });
    this.quality.start();
    this.reporter.start();
    this.freezeTimer = setInterval(() => this.watchFrozen().catch(() => {}), 2000);
  }

  // A tile whose frames stopped (or never started: a late joiner waits for a keyframe) asks the
  // relay for a keyframe of that publisher. The relay rate-limits these per publisher as well.
  async watchFrozen() {
    if (!this.peer || this.peer.pc.connectionState !== "connected") return;
    const stats = await this.mediaStats();
    const last = this.lastFrames || new Map();
    this.lastFrames = new Map();
    for (const p of this.participants) {
      if (p.participant_id === this.me || p.role === "observer") continue;
      if (!p.video || p.status !== "present" || !this.streams.has(p.participant_id)) continue;
      const frames = stats[p.participant_id]?.framesDecoded || 0;
      this.lastFrames.set(p.participant_id, frames);
      if (last.has(p.participant_id) && last.get(p.participant_id) === frames) {
        this.signaling.send({ type: "keyframe", publisher_id: p.participant_id });
      }
    }
  }

  // --- signaling -------------------------------------------------------------------------------

  async handle(msg) {
    switch (msg.type) {
      case "welcome":
        trace(`welcome${msg.media_resumed ? ": media resumed" : ""}`);
        this.me = msg.participant_id;
        this.iceServers = msg.ice_servers && msg.ice_servers.length ? msg.ice_servers : this.config.iceServers;
        this.root.dataset.participant = msg.participant_id;
        if (msg.lobby) {
          this.setPhase("lobby");
        } else if (msg.media_resumed && this.peer) {
          this.connection.resumed(this.peer.pc); // the relay kept our connection: no offer
          this.setPhase("call");
          this.askKeyframes(); // what arrived during the gap cannot be decoded
        } else {
          this.resetPeer();
          this.setPhase("call");
        }
        break;
      case "admitted":
        this.signaling.rejoin = msg.rejoin;
        this.resetPeer();
        this.setPhase("call");
        break;
      case "offer": {
        trace("offer: received");
        if (!this.peer) this.resetPeer();
        const sdp = await this.peer.handleOffer(msg.sdp);
        this.signaling.send({ type: "answer", sdp, revision: msg.revision });
        this.sendMediaState();
        break;
      }
      case "participants":
        this.announceReconnects(msg.participants);
        this.state = msg.state;
        this.participants = msg.participants;
        this.renderParticipants();
        break;
      case "reception": {
        // The relay stopped (or resumed) our video because our connection cannot carry it.
        const note = $("#reception-note", this.root);
        if (note) note.hidden = !msg.audio_only;
        this.root.dataset.reception = msg.audio_only ? "audio-only" : "full";
        break;
      }
      case "link_hint": {
        // The parent's own reports say their link is weak: the therapist knows why the picture stutters.
        const hint = $("#link-hint", this.root);
        const who = this.participants.find((p) => p.participant_id === msg.participant_id);
        if (hint) {
          hint.hidden = !msg.weak;
          hint.textContent = msg.weak ? `${who ? who.name : "Someone"}'s connection is weak (${msg.reason})` : "";
        }
        break;
      }
      case "lobby_update":
        this.renderLobby(msg.waiting);
        break;
      case "declined":
        this.finish("declined", "The therapist did not admit you to this session.");
        break;
      case "removed":
        this.finish("removed", msg.reason === "link_revoked"
          ? "Your link was withdrawn by the therapist."
          : "The therapist removed you from the session.");
        break;
      case "ended":
        this.finish("ended", "The session has ended. Thank you!");
        break;
      case "error":
        this.announce(`Problem: ${msg.message}`);
        if (msg.code === "link_gone" || msg.code === "session_ended") this.finish("ended", "This session is no longer available.");
        if (msg.code === "link_invalid" || msg.code === "forbidden") this.finish("error", "You cannot join this session with this link.");
        if (msg.code === "session_full") this.finish("error", "This session is full. Please contact your therapist.");
        break;
      case "_reconnecting":
        // The peer connection stays: if the link comes back, it may carry on by itself (the
        // rejoin asks the relay to keep it); the welcome says whether it did. Whether its
        // address is still ours is asked now, so that the rejoin does not wait for it.
        this.addressable = this.peer ? this.peer.stillAddressable().catch(() => false) : null;
        break;
      case "_closed":
        if (!["ended", "removed", "declined", "error", "left"].includes(this.root.dataset.phase)) {
          const why = {
            4002: "The session has ended.",
            4004: "You joined this session from another window or tab; this one was closed.",
          }[msg.code] || "The connection was closed.";
          this.finish(msg.code === 4004 ? "left" : "ended", why);
        }
        break;
      default:
        break;
    }
    this.tools.handle(msg);
  }

  resetPeer() {
    const before = this.peer;
    if (this.peer) this.peer.close();
    this.wentOffline = false;
    this.addressable = null;
    this.trackOwner.clear();
    this.lastFrames = new Map();
    const peer = new PeerSession({
      iceServers: this.iceServers || this.config.iceServers,
      localStream: this.localStream,
      publish: this.publish,
      onTrack: (pid, track, stream) => this.addRemote(pid, track, stream),
      onState: (state) => {
        const wasLost = this.connection.lost;
        this.connection.peerState(peer.pc, state);
        // Back: ask for keyframes now rather than at the next frozen check.
        if (state === "connected" && (before || wasLost)) this.askKeyframes();
      },
      needsNetwork: Boolean(before && before.hadNetwork),
    });
    this.peer = peer;
    this.connection.peerStarted(peer.pc);
  }

  askKeyframes() {
    for (const p of this.participants) {
      if (p.participant_id !== this.me && p.role !== "observer" && p.video && p.status === "present") {
        this.signaling.send({ type: "keyframe", publisher_id: p.participant_id });
      }
    }
  }

  // --- media and tiles -------------------------------------------------------------------------

  addRemote(pid, track, stream) {
    this.trackOwner.set(track.id, pid);
    this.streams.set(pid, stream);
    this.renderTiles();
  }

  showSelf() {
    const self = $("#self-video", this.root);
    if (!self) return;
    if (this.localStream) {
      self.srcObject = this.localStream;
      self.closest("figure").hidden = false;
    } else {
      self.closest("figure").hidden = true;
    }
  }

  // Parent coaching: the therapist watches the parent's camera (the child) large.
  mainParticipant(present) {
    const sourced = sourcedMain(this, present); // coaching hook (sources.js): pinned tile, shared screen
    if (sourced) return sourced;
    const preferred = this.role === "parent" ? ["therapist", "parent"] : ["parent", "therapist"];
    for (const role of preferred) {
      const p = present.find((x) => x.role === role && x.participant_id !== this.me && this.streams.has(x.participant_id));
      if (p) return p.participant_id;
    }
    return null;
  }

  renderTiles() {
    const stage = $("#main-video", this.root);
    const thumbs = $("#thumbs", this.root);
    const present = this.participants.filter((p) => p.participant_id !== this.me && p.role !== "observer");
    const mainId = this.mainParticipant(present);
    const wanted = new Set(present.map((p) => p.participant_id));
    for (const tile of this.root.querySelectorAll("figure.remote")) {
      if (!wanted.has(tile.dataset.participant)) tile.remove();
    }
    for (const p of present) {
      let tile = this.root.querySelector(`figure.remote[data-participant="${CSS.escape(p.participant_id)}"]`);
      if (!tile) {
        tile = document.createElement("figure");
        tile.className = "tile remote";
        tile.dataset.participant = p.participant_id;
        const video = document.createElement("video");
        video.autoplay = true;
        video.playsInline = true;
        const caption = document.createElement("figcaption");
        tile.append(video, caption);
      }
      const video = tile.querySelector("video");
      const stream = this.streams.get(p.participant_id);
      if (stream && video.srcObject !== stream) {
        video.srcObject = stream;
        this.play(video);
      }
      tile.dataset.role = p.role;
      tile.dataset.status = p.status;
      tile.classList.toggle("camera-off", !p.video);
      // "Parent · Parent" says nothing twice: the role only when the name is not already it.
      const label = p.name === ROLE_LABEL[p.role] ? p.name : `${p.name} · ${ROLE_LABEL[p.role]}`;
      tile.querySelector("figcaption").textContent =
        `${label}${p.audio ? "" : " · muted"}${p.status === "reconnecting" ? " · reconnecting…" : ""}`;
      const target = p.participant_id === mainId ? stage : thumbs;
      if (tile.parentElement !== target) target.append(tile);
    }
    const empty = $("#stage-empty", this.root);
    if (empty) empty.hidden = Boolean(mainId) || present.length > 0;
    this.tools.tilesChanged();
  }

  // Autoplay with sound needs a user gesture (the parent's Join click is one; a therapist who
  // reloaded the call page may have none): then play muted and unmute at the first click or key.
  play(video) {
    video.play().catch((err) => {
      if (err.name !== "NotAllowedError") return;
      video.muted = true;
      video.play().catch(() => {});
      this.announce("Click anywhere on the page to hear the others.");
      if (this.unmuteArmed) return;
      this.unmuteArmed = true;
      const unmute = () => {
        this.unmuteArmed = false;
        document.removeEventListener("pointerdown", unmute, true);
        document.removeEventListener("keydown", unmute, true);
        for (const v of this.root.querySelectorAll("figure.remote video")) {
          v.muted = false;
          v.play().catch(() => {});
        }
        this.announce("");
      };
      document.addEventListener("pointerdown", unmute, true);
      document.addEventListener("keydown", unmute, true);
    });
  }

  renderParticipants() {
    const list = $("#participant-list", this.root);
    if (list) {
      list.replaceChildren();
      for (const p of this.participants) {
        const li = document.createElement("li");
        li.dataset.participant = p.participant_id;
        li.dataset.role = p.role;
        li.dataset.status = p.status;
        const name = document.createElement("span");
        name.textContent = `${p.name}${p.participant_id === this.me ? " (you)" : ""}`;
        const meta = document.createElement("span");
        meta.className = "muted";
        const flags = [ROLE_LABEL[p.role]];
        if (p.role === "observer") flags.push("watching, not on camera");
        else {
          if (!p.audio) flags.push("muted");
          if (!p.video) flags.push("camera off");
        }
        if (p.status === "reconnecting") flags.push("reconnecting");
        meta.textContent = ` · ${flags.join(", ")}`;
        li.append(name, meta);
        if (this.role === "therapist" && p.participant_id !== this.me) {
          const remove = document.createElement("button");
          remove.type = "button";
          remove.className = "link-button";
          remove.textContent = "Remove";
          remove.setAttribute("aria-label", `Remove ${p.name}`);
          remove.addEventListener("click", () => {
            if (confirm(`Remove ${p.name} from the session?`)) {
              this.signaling.send({ type: "remove", participant_id: p.participant_id });
            }
          });
          li.append(" ", remove);
        }
        list.append(li);
      }
    }
    const badge = $("#call-state", this.root);
    if (badge) badge.textContent = { open: "Waiting room open", live: "Live", ended: "Ended" }[this.state] || this.state;
    this.renderTiles();
  }

  // The server says who lost their connection and who is back: say it out loud too.
  announceReconnects(next) {
    const before = new Map(this.participants.map((p) => [p.participant_id, p.status]));
    for (const p of next) {
      if (p.participant_id === this.me || !before.has(p.participant_id)) continue;
      const was = before.get(p.participant_id);
      if (was !== "reconnecting" && p.status === "reconnecting") this.announce(`${p.name} lost the connection and is reconnecting…`);
      if (was === "reconnecting" && p.status === "present") {
        this.announce(`${p.name} is back.`);
        // Their connection may have carried on through the gap: ask for a picture now.
        if (p.role !== "observer" && p.video) this.signaling.send({ type: "keyframe", publisher_id: p.participant_id });
      }
    }
  }

  renderLobby(waiting) {
    const panel = $("#lobby-panel", this.root);
    const list = $("#waiting-list", this.root);
    if (!panel || !list) return;
    panel.hidden = waiting.length === 0;
    list.replaceChildren();
    for (const w of waiting) {
      const li = document.createElement("li");
      li.dataset.participant = w.participant_id;
      const label = document.createElement("span");
      const where = w.location ? ` · in ${(this.config.states || {})[w.location] || w.location}` : "";
      label.textContent = `${w.name} (${ROLE_LABEL[w.role]}) is waiting${where}`;
      const admit = document.createElement("button");
      admit.type = "button";
      admit.className = "button primary admit";
      admit.textContent = "Admit";
      admit.addEventListener("click", () => this.signaling.send({ type: "admit", participant_id: w.participant_id }));
      const decline = document.createElement("button");
      decline.type = "button";
      decline.className = "button decline";
      decline.textContent = "Decline";
      decline.addEventListener("click", () => this.signaling.send({ type: "decline", participant_id: w.participant_id }));
      li.append(label, " ", admit, " ", decline);
      list.append(li);
    }
    if (waiting.length) this.announce(`${waiting.map((w) => w.name).join(", ")} waiting to be admitted`);
  }

  // --- controls --------------------------------------------------------------------------------

  bindControls() {
    const mic = $("#btn-mic", this.root);
    const cam = $("#btn-cam", this.root);
    const leave = $("#btn-leave", this.root);
    const end = $("#btn-end", this.root);
    if (!this.publish) {
      for (const el of [mic, cam, $("#device-pickers", this.root)]) if (el) el.hidden = true;
    }
    if (mic) mic.addEventListener("click", () => this.toggle("audio"));
    if (cam) cam.addEventListener("click", () => this.toggle("video"));
    if (leave) leave.addEventListener("click", () => this.leave());
    if (end) {
      end.hidden = this.role !== "therapist";
      end.addEventListener("click", () => {
        if (confirm("End the session for everyone?")) this.signaling.send({ type: "end" });
      });
    }
    const micSelect = $("#mic-select", this.root);
    const camSelect = $("#cam-select", this.root);
    if (micSelect) micSelect.addEventListener("change", () => this.switchDevice("audio", micSelect.value));
    if (camSelect) camSelect.addEventListener("change", () => this.switchDevice("video", camSelect.value));
    if (this.publish && navigator.mediaDevices) {
      listDevices().then((d) => {
        const current = (kind) => this.localStream?.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
        if (micSelect) fillSelect(micSelect, d.audio, current("audio"));
        if (camSelect) fillSelect(camSelect, d.video, current("video"));
      }).catch(() => {});
    }
  }

  toggle(kind) {
    if (!this.localStream) return;
    const on = kind === "audio" ? (this.audioOn = !this.audioOn) : (this.videoOn = !this.videoOn);
    for (const track of this.localStream.getTracks()) if (track.kind === kind) track.enabled = on;
    const button = $(kind === "audio" ? "#btn-mic" : "#btn-cam", this.root);
    if (button) {
      button.setAttribute("aria-pressed", String(!on));
      button.textContent = kind === "audio" ? (on ? "Mute" : "Unmute") : (on ? "Stop camera" : "Start camera");
    }
    this.sendMediaState();
  }

  sendMediaState() {
    if (!this.publish) return;
    this.signaling.send({ type: "media_state", audio: this.audioOn, video: this.videoOn });
  }

  async switchDevice(kind, deviceId) {
    try {
      const fresh = await getLocalMedia(kind === "audio" ? { audioDeviceId: deviceId } : { videoDeviceId: deviceId });
      const track = fresh.getTracks().find((t) => t.kind === kind);
      for (const t of fresh.getTracks()) if (t !== track) t.stop();
      const old = this.localStream.getTracks().find((t) => t.kind === kind);
      track.enabled = kind === "audio" ? this.audioOn : this.videoOn;
      if (this.peer) await this.peer.replaceTrack(kind, track);
      if (old) { this.localStream.removeTrack(old); old.stop(); }
      this.localStream.addTrack(track);
      this.showSelf();
    } catch (err) {
      this.announce(`Could not switch ${kind === "audio" ? "microphone" : "camera"}: ${err.message}`);
    }
  }

  leave() {
    this.signaling.send({ type: "leave" });
    this.finish("left", "You left the session. You can close this window.");
  }

  finish(phase, message) {
    this.signaling.finish();
    if (this.peer) { this.peer.close(); this.peer = null; }
    this.quality.stop();
    this.connection.stop();
    this.reporter.stop();
    clearInterval(this.freezeTimer);
    this.tools.finish();
    if (this.localStream) for (const t of this.localStream.getTracks()) t.stop();
    const done = $("#done-message", this.root);
    if (done) done.textContent = message;
    this.setPhase(phase);
  }

  setPhase(phase) {
    this.root.dataset.phase = phase;
    for (const el of this.root.querySelectorAll("[data-show-in]")) {
      el.hidden = !el.dataset.showIn.split(" ").includes(phase);
    }
  }

  setStatus(status) {
    this.connection.socketStatus(status);
  }

  announce(text) {
    const el = $("#announcer", this.root);
    if (el) el.textContent = text;
  }

  // For tests and diagnostics: decoded video frames and received audio per remote participant.
  async mediaStats() {
    const result = {};
    if (!this.peer) return result;
    const report = await this.peer.stats();
    report.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      const pid = this.trackOwner.get(s.trackIdentifier);
      if (!pid) return;
      result[pid] = result[pid] || { framesDecoded: 0, audioBytes: 0, audioSamples: 0 };
      if (s.kind === "video") result[pid].framesDecoded += s.framesDecoded || 0;
      if (s.kind === "audio") {
        result[pid].audioBytes += s.bytesReceived || 0;
        result[pid].audioSamples += s.totalSamplesReceived || 0;
      }
    });
    return result;
  }

  async outboundStats() {
    const out = { audioBytes: 0, videoBytes: 0 };
    if (!this.peer) return out;
    (await this.peer.stats()).forEach((s) => {
      if (s.type === "outbound-rtp") out[s.kind === "audio" ? "audioBytes" : "videoBytes"] += s.bytesSent || 0;
    });
    return out;
  }
}
