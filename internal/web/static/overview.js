// An instance's overview: power buttons kept in step with the status, the
// install log while it runs, and CPU, memory and network charts of the
// last ten minutes drawn from the console's stats events.
"use strict";
(function () {
  const root = document.getElementById("overview");
  if (!root) return;
  const id = root.dataset.instance;
  const base = "/api/client/instances/" + encodeURIComponent(id);
  const buttons = [...root.querySelectorAll("[data-power]")];
  const blocked = root.querySelector("[data-blocked]").dataset.blocked;
  const linkText = root.querySelector("[data-link]");
  let status = root.querySelector("[data-status]").textContent;
  let busy = false, live = false;

  // setStatus shows status everywhere on the page and offers the power
  // actions it allows.
  function setStatus(s) {
    status = s;
    document.querySelectorAll("[data-status]").forEach((b) => {
      b.textContent = s;
      b.className = "badge state-" + s;
    });
    for (const b of buttons) b.disabled = busy || blocked !== "" || !b.dataset.when.split(" ").includes(s);
  }

  async function power(b) {
    const action = b.dataset.power;
    if (action === "kill" && !(await Berth.confirm("Kill the server? It gets no chance to save.", "Kill"))) return;
    busy = true;
    setStatus(status);
    const r = await Berth.api("POST", base + "/power", { action });
    busy = false;
    if (!r.ok) Berth.toast(action + ": " + Berth.errorText(r), true);
    setStatus(r.ok && r.data.Status ? r.data.Status : status);
  }
  buttons.forEach((b) => b.addEventListener("click", () => power(b)));

  // The instance is read again now and then: its exit and error, and its
  // status while no console tells it. A change of what the page offers
  // (the install ended, a suspension, the node) renders the page anew.
  async function refresh() {
    if (document.hidden) return;
    const r = await Berth.api("GET", base);
    if (!r.ok || !r.data) return;
    const d = r.data;
    if (d.InternalState !== root.dataset.state || d.Node.status !== root.dataset.node ||
      d.suspended !== (root.dataset.suspended !== undefined)) {
      location.reload();
      return;
    }
    root.querySelector("[data-exit]").textContent =
      d.ExitCode || d.OOMKilled ? "code " + d.ExitCode + (d.OOMKilled ? ", killed: out of memory" : "") : "–";
    root.querySelector("[data-error]").textContent = d.Error || "";
    if (!live) setStatus(d.Status);
  }
  setInterval(refresh, 5000);

  // The install log, followed while the install runs.
  const log = document.getElementById("install-log");
  async function followInstall() {
    const r = await Berth.api("GET", base + "/install-log?tail=500");
    if (r.ok && r.data) {
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = (r.data.lines || []).join("\n") || "No output yet.";
      if (atEnd) log.scrollTop = log.scrollHeight;
      if (r.data.error) root.querySelector("[data-error]").textContent = r.data.error;
    } else {
      log.textContent = Berth.errorText(r);
    }
    if (root.dataset.state === "INSTALLING") setTimeout(followInstall, 2000);
  }
  if (log) followInstall();

  if (root.dataset.live === undefined) return;
  if (root.dataset.node === "Offline" || root.dataset.state !== "READY") {
    linkText.textContent = root.dataset.node === "Offline" ? "The node is offline: no live usage." : "Live usage starts once the server is installed.";
    return;
  }

  // Samples of the last ten minutes, one a second.
  const span = 600e3, W = 600, H = 120;
  const samples = [];
  const charts = {};
  root.querySelectorAll("[data-chart]").forEach((f) => {
    charts[f.dataset.chart] = {
      lines: f.querySelectorAll("path.line"), area: f.querySelector("path.area"),
      now: f.querySelector("[data-now]"), max: f.querySelector("[data-max]"),
    };
  });
  const cores = Number(document.querySelector("[data-cores]")?.dataset.cores) || 0;

  function add(st) {
    const t = Date.now();
    const prev = samples[samples.length - 1];
    const s = { t, cpu: st.cpuPercent || 0, mem: st.memoryBytes || 0, limit: st.memoryLimitBytes || 0, rx: 0, tx: 0, rxTotal: st.rxBytes || 0, txTotal: st.txBytes || 0 };
    if (prev && t - prev.t < 5000) {
      const dt = (t - prev.t) / 1000 || 1;
      s.rx = Math.max(0, s.rxTotal - prev.rxTotal) / dt;
      s.tx = Math.max(0, s.txTotal - prev.txTotal) / dt;
    }
    samples.push(s);
    while (samples.length && samples[0].t < t - span) samples.shift();
    if (samples.length === 1) linkText.textContent = Berth.linkText("open");
    const up = st.uptimeSeconds || 0;
    root.querySelector("[data-uptime]").textContent = up > 0 ? duration(up) : "–";
    draw(t);
  }

  // paths draws key of the samples against max: a line and the area
  // under it, broken where samples are missing.
  function paths(key, max, now) {
    let line = "", area = "", prev = null, x0 = 0, lastX = 0;
    for (const s of samples) {
      const x = (W - (now - s.t) / span * W).toFixed(1);
      const y = (H - Math.min(s[key] / max, 1) * (H - 8)).toFixed(1);
      if (!prev || s.t - prev.t > 5000) {
        if (prev) area += "L" + lastX + " " + H + "Z";
        line += "M" + x + " " + y;
        area += "M" + x + " " + H + "L" + x + " " + y;
        x0 = x;
      } else {
        line += "L" + x + " " + y;
        area += "L" + x + " " + y;
      }
      prev = s;
      lastX = x;
    }
    if (prev) area += "L" + lastX + " " + H + "L" + x0 + " " + H + "Z";
    return [line, area];
  }

  function show(name, keys, max, now, nowText, maxText) {
    const c = charts[name];
    keys.forEach((k, i) => {
      const [line, area] = paths(k, max, now);
      c.lines[i].setAttribute("d", line);
      if (i === 0) c.area.setAttribute("d", area);
    });
    c.now.textContent = nowText;
    c.max.textContent = "Top: " + maxText;
  }

  function draw(now) {
    const last = samples[samples.length - 1];
    const peak = (k) => samples.reduce((m, s) => Math.max(m, s[k]), 0);
    const cpuMax = Math.max(cores ? cores * 100 : 100, peak("cpu"));
    show("cpu", ["cpu"], cpuMax, now, last.cpu.toFixed(1) + "%", cpuMax.toFixed(0) + "%");
    const memMax = Math.max(last.limit, peak("mem"), 1);
    show("memory", ["mem"], memMax, now, Berth.formatBytes(last.mem) + (last.limit ? " of " + Berth.formatBytes(last.limit) : ""), Berth.formatBytes(memMax));
    const netMax = Math.max(peak("rx"), peak("tx"), 1024);
    show("network", ["rx", "tx"], netMax, now, "in " + rate(last.rx) + ", out " + rate(last.tx), rate(netMax));
  }

  function rate(n) { return Berth.formatBytes(Math.round(n)) + "/s"; }

  function duration(sec) {
    const d = Math.floor(sec / 86400), h = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60;
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + m + " min";
    return m ? m + " min " + (sec % 60) + " s" : sec + " s";
  }

  Berth.live(id, {
    event(m) {
      if (m.event === "status" && typeof m.data === "string") setStatus(m.data);
      else if (m.event === "stats" && m.data) add(m.data);
      else if (m.event === "output" && typeof m.data === "string") Berth.featureLine(m.data);
    },
    link(state, seconds) {
      live = state === "open";
      linkText.textContent = Berth.linkText(state, seconds) +
        (live && samples.length === 0 ? ": the charts fill as samples arrive, one a second while the server runs." : "");
    },
  });
})();
