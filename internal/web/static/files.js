// The files page: upload by drag-and-drop or the file picker with a
// progress bar, the editor's save, the disk meter, and the listing's
// actions (new folder, rename, delete, compress, extract), each a call to
// the client API, after which the page reloads.
"use strict";
(function () {
  const root = document.getElementById("files");
  if (!root) return;
  const instance = "/api/client/instances/" + encodeURIComponent(root.dataset.instance);
  const base = instance + "/files";
  const folder = root.dataset.folder; // "" is the instance's folder
  const join = (name) => (folder ? folder + "/" + name : name);

  // ask asks for a name in a dialog; it resolves to the text, or null.
  function ask(label, value, yes) {
    return new Promise((resolve) => {
      const d = document.createElement("dialog");
      const f = document.createElement("form");
      const l = document.createElement("label");
      l.textContent = label;
      l.htmlFor = "ask-name";
      const input = document.createElement("input");
      input.id = "ask-name";
      input.value = value || "";
      input.required = true;
      input.autocomplete = "off";
      input.spellcheck = false;
      const { row, no } = Berth.buttonRow(yes, "primary", "submit");
      f.append(l, input, row);
      d.append(f);
      document.body.append(d);
      const done = (v) => { d.close(); d.remove(); resolve(v); };
      no.addEventListener("click", () => done(null));
      f.addEventListener("submit", (e) => { e.preventDefault(); if (input.value) done(input.value); });
      d.addEventListener("cancel", (e) => { e.preventDefault(); done(null); });
      d.showModal();
      input.focus();
      const dot = input.value.lastIndexOf(".");
      input.setSelectionRange(0, dot > 0 ? dot : input.value.length);
    });
  }

  // call sends one change and reloads on success; a failure is a toast.
  async function call(button, path, body) {
    const r = await Berth.busy(button, () => Berth.api("POST", base + path, body));
    if (!r.ok) { Berth.toast(Berth.errorText(r), true); return; }
    location.reload();
  }

  const selected = () => [...root.querySelectorAll("[data-select]:checked")].map((c) => c.value);
  function updateSelection() {
    const none = selected().length === 0;
    root.querySelectorAll("[data-needs-selection]").forEach((b) => { b.disabled = none; });
  }
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      root.querySelectorAll("[data-select]").forEach((c) => { c.checked = all.checked; });
      updateSelection();
    });
  }
  root.addEventListener("change", (e) => { if (e.target.matches("[data-select]")) updateSelection(); });

  root.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-act]");
    if (!b) return;
    const row = b.closest("tr[data-path]");
    const path = row && row.dataset.path;
    const name = row && row.dataset.name;
    let n;
    switch (b.dataset.act) {
      case "mkdir":
        if ((n = await ask("Name of the new folder", "", "Create"))) call(b, "/mkdir", { path: join(n) });
        break;
      case "rename":
        if ((n = await ask("New name of " + name, name, "Rename")) && n !== name) call(b, "/rename", { from: path, to: join(n) });
        break;
      case "delete":
        if (await Berth.confirm("Delete " + name + "? This cannot be undone.", "Delete")) call(b, "/delete", { paths: [path] });
        break;
      case "extract":
        call(b, "/extract", { path, destination: folder || "." });
        break;
      case "delete-selected": {
        const paths = selected();
        if (await Berth.confirm("Delete the " + paths.length + " selected? This cannot be undone.", "Delete")) call(b, "/delete", { paths });
        break;
      }
      case "compress":
        if ((n = await ask("Name of the archive (.tar.gz)", "archive.tar.gz", "Compress"))) {
          call(b, "/compress", { paths: selected(), destination: join(n) });
        }
        break;
    }
  });

  // Upload: multipart, as POST .../files/upload takes it, through
  // XMLHttpRequest, which reports the upload's progress.
  const drop = document.getElementById("dropzone");
  const picker = document.getElementById("upload");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  function upload(list) {
    if (!list || !list.length) return;
    const form = new FormData();
    for (const f of list) form.append("files", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", base + "/upload?path=" + encodeURIComponent(folder || "."));
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    picker.disabled = true;
    status.textContent = "Uploading " + list.length + (list.length === 1 ? " file…" : " files…");
    const fail = (msg) => {
      bar.hidden = true;
      picker.disabled = false;
      status.textContent = "";
      Berth.toast(msg, true);
    };
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.value = e.loaded / e.total;
      status.textContent = "Uploading: " + Berth.formatBytes(e.loaded) + " of " + Berth.formatBytes(e.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) { location.reload(); return; }
      if (xhr.status === 401) { location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search)); return; }
      let msg = "The upload failed (" + xhr.status + ").";
      try { msg = JSON.parse(xhr.responseText).error || msg; } catch (err) { /* not JSON */ }
      fail(msg);
    });
    xhr.addEventListener("error", () => fail("The panel could not be reached. Check your connection and try again."));
    xhr.send(form);
  }
  if (drop) {
    picker.addEventListener("change", () => upload(picker.files));
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      upload(e.dataTransfer.files);
    });
  }

  // The editor saves with PUT .../files/content, and warns before its
  // unsaved changes are left behind.
  const editor = document.getElementById("editor");
  if (editor) {
    const text = document.getElementById("content");
    let saved = text.value;
    const save = editor.querySelector('[type="submit"]');
    editor.addEventListener("submit", async (e) => {
      e.preventDefault();
      const value = text.value;
      const url = base + "/content?path=" + encodeURIComponent(editor.dataset.path);
      const r = await Berth.busy(save, () => Berth.api("PUT", url, new Blob([value], { type: "text/plain; charset=utf-8" })));
      if (!r.ok) { Berth.showErrors(editor, r); return; }
      Berth.clearErrors(editor);
      saved = value;
      Berth.toast("Saved");
    });
    text.addEventListener("keydown", (e) => {
      if (save && (e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); editor.requestSubmit(); }
    });
    window.addEventListener("beforeunload", (e) => { if (text.value !== saved) e.preventDefault(); });
  }

  // The disk meter: what the folder holds against the limit.
  const disk = document.getElementById("disk");
  if (disk) {
    Berth.api("GET", disk.dataset.url).then((r) => {
      const label = disk.querySelector("[data-disk-text]");
      const fill = disk.querySelector(".meter > span");
      if (!r.ok || !r.data) { label.textContent = "Disk use: unavailable"; return; }
      const used = r.data.usedBytes || 0;
      const limit = r.data.limitBytes || 0;
      label.textContent = "Disk: " + Berth.formatBytes(used) + (limit ? " of " + Berth.formatBytes(limit) : " used, no limit");
      if (limit) {
        const share = Math.min(1, used / limit);
        fill.style.width = (share * 100).toFixed(1) + "%";
        if (share > 0.9) fill.classList.add("full");
      }
    });
  }
})();
