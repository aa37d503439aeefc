// Painting annotation drawings on a canvas laid over a <video>: used live (drawing.js) and in
// playback (playback.js). Coordinates are fractions (0..1) of the video's picture, measured in its
// displayed content box (object-fit contain letterboxes, cover crops).

const HOLD = 0.7; // fully visible for this share of fade_ms, then fades to nothing

// The part of the element the picture occupies, in CSS pixels relative to the element.
export function contentBox(video) {
  const w = video.clientWidth;
  const h = video.clientHeight;
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!w || !h || !vw || !vh) return { x: 0, y: 0, w, h };
  const fit = getComputedStyle(video).objectFit;
  if (fit === "fill") return { x: 0, y: 0, w, h };
  let scale = Math.min(w / vw, h / vh);
  if (fit === "cover") scale = Math.max(w / vw, h / vh);
  else if (fit === "none") scale = 1;
  else if (fit === "scale-down") scale = Math.min(1, scale);
  const cw = vw * scale;
  const ch = vh * scale;
  return { x: (w - cw) / 2, y: (h - ch) / 2, w: cw, h: ch };
}

// Freehand points, thinned to what the protocol takes (≤ 500 points, 0..1, short numbers).
export function simplify(points, max = 500, minStep = 0.002) {
  const out = [];
  for (const [x, y] of points) {
    const p = [Math.round(Math.min(1, Math.max(0, x)) * 1e4) / 1e4, Math.round(Math.min(1, Math.max(0, y)) * 1e4) / 1e4];
    const last = out[out.length - 1];
    if (!last || Math.hypot(p[0] - last[0], p[1] - last[1]) >= minStep) out.push(p);
  }
  if (out.length <= max) return out;
  const stride = (out.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => out[Math.round(i * stride)]);
}

function paintShape(ctx, shape, box) {
  const pts = shape.points.map(([x, y]) => [box.x + x * box.w, box.y + y * box.h]);
  ctx.lineWidth = Math.max(1.5, (shape.width || 0.005) * box.w);
  ctx.beginPath();
  const [a, b] = [pts[0], pts[pts.length - 1]];
  if (pts.length === 1) {
    ctx.arc(a[0], a[1], ctx.lineWidth / 2, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  if (shape.kind === "rect") ctx.rect(a[0], a[1], b[0] - a[0], b[1] - a[1]);
  else if (shape.kind === "ellipse") {
    ctx.ellipse((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, Math.abs(b[0] - a[0]) / 2, Math.abs(b[1] - a[1]) / 2, 0, 0, Math.PI * 2);
  } else if (shape.kind === "line" || shape.kind === "arrow") {
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    if (shape.kind === "arrow") {
      const angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
      const head = ctx.lineWidth * 4;
      for (const side of [-1, 1]) {
        ctx.moveTo(b[0], b[1]);
        ctx.lineTo(b[0] - head * Math.cos(angle + side * 0.5), b[1] - head * Math.sin(angle + side * 0.5));
      }
    }
  } else {
    ctx.moveTo(a[0], a[1]);
    for (const p of pts.slice(1)) ctx.lineTo(p[0], p[1]);
  }
  ctx.stroke();
}

// Paint drawings ({color, shapes, alpha}) onto a canvas laid over `video`.
export function paint(canvas, video, drawings) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(video.clientWidth * dpr);
  const h = Math.round(video.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const box = contentBox(video);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.shadowColor = "rgba(0, 0, 0, 0.6)"; // visible on light and dark pictures alike
  ctx.shadowBlur = 2;
  for (const d of drawings) {
    ctx.globalAlpha = d.alpha ?? 1;
    ctx.strokeStyle = d.color;
    ctx.fillStyle = d.color;
    for (const shape of d.shapes) paintShape(ctx, shape, box);
  }
}

export function fadeAlpha(elapsed, fadeMs) {
  const t = elapsed / fadeMs;
  if (t >= 1) return 0;
  return t < HOLD ? 1 : 1 - (t - HOLD) / (1 - HOLD);
}

