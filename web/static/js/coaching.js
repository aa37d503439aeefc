// Cue cards (docs/signaling.md, "Coaching: cues and chat"). The therapist taps a cue (the plan's
// own, or the defaults) with optional words; the server shows it to the parents only, and stores
// it as an annotation, so it is listed on the therapist's timeline like a tag. A parent sees the
// card large over the video for a few seconds.

const $ = (sel, root = document) => root.querySelector(sel);
const SHOW_MS = 6000;

export class CoachingTools {
  constructor(call, annotations) {
    this.call = call;
    this.annotations = annotations;
    this.panel = $("#cue-panel", call.root);
    this.card = $("#cue-card", call.root);
    this.cues = [];
    this.timer = null;
    this.inRoom = false;
  }

  handle(msg) {
    switch (msg.type) {
      case "welcome":
        this.inRoom = !msg.lobby;
        break;
      case "admitted":
        this.inRoom = true;
        break;
      case "annotation_settings":
        this.cues = msg.cues || [];
        this.renderButtons();
        break;
      case "cue":
        this.show(msg);
        break;
      default:
        return;
    }
    this.render();
  }

  render() {
    if (this.panel) this.panel.hidden = !(this.inRoom && this.call.role === "therapist" && this.cues.length);
  }

  renderButtons() {
    const group = $("#cue-buttons", this.panel || undefined);
    if (!group) return;
    group.replaceChildren(...this.cues.map((cue) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button tag-button cue-button";
      button.dataset.cue = cue;
      button.textContent = cue;
      button.addEventListener("click", () => this.send(cue));
      return button;
    }));
  }

  send(cue) {
    if (this.call.role !== "therapist" || !this.inRoom) return;
    const extra = $("#cue-extra", this.panel);
    const text = extra.value.trim().slice(0, 140);
    const msg = { type: "cue", cue };
    if (text) msg.text = text;
    this.annotations.submit(msg, `Cue: ${cue}${text ? ` (${text})` : ""}`);
    extra.value = "";
  }

  show(msg) {
    if (!this.card) return;
    $("#cue-card-title", this.card).textContent = msg.cue;
    $("#cue-card-text", this.card).textContent = msg.text || "";
    this.card.hidden = false;
    this.card.dataset.shownAt = String(Date.now());
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.card.hidden = true; }, SHOW_MS);
  }

  finish() {
    clearTimeout(this.timer);
  }
}
