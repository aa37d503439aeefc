// Parent and observer join page: device check (preview, level meter, pickers) and connection
// check, then the lobby.
import { CallController } from "./call.js";
import { checkConnection, showResult } from "./connection-check.js";
import { fillSelect, getLocalMedia, LevelMeter, listDevices } from "./devices.js";

const root = document.getElementById("call");
const config = JSON.parse(root.dataset.config);
const preview = document.getElementById("preview");
const meter = new LevelMeter(document.getElementById("mic-level"));
const micSelect = document.getElementById("check-mic");
const camSelect = document.getElementById("check-cam");
const joinButton = document.getElementById("btn-join");
const checkStatus = document.getElementById("check-status");
const netStatus = document.getElementById("net-status");
const netRetry = document.getElementById("net-retry");
let stream = null;

async function capture(options = {}) {
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = await getLocalMedia(options);
  preview.srcObject = stream;
  meter.attach(stream);
  const devices = await listDevices();
  const current = (kind) => stream.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
  fillSelect(micSelect, devices.audio, current("audio"));
  fillSelect(camSelect, devices.video, current("video"));
  checkStatus.textContent = "Camera and microphone are working. Make sure your child is in view.";
  checkStatus.className = "alert alert-ok";
}

async function setup() {
  root.dataset.phase = "check";
  if (config.role === "observer") {
    checkStatus.textContent = "You join as an observer: you will see and hear the session; nobody sees or hears you.";
    checkStatus.className = "alert alert-ok";
    joinButton.disabled = false;
    return;
  }
  try {
    await capture();
    joinButton.disabled = false;
  } catch (err) {
    checkStatus.textContent =
      `We could not use your camera or microphone (${err.name}). Allow access in your browser's address bar, then reload.`;
    checkStatus.className = "alert alert-error";
    joinButton.disabled = false; // joining without media still lets the therapist talk them through it
  }
  micSelect.addEventListener("change", () => capture({ audioDeviceId: micSelect.value, videoDeviceId: camSelect.value }));
  camSelect.addEventListener("change", () => capture({ audioDeviceId: micSelect.value, videoDeviceId: camSelect.value }));
}

// Can video get through from this network? Told now, while the parent can still change networks.
async function checkNetwork() {
  netRetry.hidden = true;
  showResult(netStatus, "checking");
  const { result } = await checkConnection({
    iceServers: config.iceServers,
    url: `${location.pathname}/probe`,
    csrf: netStatus.dataset.csrf,
  });
  showResult(netStatus, result);
  netRetry.hidden = !(result === "blocked" || result === "unavailable");
}

netRetry.addEventListener("click", checkNetwork);

// Licensure depends on where the family is during the visit: confirm it before knocking.
async function confirmLocation() {
  const select = document.getElementById("location-state");
  if (!select) return true;
  const body = new URLSearchParams({ state: select.value });
  const response = await fetch(`${location.pathname}/location`, {
    method: "POST",
    headers: { "X-CSRF-Token": select.dataset.csrf, Accept: "application/json" },
    body,
  });
  const result = await response.json().catch(() => ({ allowed: false, message: "Please try again." }));
  if (!result.allowed) {
    checkStatus.textContent = result.message;
    checkStatus.className = "alert alert-error";
    return false;
  }
  return true;
}

joinButton.addEventListener("click", async () => {
  joinButton.disabled = true;
  if (!(await confirmLocation())) {
    joinButton.disabled = false;
    return;
  }
  meter.detach();
  const call = new CallController(root, config, { localStream: stream });
  call.start();
});

// After the camera check: a browser shows real host addresses (not mDNS names) once it has
// camera permission, so the check then sees the network as the call will.
setup().then(checkNetwork);
