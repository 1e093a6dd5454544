// The settings page: a live preview of the start command as the variables
// are typed, and each variable's error shown next to it.
"use strict";
(function () {
  const form = document.getElementById("variables");
  if (!form) return;
  const preview = document.getElementById("startup");

  // render fills each {{NAME}} of the start command with the field's
  // value; names without a field stay as written, as the node leaves them.
  function render() {
    if (!preview) return;
    const values = {};
    form.querySelectorAll("[data-var]").forEach((el) => { values[el.dataset.var] = el.value; });
    preview.textContent = preview.dataset.template.replace(/\{\{\s*([^{}]*?)\s*\}\}/g,
      (all, name) => (Object.hasOwn(values, name) ? values[name] : all));
  }
  form.addEventListener("input", render);
  form.addEventListener("change", render);

  form.addEventListener("berth:done", () => Berth.toast("Saved. The server is recreated with the new values."));

  // The API names the variable after the field: "variables: NAME: rule".
  form.addEventListener("berth:failed", (e) => {
    const r = e.detail;
    const m = /^variables: ([A-Za-z_][A-Za-z0-9_]*): /.exec(Berth.errorText(r));
    const input = m && form.querySelector('[data-var="' + CSS.escape(m[1]) + '"]');
    if (!input) return;
    r.handled = true;
    Berth.clearErrors(form);
    const slot = document.createElement("p");
    slot.className = "field-error";
    slot.dataset.added = "";
    slot.id = input.id + "-error";
    slot.textContent = Berth.errorText(r).slice("variables: ".length);
    input.closest(".field").append(slot);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", input.id + "-hint " + slot.id);
    input.focus();
  });
})();
