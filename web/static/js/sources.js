// Which tile goes on the main stage when sources are in the call (docs/signaling.md, "Sources"):
// a tile the viewer picked (call.pinned), else someone else's shared screen. Null: call.js's own
// choice (the parent's camera for the therapist, the therapist for the parent).

export function sourcedMain(call, present) {
  const available = (p) => p && call.streams.has(p.participant_id);
  const pinned = present.find((p) => p.participant_id === call.pinned);
  if (available(pinned)) return pinned.participant_id;
  const screen = present.find((p) => p.source_of && p.source_of !== call.me && p.participant_id.endsWith("-screen"));
  if (available(screen)) return screen.participant_id;
  return null;
}
