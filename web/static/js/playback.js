// Playback of a session's recording with its annotations (page: sessions/playback.html).
//
// - Markers on a timeline bar at recording_ms / duration; a click (or Enter) seeks the video there
//   and highlights the annotation in the list. Arrow keys move between markers.
// - Drawings made on the chosen participant's video reappear over the picture at their time.
// - Snapshots are thumbnails in the annotation list; annotations with a recording time get a
//   "Play from here" button.

import { fadeAlpha, paint } from "./draw-paint.js";
import { clock } from "./session-util.js";

const SHOW_DRAWING_MS = 3000; // how long a drawing stays over the replayed picture

const root = document.getElementById("playback");
const config = JSON.parse(root.dataset.playback);
const video = document.getElementById("playback-video");
const canvas = document.getElementById("drawing-layer");
const bar = document.getElementById("timeline");
const list = document.getElementById("annotation-list");
const select = document.getElementById("file-select");
let file = null;
let frame = null;

const KIND = { note: "Note", tag: "Tag", drawing: "Drawing", snapshot: "Snapshot" };

function describe(a) {
  const what = a.tag || a.text || "";
  return `${KIND[a.kind] || a.kind}${what ? `: ${what}` : ""}`;
}

// Annotations that fall in this file: made while recording, in the same recording when known.
function annotationsFor(f) {
  return config.annotations.filter((a) => a.recording_ms !== null && a.recording_ms !== undefined
    && (!a.recording_id || !f.recording_id || a.recording_id === f.recording_id));
}

// Where an annotation is in this file (a participant added later starts later, if the server says so).
function fileSeconds(a) {
  return Math.max(0, a.recording_ms - (file.offset_ms || 0)) / 1000;
}

function durationMs() {
  if (file.duration_ms) return file.duration_ms;
  if (Number.isFinite(video.duration) && video.duration > 0) return video.duration * 1000;
  const last = Math.max(0, ...annotationsFor(file).map((a) => a.recording_ms));
  return last + 1000;
}

function load(fileId, startAt = 0) {
  file = config.files.find((f) => f.id === fileId) || null;
  if (!file || !video) return;
  if (select) select.value = file.id;
  video.src = file.url;
  if (startAt) video.addEventListener("loadedmetadata", () => { video.currentTime = startAt; }, { once: true });
  renderMarkers();
  enhanceList();
  repaint();
}

// --- timeline ----------------------------------------------------------------------------------

function renderMarkers() {
  if (!bar) return;
  bar.replaceChildren();
  const track = document.createElement("div");
  track.className = "timeline-track";
  const head = document.createElement("div");
  head.className = "timeline-head";
  head.setAttribute("aria-hidden", "true");
  track.append(head);
  const total = durationMs();
  for (const a of annotationsFor(file)) {
    const marker = document.createElement("button");
    marker.type = "button";
    marker.className = `marker marker-${a.kind}`;
    marker.style.left = `${Math.min(100, Math.max(0, ((a.recording_ms - (file.offset_ms || 0)) / total) * 100))}%`;
    marker.dataset.annotation = a.id;
    marker.dataset.seconds = String(fileSeconds(a));
    marker.title = `${clock(fileSeconds(a) * 1000)} ${describe(a)}`;
    marker.setAttribute("aria-label", `${describe(a)}, at ${clock(fileSeconds(a) * 1000)} of the recording`);
    marker.addEventListener("click", () => seekTo(a));
    marker.addEventListener("keydown", (event) => moveBetweenMarkers(event, marker));
    track.append(marker);
  }
  bar.append(track);
  const kinds = [...new Set(annotationsFor(file).map((a) => a.kind))];
  if (kinds.length) {
    const legend = document.createElement("p");
    legend.className = "marker-legend muted small";
    legend.setAttribute("aria-hidden", "true"); // each marker says what it is
    for (const kind of kinds) {
      const key = document.createElement("span");
      key.className = `legend-key marker-${kind}`;
      legend.append(key, ` ${KIND[kind] || kind}  `);
    }
    bar.append(legend);
  }
  if (!track.querySelector(".marker")) {
    const none = document.createElement("p");
    none.className = "muted small";
    none.textContent = "No annotations were made while this was being recorded.";
    bar.append(none);
  }
  movePlayhead();
}

