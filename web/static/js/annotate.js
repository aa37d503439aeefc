// Notes, one-tap tags and snapshots during a session, with a timeline of what was saved
// (docs/signaling.md, "Annotations"). Drawings (drawing.js) go through submit() as well.
//
// Every annotation stays "saving…" until the server's annotation_saved: the server acks only
// after the database committed it. Unacked annotations are sent again, with the same client_ref
// (saving is idempotent), after a reconnect; a failed one can be retried.

import { clock, participantName, randomRef, typingTarget } from "./session-util.js";
import { GoalTags } from "./goal-tags.js";

const $ = (sel, root = document) => root.querySelector(sel);

const FAILURE = {
  not_saved: "Not saved: the server could not store it.",
  no_frame: "No snapshot: no video frame was available.",
};

export class AnnotationPanel {
  constructor(call) {
    this.call = call;
    this.root = call.root;
    this.panel = $("#annotate-panel", this.root);
    this.timeline = $("#annotation-timeline", this.root);
    this.items = new Map(); // client_ref -> {msg, label, status, reason, session_ms, recording_ms, li}
    this.settings = { observers_may_annotate: false, tags: [], goals: [] };
    this.inRoom = false;
    this.sessionClock = null; // {ms, at}: a server session_ms and the performance.now() it was seen at
    this.lastState = null;
    this.goalTags = new GoalTags(this);
    if (this.panel) this.bind();
  }

  get allowed() {
    return this.inRoom && (this.call.role === "therapist"
      || (this.call.role === "observer" && this.settings.observers_may_annotate));
  }

