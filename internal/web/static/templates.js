// The templates page: read an uploaded or dropped file into the text
// area, then send the document as it is to POST /api/images, which takes
// it raw (not wrapped in JSON).
"use strict";
(function () {
  const form = document.getElementById("import");
  if (!form) return;
  const doc = form.elements.doc;
  const file = document.getElementById("import-file");
  const drop = form.querySelector("[data-drop]");

  async function load(f) {
    if (!f) return;
    if (f.size > 1 << 20) { Berth.toast(f.name + " is larger than 1 MiB: is it a template?", true); return; }
    doc.value = await f.text();
    Berth.clearErrors(form);
  }
  file.addEventListener("change", () => load(file.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    load(e.dataTransfer.files[0]);
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector('[type="submit"]');
    const body = new Blob([doc.value], { type: "application/json" });
    const r = await Berth.busy(button, () => Berth.api("POST", "/api/images", body));
    if (!r.ok) { Berth.showErrors(form, r); return; }
    Berth.toast("Imported " + r.data.Name);
    location.assign("/admin/templates#t-" + encodeURIComponent(r.data.Id));
    location.reload();
  });
})();
