// Drawing on live video (docs/signaling.md, `draw` and `drawing`).
//
// Every video tile gets a transparent canvas on top. Coordinates on the wire are fractions of the
// video's picture (0..1), measured in the displayed content box: object-fit contain letterboxes
// and cover crops, so the box is computed from the video's intrinsic size, not the element's.
// The therapist (and observers when allowed) draws freehand on the main tile; received drawings
// appear on the target's tile, the self view included (mirrored with it), and fade out.

import { participantName } from "./session-util.js";
import { contentBox, fadeAlpha, paint, simplify } from "./draw-paint.js";

const $ = (sel, root = document) => root.querySelector(sel);

const ROLE_LABEL = { therapist: "therapist", parent: "parent", observer: "observer" };
const FADE_MS = 4000;
const LINE_WIDTH = 0.006; // of the picture's width

function strokeShape(stroke) {
  return { kind: "stroke", points: simplify(stroke.points), width: LINE_WIDTH };
}

export class DrawingLayer {
  constructor(call, annotations) {
    this.call = call;
    this.root = call.root;
    this.annotations = annotations;
    this.toolbar = $("#draw-toolbar", this.root);
    this.active = new Map(); // tile figure -> [{color, shapes, start, fade_ms}]
    this.stroke = null; // {figure, pointerId, points, color}
    this.choices = new Map(); // participant id -> checked, as the author set it
    this.drawMode = false;
    this.frame = null;
    this.onPointer = (event) => this.pointer(event);
    if (this.toolbar) {
      $("#btn-draw", this.toolbar).addEventListener("click", () => this.setDrawMode(!this.drawMode));
      this.onKey = (event) => { if (event.key === "Escape" && this.drawMode) this.setDrawMode(false); };
      document.addEventListener("keydown", this.onKey);
    }
  }

  get allowed() { return this.annotations.allowed; }

  handle(msg) {
    if (msg.type === "drawing") this.received(msg);
    if (["participants", "annotation_settings", "welcome", "admitted"].includes(msg.type)) this.renderToolbar();
  }

  tilesChanged() {
    for (const figure of this.root.querySelectorAll("figure.tile")) this.ensureCanvas(figure);
    this.renderToolbar();
    this.schedule();
  }

  // --- tiles and canvases ----------------------------------------------------------------------