function moveBetweenMarkers(event, marker) {
  if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
  const markers = [...bar.querySelectorAll(".marker")].sort((a, b) => a.dataset.seconds - b.dataset.seconds);
  const i = markers.indexOf(marker) + (event.key === "ArrowRight" ? 1 : -1);
  if (markers[i]) {
    event.preventDefault();
    markers[i].focus();
  }
}

function movePlayhead() {
  const head = bar?.querySelector(".timeline-head");
  if (!head || !file) return;
  head.style.left = `${Math.min(100, ((video.currentTime * 1000) / durationMs()) * 100)}%`;
}

function seekTo(a) {
  video.currentTime = fileSeconds(a);
  highlight(a.id);
  repaint();
}

function highlight(id) {
  for (const el of root.querySelectorAll(".marker, #annotation-list li")) {
    const on = el.dataset.annotation === id;
    el.classList.toggle("active", on);
    if (on) el.setAttribute("aria-current", "true");
    else el.removeAttribute("aria-current");
  }
  const item = list?.querySelector(`li[data-annotation="${CSS.escape(id)}"]`);
  if (item) item.scrollIntoView({ block: "nearest" });
}

// --- the annotation list -----------------------------------------------------------------------

function enhanceList() {
  if (!list) return;
  const inFile = new Set(annotationsFor(file).map((a) => a.id));
  for (const a of config.annotations) {
    const li = list.querySelector(`li[data-annotation="${CSS.escape(a.id)}"]`);
    if (!li) continue;
    if (a.snapshot_url && !li.querySelector("img")) {
      const img = document.createElement("img");
      img.src = a.snapshot_url;
      img.alt = `Snapshot at ${clock(a.session_ms)} of the session`;
      img.className = "snapshot-thumb";
      img.loading = "lazy";
      li.append(" ", img);
    }
    let play = li.querySelector("button.play-from");
    if (!play) {
      play = document.createElement("button");
      play.type = "button";
      play.className = "link-button play-from";
      play.textContent = "Play from here";
      play.setAttribute("aria-label", `Play from here: ${describe(a)}`);
      play.addEventListener("click", () => { seekTo(a); video.play().catch(() => {}); });
      li.append(" ", play);
    }
    play.hidden = !inFile.has(a.id);
  }
}

// --- drawings over the replay ------------------------------------------------------------------

function drawingsNow() {
  if (!file) return [];
  const now = video.currentTime * 1000;
  return annotationsFor(file)
    .filter((a) => a.kind === "drawing" && a.shapes && (!a.target || a.target === file.participant_id))
    .map((a) => ({ a, since: now - fileSeconds(a) * 1000 }))
    .filter(({ since }) => since >= 0 && since < SHOW_DRAWING_MS)
    .map(({ a, since }) => ({ color: a.color || "#ffd400", shapes: a.shapes, alpha: fadeAlpha(since, SHOW_DRAWING_MS) }));
}

function repaint() {
  movePlayhead();
  if (!canvas || !video) return;
  canvas.style.left = `${video.offsetLeft}px`;
  canvas.style.top = `${video.offsetTop}px`;
  canvas.style.width = `${video.offsetWidth}px`;
  canvas.style.height = `${video.offsetHeight}px`;
  const drawings = drawingsNow();
  paint(canvas, video, drawings);
  canvas.dataset.showing = String(drawings.length);
}

function loop() {
  repaint();
  frame = video.paused ? null : requestAnimationFrame(loop);
}

if (video) {
  video.addEventListener("play", () => { if (frame === null) frame = requestAnimationFrame(loop); });
  for (const event of ["seeked", "timeupdate", "loadedmetadata", "pause"]) video.addEventListener(event, repaint);
  video.addEventListener("durationchange", () => { if (file && !file.duration_ms) renderMarkers(); });
  window.addEventListener("resize", repaint);
}
if (select) select.addEventListener("change", () => load(select.value));
if (config.file) load(config.file, config.start || 0);
window.tandemPlayback = { config, seekTo, get file() { return file; } }; // for tests and support
