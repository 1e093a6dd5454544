// An instance's console: output in ANSI colours, built as DOM nodes whose
// text is only ever set with textContent, so that no game output becomes
// HTML; a command line with history; auto-scroll that pauses while the
// reader scrolls back; reconnection with backoff; the node's throttle
// notices in a bar of their own.
"use strict";
(function () {
  const root = document.getElementById("console-page");
  if (!root) return;
  const out = document.getElementById("console-out");
  const form = document.getElementById("command");
  const input = form.elements.command;
  const send = form.querySelector("[type=submit]");
  const link = root.querySelector("[data-link]");
  const retry = root.querySelector("[data-retry]");
  const jump = root.querySelector("[data-jump]");
  const bar = root.querySelector("[data-throttle]");
  const why = root.querySelector("[data-why]");
  const canWrite = root.dataset.write !== undefined;
  const cap = 2000;
  let status = document.querySelector("[data-status]").textContent;
  let open = false, stick = true, conn = null;

  // ANSI SGR: the 16 colours (on the console's dark ground), the 256 of
  // the xterm palette, 24-bit colour, bold and reset. Other escape
  // sequences and control characters are dropped.
  const base = ["#545d68", "#f47067", "#57ab5a", "#c69026", "#539bf5", "#b083f0", "#39c5cf", "#d1d7e0",
    "#768390", "#ff938a", "#8ddb8c", "#daaa3f", "#6cb6ff", "#dcbdfb", "#56d4dd", "#f0f6fc"];
  const csi = /\x1b\[([0-9;:]*)([@-~])/g;
  const junk = /\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[^[]?|[\x00-\x08\x0b-\x1f\x7f]/g;
  let sgr = { fg: "", bg: "", bold: false };

  function byte(v) {
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 && n <= 255 ? n : -1;
  }
  function rgb(r, g, b) {
    return [r, g, b].some((v) => v < 0) ? "" : "rgb(" + r + "," + g + "," + b + ")";
  }
  function palette(v) {
    const n = byte(v);
    if (n < 0) return "";
    if (n < 16) return base[n];
    if (n >= 232) return rgb(8 + (n - 232) * 10, 8 + (n - 232) * 10, 8 + (n - 232) * 10);
    const level = (i) => (i ? 55 + i * 40 : 0);
    return rgb(level(Math.floor((n - 16) / 36)), level(Math.floor((n - 16) / 6) % 6), level((n - 16) % 6));
  }
  // extended reads the colour of 38 or 48 at codes[i], in the
  // semicolon form (38;5;n, 38;2;r;g;b) or the colon form (38:5:n,
  // 38:2:r:g:b, 38:2::r:g:b); it returns the colour and the index of the
  // code after it.
  function extended(codes, i) {
    const sub = codes[i].split(":");
    if (sub.length > 1) {
      if (sub[1] === "5") return [palette(sub[2]), i + 1];
      if (sub[1] === "2" && sub.length >= 5) return [rgb(...sub.slice(-3).map(byte)), i + 1];
      return ["", i + 1];
    }
    if (codes[i + 1] === "5") return [palette(codes[i + 2]), i + 3];
    if (codes[i + 1] === "2") return [rgb(byte(codes[i + 2]), byte(codes[i + 3]), byte(codes[i + 4])), i + 5];
    return ["", i + 1];
  }
  function apply(params) {
    const codes = params.split(";");
    for (let i = 0; i < codes.length;) {
      const c = Number(codes[i].split(":")[0]) || 0;
      if (c === 38 || c === 48) {
        const [color, next] = extended(codes, i);
        if (color) sgr[c === 38 ? "fg" : "bg"] = color;
        i = next;
        continue;
      }
      if (c === 0) sgr = { fg: "", bg: "", bold: false };
      else if (c === 1) sgr.bold = true;
      else if (c === 22) sgr.bold = false;
      else if (c >= 30 && c <= 37) sgr.fg = base[c - 30];
      else if (c >= 90 && c <= 97) sgr.fg = base[c - 82];
      else if (c === 39) sgr.fg = "";
      else if (c >= 40 && c <= 47) sgr.bg = base[c - 40];
      else if (c >= 100 && c <= 107) sgr.bg = base[c - 92];
      else if (c === 49) sgr.bg = "";
      i++;
    }
  }
  function text(el, s) {
    s = s.replace(junk, "");
    if (!s) return;
    if (!sgr.fg && !sgr.bg && !sgr.bold) { el.append(s); return; }
    const span = document.createElement("span");
    span.textContent = s;
    if (sgr.bold) span.className = "b";
    if (sgr.fg) span.style.color = sgr.fg;
    if (sgr.bg) span.style.backgroundColor = sgr.bg;
    el.append(span);
  }
  // lineOf renders one line of output; a carriage return keeps what
  // follows it, as a terminal would show.
  function lineOf(line) {
    line = line.replace(/\r+$/, "");
    line = line.slice(line.lastIndexOf("\r") + 1);
    const el = document.createElement("div");
    let last = 0;
    csi.lastIndex = 0;
    for (let m; (m = csi.exec(line));) {
      text(el, line.slice(last, m.index));
      if (m[2] === "m") apply(m[1]);
      last = csi.lastIndex;
    }
    text(el, line.slice(last));
    return el;
  }

  // Lines are added once a frame, and the oldest go past the cap.
  let queue = [];
  function add(el) {
    queue.push(el);
    if (queue.length > cap) queue.splice(0, queue.length - cap);
    if (queue.length === 1) requestAnimationFrame(flush);
  }
  function flush() {
    out.append(...queue);
    queue = [];
    for (let extra = out.childElementCount - cap; extra > 0; extra--) out.firstElementChild.remove();
    if (stick) out.scrollTop = out.scrollHeight; else jump.hidden = false;
  }
  out.addEventListener("scroll", () => {
    stick = out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
    if (stick) jump.hidden = true;
  });
  jump.addEventListener("click", () => {
    stick = true;
    jump.hidden = true;
    out.scrollTop = out.scrollHeight;
  });

  // notice shows the node's notices about the console itself in the bar.
  let barTimer = 0;
  function notice(line) {
    if (line.startsWith("[berth] console output throttled")) {
      clearTimeout(barTimer);
      bar.textContent = "The server prints faster than the console shows: lines are dropped until it slows down.";
      bar.hidden = false;
    } else if (line.startsWith("[berth] console output resumed") || / messages skipped: /.test(line)) {
      bar.textContent = line.charAt(8).toUpperCase() + line.slice(9);
      bar.hidden = false;
      clearTimeout(barTimer);
      barTimer = setTimeout(() => { bar.hidden = true; }, 10000);
    }
  }

  function output(line, cls) {
    const el = lineOf(line);
    if (cls) el.className = cls;
    else if (line.startsWith("[berth] ")) { el.className = "notice"; notice(line); }
    else Berth.featureLine(line);
    add(el);
  }

  // The command line works while the console is open and the server runs.
  function update() {
    const ok = canWrite && open && status === "running";
    input.disabled = send.disabled = !ok;
    if (canWrite) why.textContent = !open || ok ? "" : "The server is " + status + ": commands can be sent while it runs.";
  }
  function setStatus(s) {
    status = s;
    document.querySelectorAll("[data-status]").forEach((b) => {
      b.textContent = s;
      b.className = "badge state-" + s;
    });
    update();
  }

  // History: up and down walk the commands sent, down past the last
  // brings back what was being typed.
  const history = [];
  let pos = 0, draft = "";
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowUp" && pos > 0) {
      if (pos === history.length) draft = input.value;
      input.value = history[--pos];
    } else if (e.key === "ArrowDown" && pos < history.length) {
      pos++;
      input.value = pos === history.length ? draft : history[pos];
    } else return;
    e.preventDefault();
    input.setSelectionRange(input.value.length, input.value.length);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const line = input.value;
    if (!line.trim() || !conn || !conn.send("command", line)) return;
    if (history[history.length - 1] !== line) history.push(line);
    if (history.length > 100) history.shift();
    pos = history.length;
    draft = input.value = "";
    jump.click();
  });

  if (root.dataset.node === "Offline") {
    link.textContent = "The node is offline: the console connects when it is back.";
    retry.hidden = false;
    retry.addEventListener("click", () => location.reload());
    return;
  }
  conn = Berth.live(root.dataset.instance, {
    event(m) {
      if (m.event === "output" && typeof m.data === "string") output(m.data);
      else if (m.event === "error" && typeof m.data === "string") output(m.data, "error");
      else if (m.event === "status" && typeof m.data === "string") setStatus(m.data);
    },
    link(state, seconds) {
      open = state === "open";
      if (open) {
        // The node replays its recent lines to each new connection.
        out.replaceChildren();
        queue = [];
        sgr = { fg: "", bg: "", bold: false };
        bar.hidden = true;
      }
      link.textContent = Berth.linkText(state, seconds);
      retry.hidden = state !== "waiting";
      update();
    },
  });
  retry.addEventListener("click", () => conn.retry());
})();
