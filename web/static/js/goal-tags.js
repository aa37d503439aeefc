// Goal-linked tags in the call (docs/signaling.md, "Annotations"): the client's goals, each with
// its own tags; a tap (or a number key) records the tag against the goal, a running tally per
// goal, and undo of the last tag. A session without goals shows the plain tag buttons.
//
// The tally counts this page's tags that were not undone and not refused by the server; the
// note's objective measures are computed by the server from what it stored.

const TRIALS = { success: "trial success", fail: "trial fail" };

function button(option, index, onTap) {
  const el = document.createElement("button");
  el.type = "button";
  el.className = "button tag-button";
  el.dataset.tag = option.label;
  if (option.goal_id) el.dataset.goal = option.goal_id;
  if (index < 9) {
    el.setAttribute("aria-keyshortcuts", String(index + 1));
    const key = document.createElement("kbd");
    key.textContent = String(index + 1);
    key.setAttribute("aria-hidden", "true");
    el.append(key, " ");
  }
  el.append(option.label);
  el.addEventListener("click", () => onTap(option));
  return el;
}

// "3 of 4 trials · verbal cue 1", or "independent 2 · verbal cue 1", or "no tags yet".
export function tallyText(counts) {
  const parts = [];
  const hits = counts.get(TRIALS.success) || 0;
  const misses = counts.get(TRIALS.fail) || 0;
  if (hits + misses) parts.push(`${hits} of ${hits + misses} trials`);
  for (const [tag, n] of counts) {
    if (tag !== TRIALS.success && tag !== TRIALS.fail && n) parts.push(`${tag} ${n}`);
  }
  return parts.length ? parts.join(" · ") : "no tags yet";
}

export class GoalTags {
  constructor(panel) {
    this.panel = panel; // the AnnotationPanel: its items hold what was tagged
    this.group = panel.panel?.querySelector("#tag-buttons") || null;
    this.undoButton = panel.panel?.querySelector("#btn-undo-tag") || null;
    this.tallies = new Map(); // goal_id -> <output>
    this.undone = new Set(); // client_refs taken back
    this.undoButton?.addEventListener("click", () => this.undo());
  }

  render(settings, onTap) {
    if (!this.group) return;
    for (const old of this.group.querySelectorAll("button, .goal-group")) old.remove();
    this.tallies.clear();
    const goals = settings.goals || [];
    const names = new Map(goals.map((g) => [g.goal_id, g.name]));
    const sections = new Map();
    for (const goal of goals) {
      const section = document.createElement("section");
      section.className = "goal-group";
      section.dataset.goal = goal.goal_id;
      const heading = document.createElement("h4");
      heading.className = "small-heading goal-name";
      heading.id = `goal-${goal.goal_id}`;
      heading.textContent = goal.name;
      const tally = document.createElement("output");
      tally.className = "goal-tally";
      tally.setAttribute("aria-live", "polite");
      tally.setAttribute("aria-labelledby", heading.id);
      this.tallies.set(goal.goal_id, tally);
      const row = document.createElement("div");
      row.className = "goal-buttons";
      row.setAttribute("role", "group");
      row.setAttribute("aria-labelledby", heading.id);
      section.append(heading, tally, row);
      sections.set(goal.goal_id, row);
      this.group.append(section);
    }
    settings.tags.forEach((option, i) => {
      const row = names.has(option.goal_id) ? sections.get(option.goal_id) : this.group;
      // The goal's name reaches a screen reader through the group's label (aria-labelledby).
      row.append(button(option, i, onTap));
    });
    this.update();
  }

  label(option, names) {
    const goal = names?.get(option.goal_id);
    return goal ? `Tag: ${option.label} · ${goal}` : `Tag: ${option.label}`;
  }

  counted() {
    return [...this.panel.items.values()].filter((item) => item.msg.type === "tag"
      && item.status !== "failed" && !this.undone.has(item.msg.client_ref));
  }

  // The last tag still counted, newest first.
  last() {
    const tags = this.counted();
    return tags.length ? tags[tags.length - 1] : null;
  }

  undo() {
    const item = this.last();
    if (!item || !this.panel.allowed) return;
    this.undone.add(item.msg.client_ref);
    item.undone = true;
    if (item.li) item.li.dataset.undone = "yes";
    this.panel.submit({ type: "undo", undo_ref: item.msg.client_ref }, `Undo: ${item.label.replace(/^Tag: /, "")}`);
    this.panel.call.announce(`Undone: ${item.label.replace(/^Tag: /, "")}`);
    this.update();
  }

  // A reloaded page: the tags (and undos) the server saved this session, oldest first. Those this
  // page already lists (a reconnect without a reload) are skipped by their client_ref.
  restore(history) {
    const names = new Map((this.panel.settings.goals || []).map((g) => [g.goal_id, g.name]));
    for (const entry of history) {
      if (this.panel.items.has(entry.client_ref)) continue;
      const msg = entry.kind === "undo"
        ? { type: "undo", client_ref: entry.client_ref, undo_ref: entry.undo_ref }
        : { type: "tag", client_ref: entry.client_ref, tag: entry.tag, goal_id: entry.goal_id };
      const undone = entry.kind === "undo" ? this.panel.items.get(entry.undo_ref) : null;
      const label = entry.kind === "undo"
        ? `Undo: ${(undone?.label || "a tag").replace(/^Tag: /, "")}`
        : this.label({ label: entry.tag, goal_id: entry.goal_id }, names);
      const item = { msg, label, status: "saved", session_ms: entry.session_ms, recording_ms: null };
      this.panel.items.set(entry.client_ref, item);
      item.li = this.panel.renderItem(item);
      this.panel.timeline.prepend(item.li);
      if (entry.kind === "undo") {
        this.undone.add(entry.undo_ref);
        if (undone) {
          undone.undone = true;
          if (undone.li) undone.li.dataset.undone = "yes";
        }
      }
    }
    this.update();
  }

  update() {
    const per = new Map();
    for (const item of this.counted()) {
      const goal = item.msg.goal_id;
      if (!goal) continue;
      if (!per.has(goal)) per.set(goal, new Map());
      const counts = per.get(goal);
      counts.set(item.msg.tag, (counts.get(item.msg.tag) || 0) + 1);
    }
    for (const [goal, output] of this.tallies) {
      output.textContent = tallyText(per.get(goal) || new Map());
    }
    if (this.undoButton) {
      const item = this.last();
      this.undoButton.disabled = !item;
      this.undoButton.textContent = item ? `Undo ${item.label.replace(/^Tag: /, "")}` : "Undo last tag";
    }
  }
}
