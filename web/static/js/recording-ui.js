// Recording consent in the browser (docs/signaling.md, "Recording and consent"):
// - everyone: the recording indicator, and a modal consent dialog for each request;
// - the therapist: Record / Pause / Resume / Stop, and who is pending or declined;
// - the others: their own answer, and a way to change it (withdraw, or answer later).

import { clock, participantName } from "./session-util.js";

const $ = (sel, root = document) => root.querySelector(sel);

// "unknown": no live word from the server (connecting, reconnecting, or just reconnected and not
// told yet). The indicator shows only what the relay says it is doing now: a recording that was
// running before a lost connection or a server restart is not assumed to still run.
const UNKNOWN = { state: "unknown", pending: [], declined: [], offset_ms: 0 };

const LABEL = {
  unknown: "",
  off: "",
  awaiting_consent: "Waiting for consent",
  recording: "Recording",
  paused: "Recording paused",
  stopped: "Recording stopped",
};

export class RecordingUI {
  constructor(call) {
    this.call = call;
    this.root = call.root;
    this.isTherapist = call.role === "therapist";
    this.status = UNKNOWN;
    this.statusAt = performance.now();
    this.request = null; // the current consent_request {request_id, text, version}
    this.answer = null; // {request_id, accept}: my answer to it (not echoed by the server)
    this.held = false; // the therapist paused (the server does not say so while awaiting consent)
    this.returnFocus = null;
    this.dialog = $("#consent-dialog", this.root);
    this.bind();
    this.tick = setInterval(() => this.renderClock(), 1000);
  }

