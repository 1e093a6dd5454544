// The deploy form: show the chosen template's image and variables (the
// others' fields are disabled, so they are not sent), follow the chosen
// node with the free port the server suggested for it, put errors next to
// the field they name, and open the new instance on success.
"use strict";
(function () {
  const form = document.getElementById("deploy");
  if (!form) return;

  const pick = form.elements.imagename;
  function showTemplate() {
    form.querySelectorAll("[data-template]").forEach((group) => {
      const on = group.dataset.template === pick.value;
      group.hidden = !on;
      group.querySelectorAll("input, select, textarea").forEach((el) => { el.disabled = !on; });
    });
  }
  pick.addEventListener("change", showTemplate);
  showTemplate(); // the browser may have restored another choice

  // A port field still holding the last suggestion follows the node; one
  // the user changed is left alone.
  const node = form.elements.nodeId;
  const suggestion = form.querySelector("[data-suggestion]");
  let suggested = form.elements.ports.value;
  const firstHost = (ports) => ports.split(",")[0].trim().split(":").pop();
  let firstPort = firstHost(suggested);
  function showNode() {
    const port = node.selectedOptions[0].dataset.port;
    const next = port === "0" ? "" : port;
    for (const input of [form.elements.ports, form.elements.primary]) {
      if (input.value === suggested) input.value = next;
    }
    suggested = next;
    firstPort = firstHost(form.elements.ports.value);
    suggestion.textContent = next ? next + " is the first free host port on this node from 25565."
      : "No host port from 25565 up is free on this node.";
  }
  node.addEventListener("change", showNode);
  showNode();

  // The primary port follows the first host port while the user has not
  // set it apart.
  form.elements.ports.addEventListener("input", () => {
    const next = firstHost(form.elements.ports.value);
    if (form.elements.primary.value === firstPort) form.elements.primary.value = next;
    firstPort = next;
  });

  // Errors about a variable ("variables: EULA: is required") or about the
  // image belong to a field of the template in view, which the default
  // display, looking up the first field of the name, would miss.
  form.addEventListener("berth:failed", (e) => {
    const r = e.detail;
    const msg = Berth.errorText(r);
    const m = /^(?:variables: ([A-Za-z_]\w*)|image): /.exec(msg);
    if (!m) return;
    const name = m[1] ? "variables." + m[1] : "image";
    const input = [...form.elements].find((el) => el.name === name && !el.disabled);
    if (!input) return;
    r.handled = true;
    Berth.clearErrors(form);
    const slot = document.createElement("p");
    slot.className = "field-error";
    slot.dataset.added = "";
    slot.id = "err-" + input.id;
    slot.textContent = m[1] ? msg.slice("variables: ".length) : msg;
    input.closest(".field").append(slot);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", slot.id);
    input.focus();
  });

  form.addEventListener("berth:done", (e) => {
    const inst = e.detail && e.detail.instance;
    location.assign(inst && inst.Id ? "/instances/" + encodeURIComponent(inst.Id) : "/admin/instances");
  });
})();