  bind() {
    const form = $("#note-form", this.panel);
    const text = $("#note-text", this.panel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.note();
    });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.note();
      }
    });
    const observers = $("#observers-annotate", this.panel);
    observers.addEventListener("change", () => {
      this.call.signaling.send({ type: "observer_annotations", allowed: observers.checked });
    });
    $("#btn-snapshot", this.panel).addEventListener("click", () => this.snapshot());
    this.onKey = (event) => this.shortcut(event);
    document.addEventListener("keydown", this.onKey);
  }

  // --- messages --------------------------------------------------------------------------------

  handle(msg) {
    switch (msg.type) {
      case "welcome":
        this.inRoom = !msg.lobby;
        if (this.inRoom) this.resendUnacked(); // a rejoin goes straight back into the room
        break;
      case "admitted":
        this.inRoom = true;
        break;
      case "participants":
        // Seen going live: the session clock starts now (until the server tells us better).
        if (msg.state === "live" && this.lastState === "open" && !this.sessionClock) this.syncClock(0);
        this.lastState = msg.state;
        break;
      case "annotation_settings":
        this.settings = { observers_may_annotate: msg.observers_may_annotate, tags: msg.tags || [], goals: msg.goals || [] };
        this.renderTags();
        if (this.call.role === "observer") {
          this.call.announce(msg.observers_may_annotate
            ? "The therapist lets observers add notes, tags and drawings."
            : "Notes, tags and drawings are for the therapist only now.");
        }
        break;
      case "annotation_history":
        this.goalTags.restore(msg.items);
        break;
      case "annotation_saved":
        this.saved(msg);
        break;
      case "annotation_failed":
        this.failed(msg);
        break;
      case "drawing":
        this.syncClock(msg.session_ms);
        break;
      default:
        return;
    }
    this.render();
  }

  tilesChanged() {
    this.render();
  }

  syncClock(ms) {
    this.sessionClock = { ms, at: performance.now() };
  }

  estimate() {
    return this.sessionClock ? this.sessionClock.ms + (performance.now() - this.sessionClock.at) : null;
  }

  // --- making annotations ---------------------------------------------------------------------

  mainTarget() {
    return $("#main-video figure.remote", this.root)?.dataset.participant || null;
  }

  note() {
    const text = $("#note-text", this.panel);
    const value = text.value.trim();
    if (!value || !this.allowed) return;
    const msg = { type: "note", text: value.slice(0, 2000) };
    const target = this.mainTarget();
    if (target) msg.target = target;
    this.submit(msg, `Note: ${value}`);
    text.value = "";
  }

  tag(option) {
    if (!this.allowed) return;
    const msg = { type: "tag", tag: option.label };
    if (option.goal_id) msg.goal_id = option.goal_id;
    const target = this.mainTarget();
    if (target) msg.target = target;
    const names = new Map(this.settings.goals.map((g) => [g.goal_id, g.name]));
    this.submit(msg, this.goalTags.label(option, names));
    this.goalTags.update();
  }

  snapshot() {
    const target = this.mainTarget();
    if (!target || this.call.role !== "therapist") return;
    this.submit({ type: "snapshot", target }, `Snapshot of ${participantName(this.call, target)}`);
  }

  // Send an annotation and list it as "saving…". Returns its client_ref.
  submit(msg, label) {
    const ref = randomRef();
    const full = { ...msg, client_ref: ref };
    const item = { msg: full, label, status: "saving", estimate: this.estimate(), session_ms: null, recording_ms: null };
    this.items.set(ref, item);
    item.li = this.renderItem(item);
    this.timeline.prepend(item.li);
    this.call.signaling.send(full); // if the socket is down, resendUnacked() sends it on rejoin
    return ref;
  }

  retry(ref) {
    const item = this.items.get(ref);
    if (!item) return;
    item.status = "saving";
    item.reason = null;
    this.renderItem(item);
    this.call.signaling.send(item.msg);
  }

  resendUnacked() {
    for (const item of this.items.values()) {
      if (item.status === "saving") this.call.signaling.send(item.msg);
    }
  }

  saved(msg) {
    this.syncClock(msg.session_ms);
    const item = this.items.get(msg.client_ref);
    if (!item) return;
    Object.assign(item, {
      status: "saved",
      annotation_id: msg.annotation_id,
      session_ms: msg.session_ms,
      recording_ms: msg.recording_ms,
    });
    this.renderItem(item);
  }

  failed(msg) {
    const item = this.items.get(msg.client_ref);
    if (!item) return;
    item.status = "failed";
    item.reason = msg.reason;
    this.renderItem(item);
    this.goalTags.update();
    this.call.announce(`${item.label}: ${FAILURE[msg.reason] || "not saved."} You can retry.`);
  }

  shortcut(event) {
    if (!this.allowed || this.panel.hidden || this.root.dataset.phase !== "call") return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (typingTarget(event.target) || document.querySelector("dialog[open]")) return;
    if (/^[1-9]$/.test(event.key)) {
      const option = this.settings.tags[Number(event.key) - 1];
      if (!option) return;
      event.preventDefault();
      this.tag(option);
    } else if (event.key === "u" || event.key === "U") {
      event.preventDefault();
      this.goalTags.undo();
    } else if (event.key === "n" || event.key === "N") {
      event.preventDefault();
      $("#note-text", this.panel).focus();
    }
  }

  // --- rendering -------------------------------------------------------------------------------

  render() {
    if (!this.panel) return;
    const therapist = this.call.role === "therapist";
    this.panel.hidden = !this.allowed;
    $("#observers-annotate-row", this.panel).hidden = !therapist;
    $("#observers-annotate", this.panel).checked = this.settings.observers_may_annotate;
    const snap = $("#btn-snapshot", this.panel);
    const target = this.mainTarget();
    snap.hidden = !therapist;
    snap.disabled = !target;
    snap.textContent = target ? `Snapshot of ${participantName(this.call, target)}` : "Snapshot (nobody on camera)";
  }

  renderTags() {
    this.goalTags.render(this.settings, (option) => this.tag(option));
  }

  renderItem(item) {
    const li = item.li || document.createElement("li");
    li.className = "timeline-item";
    li.dataset.ref = item.msg.client_ref;
    li.dataset.kind = item.msg.type;
    li.dataset.status = item.status;
    if (item.undone) li.dataset.undone = "yes";
    const ms = item.session_ms ?? item.estimate;
    const time = document.createElement("time");
    time.className = "t-session";
    time.textContent = clock(ms);
    if (ms !== null && ms !== undefined) time.dateTime = `PT${Math.floor(ms / 1000)}S`;
    time.title = item.session_ms === null ? "session time (estimated until saved)" : "session time";
    const label = document.createElement("span");
    label.className = "t-label";
    label.textContent = item.label;
    const status = document.createElement("span");
    status.className = "t-status";
    if (item.status === "saving") status.textContent = "saving…";
    else if (item.status === "saved") {
      status.textContent = item.recording_ms === null || item.recording_ms === undefined
        ? "saved" : `saved · recording ${clock(item.recording_ms)}`;
    } else status.textContent = FAILURE[item.reason] || "Not saved.";
    li.replaceChildren(time, " ", label, " ", status);
    if (item.status === "failed") {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "link-button retry";
      retry.textContent = "Retry";
      retry.setAttribute("aria-label", `Retry: ${item.label}`);
      retry.addEventListener("click", () => this.retry(item.msg.client_ref));
      li.append(" ", retry);
    }
    return li;
  }

  finish() {
    if (this.onKey) document.removeEventListener("keydown", this.onKey);
  }
}
