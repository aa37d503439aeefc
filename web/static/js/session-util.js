// Small helpers shared by the session tools (and the playback page).

export function randomRef() {
  const raw = crypto.getRandomValues(new Uint8Array(12));
  return "a" + btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// 83_000 -> "01:23"; an hour or more -> "1:02:03".
export function clock(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "--:--";
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

// True when a key press belongs to a text field (shortcuts must not steal typing).
export function typingTarget(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  return !["button", "checkbox", "radio", "submit", "reset", "range", "color"].includes(el.type);
}

export function participantName(call, pid) {
  const p = call.participants.find((x) => x.participant_id === pid);
  return p ? p.name : "someone who left";
}
