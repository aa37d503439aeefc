// Instant validation for the booking form: asks the server the same questions the submit will
// (conflicts, availability blocks, travel buffer, licensure) as the fields change.
const form = document.getElementById("booking-form");
const panel = document.getElementById("booking-check");
const clientTime = document.getElementById("client-time");

const FIELDS = [
  "client_id", "date", "start_time", "duration_minutes", "mode", "location_id", "service_type",
  "client_state", "repeat", "repeat_count", "repeat_until", "override_reason",
];

function payload() {
  const data = new FormData(form);
  const body = {};
  for (const name of FIELDS) body[name] = data.get(name) ?? "";
  if (form.dataset.appointmentId) body.appointment_id = form.dataset.appointmentId;
  return body;
}

function ready(body) {
  return body.client_id && body.date && body.start_time && body.mode && body.service_type;
}

function item(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  return li;
}

function showClientTime(body) {
  // The family's own clock, computed by the browser from the client's zone.
  const option = form.querySelector(`#client_id option[value="${CSS.escape(body.client_id)}"]`);
  const zone = option?.dataset.zone;
  if (!clientTime || !zone || !body.date || !body.start_time) return;
  clientTime.textContent = `Times are in your zone; the family's zone is ${zone}.`;
}

function render(result) {
  panel.replaceChildren();
  panel.hidden = false;
  const list = document.createElement("ul");
  const errors = Object.values(result.errors || {});
  for (const message of errors) list.append(item(message, "field-error"));
  for (const p of result.problems || []) {
    const blocking = (result.blocking || []).some((b) => b.message === p.message);
    list.append(item(p.message, blocking ? "problem blocking" : "problem overridden"));
  }
  const heading = document.createElement("p");
  if (!errors.length && !(result.problems || []).length) {
    heading.textContent = result.occurrences > 1
      ? `All ${result.occurrences} visits fit your schedule.`
      : "This time fits your schedule.";
    panel.className = "check-panel alert alert-ok";
  } else if (result.ok) {
    heading.textContent = "Will be booked with your override reason:";
    panel.className = "check-panel alert alert-warn";
  } else {
    heading.textContent = errors.length ? "Still needed:" : "Cannot be booked as it stands:";
    panel.className = "check-panel alert alert-error";
  }
  panel.append(heading, list);
  if (clientTime && result.client_local) {
    clientTime.textContent = `The family sees ${result.client_local} (${result.client_zone}).`;
  }
  const overridable = (result.blocking || []).some((p) => p.overridable);
  document.getElementById("override")?.classList.toggle("attention", overridable);
}

let timer = null;
let sequence = 0;

async function check() {
  const body = payload();
  showClientTime(body);
  if (!ready(body)) {
    panel.hidden = true;
    return;
  }
  const mine = ++sequence;
  try {
    const response = await fetch(form.dataset.checkUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-csrf-token": form.elements.csrf_token.value,
        accept: "application/json",
      },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!response.ok || mine !== sequence) return; // a newer check is on its way
    render(await response.json());
  } catch {
    // Offline or server hiccup: the submit runs the same checks anyway.
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(check, 250);
}

function syncMode() {
  const mode = form.querySelector('input[name="mode"]:checked')?.value;
  const location = document.getElementById("location_id");
  const state = document.getElementById("client_state");
  if (location) location.closest("div").hidden = mode === "telehealth";
  if (state) state.closest("div").hidden = mode === "in_person";
}

if (form && panel) {
  form.addEventListener("input", schedule);
  form.addEventListener("change", () => { syncMode(); schedule(); });
  syncMode();
  check();
}
