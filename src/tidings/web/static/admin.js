// Tidings admin: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim()).then(() => {
      button.textContent = "Copied";
    });
  }
});

// Live counters: an element with data-poll="<url>" is refreshed from that JSON
// endpoint; children with data-field="<name>" receive the values, <progress> elements
// with data-field get value/max, and polling stops when the JSON says "done": true.
function poll(element) {
  const url = element.dataset.poll;
  const every = Number(element.dataset.every || 1000);
  const tick = () => {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        element.querySelectorAll("[data-field]").forEach((node) => {
          const value = data[node.dataset.field];
          if (value === undefined || value === null) return;
          if (node.tagName === "PROGRESS") {
            node.max = data[node.dataset.max || "total"] || 1;
            node.value = value;
          } else {
            node.textContent = typeof value === "number" ? value.toLocaleString("en") : value;
          }
        });
        if (data.done) {
          element.dataset.done = "true";
          if (element.dataset.reload !== undefined) window.location.reload();
        } else {
          window.setTimeout(tick, every);
        }
      })
      .catch(() => window.setTimeout(tick, every * 3));
  };
  tick();
}
document.querySelectorAll("[data-poll]:not([data-done='true'])").forEach(poll);

// Live preview: the editor's "Refresh preview" button posts the form into the
// sandboxed preview frame (it works without this script); here it is pressed for the
// writer a moment after they stop typing.
document.querySelectorAll("form[data-preview-form]").forEach((form) => {
  const button = form.querySelector("#preview-button");
  if (!button) return;
  let timer = null;
  form.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => form.requestSubmit(button), 700);
  });
  if (!document.getElementById("preview").getAttribute("src")) form.requestSubmit(button);
});
