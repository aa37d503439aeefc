// The therapist's screen share (a visual schedule, a video model): a second, publish-only
// connection of the therapist (source-link.js), forwarded by the relay like a camera and shown
// large on the parent's side (call.js, mainParticipant). Also: a click on a small tile puts it
// on the main stage (the therapist swapping between a parent's two cameras).

import { SourceLink } from "./source-link.js";

const $ = (sel, root = document) => root.querySelector(sel);

export class ScreenShare {
  constructor(call) {
    this.call = call;
    this.button = $("#btn-share", call.root);
    this.link = null;
    this.inRoom = false;
    this.button?.addEventListener("click", () => (this.link ? this.stop() : this.start()));
    $("#thumbs", call.root)?.addEventListener("click", (event) => this.swap(event));
  }

  handle(msg) {
    if (msg.type === "welcome") this.inRoom = !msg.lobby;
    else if (msg.type === "admitted") this.inRoom = true;
    else return;
    if (this.button) {
      this.button.hidden = !(this.inRoom && this.call.role === "therapist" && navigator.mediaDevices?.getDisplayMedia);
    }
  }

  async start() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      this.call.announce(`Screen not shared: ${err.message}`);
      return;
    }
    this.link = new SourceLink({
      sessionId: this.call.config.sessionId,
      source: "screen",
      stream,
      iceServers: this.call.iceServers || this.call.config.iceServers,
      onEnd: () => this.ended(),
    });
    // The browser's own "Stop sharing" ends the track.
    stream.getVideoTracks()[0].addEventListener("ended", () => this.stop());
    this.link.start();
    this.render(true);
    this.call.announce("You are sharing your screen with everyone in the session.");
  }

  stop() {
    if (this.link) this.link.stop();
  }

  ended() {
    this.link = null;
    this.render(false);
  }

  render(sharing) {
    if (!this.button) return;
    this.button.textContent = sharing ? "Stop sharing" : "Share screen";
    this.button.setAttribute("aria-pressed", String(sharing));
    this.call.root.dataset.sharing = sharing ? "yes" : "no";
  }

  // A click on a small tile makes it the large one; the choice holds until it goes away.
  swap(event) {
    const tile = event.target.closest("figure.remote");
    if (!tile || event.target.closest("button, a")) return;
    this.call.pinned = tile.dataset.participant;
    this.call.renderTiles();
  }

  finish() {
    this.stop();
  }
}
