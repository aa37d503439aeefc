// Autosave for a draft note: posts the form as JSON a few seconds after typing stops, when a
// field loses focus, and before the page is left. The server refuses edits once signed.
const form = document.querySelector("form[data-autosave]");
const status = document.getElementById("autosave-status");
const DELAY_MS = 3000;
let timer = null;
let lastSent = null;
let inFlight = null;

function fields() {
  const data = {};
  for (const [name, value] of new FormData(form)) {
    if (name !== "csrf_token") data[name] = value;
  }
  return data;
}

function show(text) {
  if (status) status.textContent = text;
}

async function save() {
  clearTimeout(timer);
  timer = null;
  const body = JSON.stringify(fields());
  if (body === lastSent) return;
  if (inFlight) await inFlight;
  show("Saving…");
  inFlight = fetch(form.dataset.autosave, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "accept": "application/json",
      "x-csrf-token": form.elements.csrf_token.value,
    },
    body,
    credentials: "same-origin",
  })
    .then(async (response) => {
      if (response.ok) {
        lastSent = body;
        const saved = await response.json();
        show(`Saved ${new Date(saved.updated_at).toLocaleTimeString()}`);
      } else if (response.status === 422) {
        const problem = await response.json();
        show(`Not saved: ${Object.values(problem.error.fields || {}).join(" ")}`);
      } else {
        show(`Not saved (${response.status}). Your text is still here; try again.`);
      }
    })
    .catch(() => show("Offline: not saved yet. Your text is still here."))
    .finally(() => { inFlight = null; });
  await inFlight;
}

if (form) {
  lastSent = JSON.stringify(fields());
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(save, DELAY_MS);
  });
  form.addEventListener("focusout", () => { save(); });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") save();
  });
  form.dataset.autosaveReady = "yes";
}
