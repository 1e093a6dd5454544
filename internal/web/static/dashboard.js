// The instance list: a filter once the list is long, and live status,
// memory and CPU for the rows in view, polled while the page is visible.
"use strict";
(function () {
  const table = document.getElementById("instances");
  if (!table) return;
  const rows = new Map();
  table.querySelectorAll("tr[data-instance]").forEach((tr) => rows.set(tr.dataset.instance, tr));

  const filter = document.querySelector("[data-filter]");
  if (filter) {
    filter.addEventListener("input", () => {
      const q = filter.value.trim().toLowerCase();
      let shown = 0;
      for (const tr of rows.values()) {
        const hit = !q || tr.textContent.toLowerCase().includes(q);
        tr.hidden = !hit;
        if (hit) shown++;
      }
      document.getElementById("no-match").hidden = shown > 0;
    });
  }

  // Rows on screen are the ones whose usage is asked for; a row that comes
  // into view for the first time is filled at once.
  const visible = new Set();
  const seen = new IntersectionObserver((entries) => {
    const fresh = [];
    for (const e of entries) {
      const id = e.target.dataset.instance;
      if (!e.isIntersecting) { visible.delete(id); continue; }
      visible.add(id);
      if (e.target.dataset.filled === undefined) { e.target.dataset.filled = ""; fresh.push(id); }
    }
    if (fresh.length) loadUsage(fresh);
  });
  rows.forEach((tr) => seen.observe(tr));

  function setStatus(tr, status) {
    const b = tr.querySelector("[data-status]");
    if (b.textContent === status) return;
    b.textContent = status;
    b.className = "badge state-" + status;
  }

  async function refreshStatus() {
    const r = await Berth.api("GET", "/api/client/instances");
    if (!r.ok || !Array.isArray(r.data)) return;
    for (const inst of r.data) {
      const tr = rows.get(inst.Id);
      if (tr) setStatus(tr, inst.Status);
    }
  }

  function refreshUsage() { return loadUsage([...visible]); }

  async function loadUsage(list) {
    const ids = list.filter((id) => rows.get(id).dataset.stats !== undefined).slice(0, 30);
    await Promise.all(ids.map(async (id) => {
      const tr = rows.get(id);
      const r = await Berth.api("GET", "/api/client/instances/" + encodeURIComponent(id) + "/stats");
      const mem = tr.querySelector("[data-memory]");
      const cpu = tr.querySelector("[data-cpu]");
      if (!r.ok || !r.data) { mem.textContent = "–"; cpu.textContent = "–"; return; }
      mem.textContent = Berth.formatBytes(r.data.memoryBytes || 0);
      cpu.textContent = (r.data.cpuPercent || 0).toFixed(1) + "%";
    }));
  }

  async function tick() {
    if (!document.hidden) await Promise.all([refreshStatus(), refreshUsage()]);
    setTimeout(tick, 5000);
  }
  setTimeout(tick, 5000);
})();
