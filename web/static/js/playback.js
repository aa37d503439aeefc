// Playback: the recording with its annotations as markers; clicking a marker seeks there.
// (The full version with drawings and snapshots replaces this minimal one.)
const root = document.getElementById("playback");
const config = JSON.parse(root.dataset.playback);
const video = document.getElementById("playback-video");
const timeline = document.getElementById("timeline");
const select = document.getElementById("file-select");

function load(fileId) {
  const file = config.files.find((f) => f.id === fileId);
  if (!file || !video) return;
  video.src = file.url;
  renderMarkers(file);
}

function renderMarkers(file) {
  if (!timeline) return;
  timeline.replaceChildren();
  const duration = (file.duration_ms || 1) / 1000;
  for (const a of config.annotations) {
    if (a.recording_ms === null || a.recording_ms === undefined) continue;
    const at = a.recording_ms / 1000;
    const marker = document.createElement("button");
    marker.type = "button";
    marker.className = `marker marker-${a.kind}`;
    marker.style.left = `${Math.min(100, (at / duration) * 100)}%`;
    marker.dataset.annotation = a.id;
    marker.textContent = a.tag || a.kind;
    marker.setAttribute("aria-label", `${a.kind} ${a.tag || a.text || ""} at ${Math.floor(at)} seconds`);
    marker.addEventListener("click", () => { video.currentTime = at; });
    timeline.append(marker);
  }
}

if (select) select.addEventListener("change", () => load(select.value));
if (config.file) {
  if (select) select.value = config.file;
  load(config.file);
  if (config.start) video.addEventListener("loadedmetadata", () => { video.currentTime = config.start; }, { once: true });
}
