// The notices of an instance's template features, on the overview and the
// console: the EULA's accept button (it writes eula=true to eula.txt, then
// offers to start the server), and Berth.featureLine(line), which the
// pages call with each console line to show the notice whose telltale
// words (data-match, lower case, "|" between them) the line holds.
"use strict";
(function () {
  const box = document.getElementById("feature-notices");
  Berth.featureLine = function () {};
  if (!box) return;
  const base = "/api/client/instances/" + encodeURIComponent(box.dataset.instance);
  const notices = [...box.querySelectorAll("[data-feature]")].map((el) => ({ el, words: el.dataset.match.split("|").filter(Boolean) }));

  // A settled notice (eula.txt already accepts the EULA) ignores the
  // lines the node replays from before.
  Berth.featureLine = function (line) {
    const low = line.toLowerCase();
    for (const n of notices) {
      if (n.el.hidden && n.el.dataset.settled === undefined && n.words.some((w) => low.includes(w))) n.el.hidden = false;
    }
  };

  const eula = box.querySelector('[data-feature="eula"]');
  const accept = box.querySelector("[data-accept-eula]");
  const start = box.querySelector("[data-start-after]");
  if (accept) accept.addEventListener("click", async () => {
    const r = await Berth.busy(accept, () => Berth.api("PUT", base + "/files/content?path=eula.txt",
      new Blob(["eula=true\n"], { type: "text/plain; charset=utf-8" })));
    if (!r.ok) { Berth.toast("Accept the EULA: " + Berth.errorText(r), true); return; }
    eula.dataset.settled = "";
    // A server that runs has already given up on the EULA: it needs a start.
    const up = ["starting", "running"].includes(document.querySelector("[data-status]").textContent);
    eula.querySelector("p").textContent = "The EULA is accepted: eula.txt says eula=true." +
      (start && !up ? "" : " The server reads it when it next starts.");
    accept.remove();
    if (start && !up) start.hidden = false;
  });
  if (start) start.addEventListener("click", async () => {
    const r = await Berth.busy(start, () => Berth.api("POST", base + "/power", { action: "start" }));
    if (!r.ok) { Berth.toast("start: " + Berth.errorText(r), true); return; }
    Berth.toast("Starting the server");
    eula.hidden = true;
  });
})();
