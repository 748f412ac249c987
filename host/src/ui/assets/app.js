// Floh UI: the little behaviour every page shares. No business logic here:
// the server renders everything; this only copies text and shows how long
// a request has been running.
"use strict";

// Copy buttons: <button data-copy="ID"> copies the text of element #ID.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

// Long work: an element with [data-elapsed] inside a running htmx request's
// indicator shows the seconds since the request started.
const timers = new WeakMap();
document.addEventListener("htmx:beforeRequest", (event) => {
  const started = Date.now();
  const elt = event.detail.elt;
  const scope = elt.closest("form") || elt;
  const outputs = scope.querySelectorAll("[data-elapsed]");
  if (outputs.length === 0) return;
  outputs.forEach((out) => { out.textContent = "0 s"; });
  const id = setInterval(() => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    outputs.forEach((out) => { out.textContent = seconds + " s"; });
  }, 250);
  timers.set(elt, id);
});
document.addEventListener("htmx:afterRequest", (event) => {
  const id = timers.get(event.detail.elt);
  if (id !== undefined) clearInterval(id);
});