  ensureCanvas(figure) {
    let canvas = $("canvas.draw-layer", figure);
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.className = "draw-layer";
      canvas.setAttribute("aria-hidden", "true");
      figure.querySelector("video").after(canvas);
      canvas.addEventListener("pointerdown", this.onPointer);
      canvas.addEventListener("pointermove", this.onPointer);
      canvas.addEventListener("pointerup", this.onPointer);
      canvas.addEventListener("pointercancel", this.onPointer);
    }
    return canvas;
  }

  tileOf(pid) {
    if (pid === this.call.me) return $("figure.tile.self", this.root);
    return this.root.querySelector(`figure.remote[data-participant="${CSS.escape(pid)}"]`);
  }

  mainFigure() {
    return $("#main-video figure.remote", this.root);
  }

  // --- received drawings -----------------------------------------------------------------------

  received(msg) {
    const figure = this.tileOf(msg.target);
    if (!figure || figure.hidden) return;
    this.show(figure, { color: msg.color, shapes: msg.shapes, fade_ms: msg.fade_ms || FADE_MS });
    if (msg.target === this.call.me) {
      this.call.announce(`${participantName(this.call, msg.author_id)} drew on your video.`);
    }
  }

  show(figure, drawing) {
    this.ensureCanvas(figure);
    const list = this.active.get(figure) || [];
    list.push({ ...drawing, start: performance.now() });
    this.active.set(figure, list);
    this.schedule();
  }

  schedule() {
    if (this.frame === null) this.frame = requestAnimationFrame(() => this.paintAll());
  }

  paintAll() {
    this.frame = null;
    const now = performance.now();
    let more = false;
    for (const [figure, list] of this.active) {
      const alive = list.filter((d) => now - d.start < d.fade_ms);
      const drawings = alive.map((d) => ({ ...d, alpha: fadeAlpha(now - d.start, d.fade_ms) }));
      if (this.stroke && this.stroke.figure === figure) {
        drawings.push({ color: this.stroke.color, shapes: [strokeShape(this.stroke)], alpha: 1 });
      }
      const video = figure.querySelector("video");
      const canvas = this.ensureCanvas(figure);
      if (!figure.isConnected) { this.active.delete(figure); continue; }
      this.place(canvas, video);
      paint(canvas, video, drawings);
      figure.classList.toggle("has-drawing", drawings.length > 0);
      if (drawings.length) more = true;
      else this.active.delete(figure);
    }
    if (more) this.schedule();
  }

  place(canvas, video) {
    canvas.style.left = `${video.offsetLeft}px`;
    canvas.style.top = `${video.offsetTop}px`;
    canvas.style.width = `${video.offsetWidth}px`;
    canvas.style.height = `${video.offsetHeight}px`;
  }

  // --- drawing with a pointer ------------------------------------------------------------------

  setDrawMode(on) {
    this.drawMode = on && this.allowed && Boolean(this.mainFigure());
    const button = $("#btn-draw", this.toolbar);
    button.setAttribute("aria-pressed", String(this.drawMode));
    button.textContent = this.drawMode ? "Stop drawing" : "Draw on video";
    for (const canvas of this.root.querySelectorAll("canvas.draw-layer")) canvas.classList.remove("drawing");
    const figure = this.mainFigure();
    if (this.drawMode && figure) this.ensureCanvas(figure).classList.add("drawing");
    this.root.classList.toggle("draw-mode", this.drawMode);
  }

  toNormalized(event, figure) {
    const video = figure.querySelector("video");
    const rect = video.getBoundingClientRect();
    const box = contentBox(video);
    return [(event.clientX - rect.left - box.x) / box.w, (event.clientY - rect.top - box.y) / box.h];
  }

  pointer(event) {
    const canvas = event.currentTarget;
    const figure = canvas.closest("figure");
    if (!this.drawMode || figure !== this.mainFigure()) return;
    if (event.type === "pointerdown") {
      if (event.button !== 0) return;
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      this.stroke = { figure, pointerId: event.pointerId, points: [this.toNormalized(event, figure)], color: this.color() };
      if (!this.active.has(figure)) this.active.set(figure, []);
      this.schedule();
      return;
    }
    if (!this.stroke || this.stroke.pointerId !== event.pointerId) return;
    if (event.type === "pointermove") {
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const e of events.length ? events : [event]) this.stroke.points.push(this.toNormalized(e, figure));
      this.schedule();
    } else if (event.type === "pointerup") {
      this.stroke.points.push(this.toNormalized(event, figure));
      this.send();
    } else {
      this.stroke = null; // pointercancel: the browser took the gesture over
      this.schedule();
    }
  }

  color() {
    return this.toolbar.querySelector("input[name='draw-color']:checked")?.value || "#ffd400";
  }

  send() {
    const stroke = this.stroke;
    this.stroke = null;
    const target = stroke.figure.dataset.participant;
    const shape = strokeShape(stroke);
    const msg = {
      type: "draw",
      target,
      show_to: this.showTo(),
      color: stroke.color,
      shapes: [shape],
      fade_ms: FADE_MS,
    };
    this.show(stroke.figure, { color: msg.color, shapes: msg.shapes, fade_ms: FADE_MS });
    const viewers = msg.show_to.map((pid) => participantName(this.call, pid)).join(", ") || "nobody else";
    this.annotations.submit(msg, `Drawing on ${participantName(this.call, target)} (shown to ${viewers})`);
  }

  showTo() {
    return [...this.toolbar.querySelectorAll("#draw-show-to input:checked")].map((el) => el.value);
  }

  // --- toolbar ---------------------------------------------------------------------------------

  renderToolbar() {
    if (!this.toolbar) return;
    const canDraw = this.allowed && Boolean(this.mainFigure());
    this.toolbar.hidden = !canDraw;
    if (!canDraw && this.drawMode) this.setDrawMode(false);
    if (this.drawMode) this.setDrawMode(true); // the main tile may have changed
    const fieldset = $("#draw-show-to", this.toolbar);
    const others = this.call.participants.filter((p) => p.participant_id !== this.call.me);
    const observer = this.call.role === "observer";
    const rows = others.map((p) => {
      const forbidden = observer && p.role === "parent"; // observers never draw for parents
      const fallback = observer ? p.role === "therapist" : p.role === "parent";
      const checked = !forbidden && (this.choices.has(p.participant_id) ? this.choices.get(p.participant_id) : fallback);
      const label = document.createElement("label");
      label.className = "check-row";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = p.participant_id;
      box.checked = checked;
      box.disabled = forbidden;
      box.addEventListener("change", () => this.choices.set(p.participant_id, box.checked));
      label.append(box, ` ${p.name} (${ROLE_LABEL[p.role]}${forbidden ? ", not for observers" : ""})`);
      return label;
    });
    const legend = $("legend", fieldset);
    const focused = fieldset.contains(document.activeElement) ? document.activeElement.value : null;
    fieldset.replaceChildren(legend, ...rows);
    if (focused) fieldset.querySelector(`input[value="${CSS.escape(focused)}"]`)?.focus();
  }

  finish() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    if (this.onKey) document.removeEventListener("keydown", this.onKey);
  }
}
