// Keyboard shortcuts for the schedule pages: [ and ] step to the previous / next period.
// Ignored while typing in a field so they never steal characters.
document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) {
    return;
  }
  const id = event.key === "[" ? "prev-week" : event.key === "]" ? "next-week" : null;
  const link = id && document.getElementById(id);
  if (link) {
    event.preventDefault();
    link.click();
  }
});
