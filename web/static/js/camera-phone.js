// The phone's page behind a second-camera link: its camera (the rear one when there is one),
// sent to the session as the parent's second camera (source-link.js). It receives nothing.

import { SourceLink } from "./source-link.js";

const root = document.getElementById("camera");
const config = JSON.parse(root.dataset.config);
const preview = document.getElementById("camera-preview");
const status = document.getElementById("camera-status");
const start = document.getElementById("btn-camera-start");
const stop = document.getElementById("btn-camera-stop");
let stream = null;
let link = null;

function say(state, text, ok = false) {
  root.dataset.state = state;
  status.textContent = text;
  status.className = ok ? "alert alert-ok" : "alert";
}

async function camera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    preview.srcObject = stream;
    say("ready", "Camera ready. Send it when the view is right.", true);
    start.disabled = false;
  } catch (err) {
    say("error", `The camera could not start: ${err.message}`);
  }
}

start.addEventListener("click", () => {
  start.disabled = true;
  link = new SourceLink({
    sessionId: config.sessionId,
    source: "camera",
    token: config.token,
    stream,
    iceServers: config.iceServers,
    onState: (state, msg) => {
      if (state === "connected") say("sending", "Sending to the session as your second camera.", true);
      if (state === "error") {
        say("refused", msg.code === "link_gone"
          ? "This link was used already or has expired. Show a new code on the computer."
          : `The session refused this camera: ${msg.message}`);
      }
    },
    onEnd: () => {
      if (root.dataset.state !== "refused") say("stopped", "This camera is no longer sent to the session.");
      stop.hidden = true;
    },
  });
  link.start();
  start.hidden = true;
  stop.hidden = false;
});
stop.addEventListener("click", () => link?.stop());

camera();
