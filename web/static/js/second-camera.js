// The parent's "phone as a second camera" panel: asks the server (with the parent's rejoin
// credential) for a single-use, short-lived link, shown as a QR code (an SVG made by the server)
// and as a short link.

const $ = (sel, root = document) => root.querySelector(sel);

export class SecondCameraPanel {
  constructor(call) {
    this.call = call;
    this.panel = $("#camera-panel", call.root);
    this.inRoom = false;
    $("#btn-camera-link", this.panel || undefined)?.addEventListener("click", () => this.request());
  }

  handle(msg) {
    if (msg.type === "welcome") this.inRoom = !msg.lobby;
    else if (msg.type === "admitted") this.inRoom = true;
    else return;
    if (this.panel) this.panel.hidden = !(this.inRoom && this.call.role === "parent");
  }

  async request() {
    const signaling = this.call.signaling;
    let answer;
    try {
      const response = await fetch(`/join/${encodeURIComponent(this.call.config.sessionId)}/second-camera`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": this.panel.dataset.csrf, Accept: "application/json" },
        body: JSON.stringify({ rejoin: signaling.rejoin, client_id: signaling.clientId }),
      });
      answer = await response.json();
      if (!response.ok) throw new Error(answer.error || response.statusText);
    } catch (err) {
      this.call.announce(`No code for a second camera: ${err.message}`);
      return;
    }
    $("#camera-qr", this.panel).src = answer.qr;
    const url = $("#camera-url", this.panel);
    url.href = answer.url;
    url.textContent = answer.url;
    $("#camera-link", this.panel).hidden = false;
    $("#btn-camera-link", this.panel).textContent = "Show a new code";
  }
}