  bind() {
    const send = (action) => () => {
      if (action === "stop" && !confirm("Stop the recording? A new recording needs everyone's consent again.")) return;
      this.held = action === "pause";
      this.call.signaling.send({ type: "record", action });
    };
    $("#btn-record", this.root)?.addEventListener("click", send("request"));
    $("#btn-rec-pause", this.root)?.addEventListener("click", send("pause"));
    $("#btn-rec-resume", this.root)?.addEventListener("click", send("resume"));
    $("#btn-rec-stop", this.root)?.addEventListener("click", send("stop"));
    $("#btn-consent-withdraw", this.root)?.addEventListener("click", () => this.decide(false));
    $("#btn-consent-review", this.root)?.addEventListener("click", () => this.openDialog());
    if (!this.dialog) return;
    $("#consent-accept", this.dialog).addEventListener("click", () => this.decide(true));
    $("#consent-decline", this.dialog).addEventListener("click", () => this.decide(false));
    // Escape closes without answering; "Answer the recording request" brings it back.
    this.dialog.addEventListener("close", () => this.afterDialog());
    // showModal() makes the page inert; keep Tab cycling inside the dialog rather than
    // leaving for the browser's own controls.
    this.dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const items = [...this.dialog.querySelectorAll("button, [tabindex='0']")].filter((el) => !el.disabled);
      const first = items[0];
      const last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
    });
  }

  handle(msg) {
    switch (msg.type) {
      case "welcome":
      case "_reconnecting":
        // A new connection, or none: the clock stops until the server says what it records.
        this.status = UNKNOWN;
        this.statusAt = performance.now();
        this.render();
        break;
      case "consent_request":
        this.request = { request_id: msg.request_id, text: msg.text, version: msg.version };
        this.answer = null;
        this.openDialog();
        break;
      case "recording":
        this.announceDeclines(msg.declined || []);
        this.status = msg;
        this.statusAt = performance.now();
        if (typeof msg.held === "boolean") this.held = msg.held;
        else if (msg.state === "recording" || msg.state === "stopped" || msg.state === "off") this.held = false;
        // After a reload the prompt is not sent again to someone who accepted: keep the request
        // id from the status so they can still withdraw.
        if (msg.request_id && (!this.request || this.request.request_id !== msg.request_id)) {
          this.request = { request_id: msg.request_id, text: this.request ? this.request.text : null, version: null };
        }
        if (msg.state === "stopped" || msg.state === "off") {
          this.request = null;
          this.answer = null;
          this.closeDialog();
        }
        this.render();
        break;
      case "participants":
        this.render(); // names of pending people
        break;
      case "error":
        if (msg.code === "stale_request") {
          this.call.announce("That recording request is no longer current.");
          this.request = null;
          this.render();
        }
        break;
      default:
        break;
    }
  }

  // The therapist hears who newly declined (the list may be scrolled out of view).
  announceDeclines(declined) {
    const before = new Set((this.status.declined || []).map((d) => d.participant_id));
    const fresh = declined.filter((d) => !before.has(d.participant_id));
    if (this.isTherapist && fresh.length) {
      this.call.announce(`${fresh.map((d) => d.name).join(", ")} declined the recording. Nothing is recorded while anyone declines.`);
    }
  }

  decide(accept) {
    if (!this.request) return;
    this.call.signaling.send({ type: "consent", request_id: this.request.request_id, accept });
    this.answer = { request_id: this.request.request_id, accept };
    this.closeDialog();
    this.call.announce(accept
      ? "Thank you. You agreed to the recording; you can stop it for yourself at any time."
      : "You declined. Nothing is recorded while you decline.");
    this.render();
  }

  openDialog() {
    if (!this.dialog || !this.request || this.isTherapist) return;
    $("#consent-text", this.dialog).textContent = this.request.text;
    $("#consent-version", this.dialog).textContent = String(this.request.version);
    if (!this.dialog.open) {
      this.returnFocus = document.activeElement;
      this.dialog.showModal();
    }
    // The text first: Enter must not accept by accident, and a long text can be scrolled.
    $("#consent-text", this.dialog).focus();
    this.render();
  }

  closeDialog() {
    if (this.dialog?.open) this.dialog.close();
  }

  afterDialog() {
    const back = this.returnFocus;
    this.returnFocus = null;
    if (back && back.isConnected && typeof back.focus === "function") back.focus();
    this.render();
  }

  render() {
    const s = this.status;
    const indicator = $("#recording-indicator", this.root);
    if (indicator) {
      indicator.dataset.state = s.state;
      $("#recording-label", indicator).textContent = LABEL[s.state] ?? s.state;
    }
    this.renderClock();
    const panel = $("#recording-panel", this.root);
    if (!panel) return;
    if (this.isTherapist) this.renderTherapist(panel, s);
    else this.renderMine(panel, s);
  }

  renderClock() {
    const el = $("#recording-clock", this.root);
    if (!el) return;
    const s = this.status;
    const running = s.state === "recording";
    const shown = running || s.state === "paused";
    el.textContent = shown ? clock(s.offset_ms + (running ? performance.now() - this.statusAt : 0)) : "";
  }

  renderTherapist(panel, s) {
    panel.hidden = false;
    // Nothing to control until the server says where the recording stands.
    $("#recording-controls", panel).hidden = s.state === "unknown";
    const active = ["awaiting_consent", "recording", "paused"].includes(s.state);
    const blocked = s.pending.length > 0 || s.declined.length > 0;
    const record = $("#btn-record", panel);
    record.hidden = active && !blocked;
    record.textContent = active ? "Ask again" : s.state === "stopped" ? "Record again" : "Record";
    const paused = s.state === "paused" || (s.state === "awaiting_consent" && this.held);
    $("#btn-rec-pause", panel).hidden = !active || paused;
    $("#btn-rec-resume", panel).hidden = !active || !paused;
    $("#btn-rec-stop", panel).hidden = !active;
    $("#recording-summary", panel).textContent = {
      off: "Not recording. Recording starts only when everyone in the session has agreed.",
      awaiting_consent: "Waiting for everyone to agree before recording starts.",
      recording: "Recording everyone in the session.",
      paused: "Paused: nothing is being recorded.",
      stopped: "The recording was stopped.",
      unknown: "Connecting: recording status not known yet.",
    }[s.state] || "";
    const pending = $("#recording-pending", panel);
    pending.replaceChildren(...s.pending.map((pid) => this.item(pid, participantName(this.call, pid))));
    $("#recording-waiting", panel).hidden = !active || s.pending.length === 0;
    const declined = $("#recording-declined", panel);
    declined.replaceChildren(...s.declined.map((d) => this.item(d.participant_id, d.name)));
    $("#recording-refused", panel).hidden = !active || s.declined.length === 0;
  }

  renderMine(panel, s) {
    const active = ["awaiting_consent", "recording", "paused"].includes(s.state);
    panel.hidden = !active && s.state !== "stopped";
    $("#recording-summary", panel).textContent = {
      awaiting_consent: "The therapist asked to record. Recording starts only when everyone agrees.",
      recording: "This session is being recorded.",
      paused: "Recording is paused: nothing is being recorded.",
      stopped: "The recording was stopped.",
    }[s.state] || "";
    const mine = $("#recording-mine", panel);
    mine.hidden = !active;
    const pending = s.pending.includes(this.call.me);
    const accepted = !pending && this.answer?.accept !== false && (this.answer?.accept || s.state === "recording");
    let text = "";
    if (this.answer?.accept === false) text = "You declined the recording.";
    else if (accepted) text = "You agreed to be recorded.";
    else if (pending) text = "You have not answered yet.";
    $("#recording-my-answer", panel).textContent = text;
    $("#btn-consent-withdraw", panel).hidden = !active || !accepted || !this.request;
    const canAnswer = Boolean(this.request) && !accepted && !(this.dialog?.open);
    $("#btn-consent-review", panel).hidden = !active || !canAnswer;
  }

  item(pid, name) {
    const li = document.createElement("li");
    li.dataset.participant = pid;
    li.textContent = name;
    return li;
  }

  finish() {
    clearInterval(this.tick);
    this.closeDialog();
  }
}
