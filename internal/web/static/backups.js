// The backups page: while a backup is being created or restored, it asks
// the API how they are going, and shows the page again once one ends.
"use strict";
(function () {
  const table = document.getElementById("backups");
  if (!table || table.dataset.busy === undefined) return;
  const status = document.getElementById("backups-status");
  const shown = new Map();
  table.querySelectorAll("tr[data-backup]").forEach((row) => {
    shown.set(row.dataset.backup, row.dataset.state + "/" + row.dataset.restore);
  });

  // changed reports whether any backup's state or restore differs from
  // the page's, or whether a backup came or went.
  function changed(list) {
    if (list.length !== shown.size) return true;
    return list.some((b) => shown.get(b.id) !== b.state + "/" + (b.restore || ""));
  }

  // progress shows how far the node got with each backup being created.
  async function progress() {
    for (const row of table.querySelectorAll("tr[data-state=creating]")) {
      const r = await Berth.api("GET", table.dataset.url + "/" + row.dataset.backup);
      const badge = row.querySelector("[data-progress]");
      if (r.ok && r.data.written && badge) badge.textContent = "Creating… " + Berth.formatBytes(r.data.written);
    }
  }

  async function poll() {
    const r = await Berth.api("GET", table.dataset.url);
    if (r.ok && changed(r.data)) { Berth.reload(); return; }
    if (r.ok) await progress();
    status.textContent = r.ok ? "Working… this page updates when it is done." : "Could not ask how the backup is going; trying again.";
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
