// The schedules page: task rows added and removed with plain script, their
// fields numbered tasks[0].action and so on (the names the API's errors
// give), and gathered into the ordered "tasks" list when a form is sent.
"use strict";
(function () {
  const blank = document.getElementById("task-row");

  // renumber names and labels a form's task rows by their place.
  function renumber(rows) {
    const prefix = rows.dataset.prefix;
    rows.querySelectorAll(".task-row").forEach((row, i) => {
      row.querySelectorAll("[data-part]").forEach((el) => {
        const part = el.dataset.part;
        const id = prefix + "-task-" + i + "-" + part;
        if (el.tagName === "LABEL") { el.htmlFor = id; return; }
        el.id = id;
        el.name = "tasks[" + i + "]." + part;
      });
      row.querySelector("[data-remove-task]").disabled = rows.children.length === 1;
    });
  }

  document.querySelectorAll(".schedule-form").forEach((form) => {
    const rows = form.querySelector(".task-rows");
    // The labels carry data-part too, so that renumber reaches them.
    rows.querySelectorAll("label[for]").forEach((l) => { l.dataset.part = l.htmlFor.replace(/^.*-task-\d+-/, ""); });
    renumber(rows);

    form.addEventListener("click", (e) => {
      const el = e.target.closest("button");
      if (!el) return;
      if (el.dataset.addTask !== undefined) {
        const row = blank.content.firstElementChild.cloneNode(true);
        row.querySelectorAll("label[for]").forEach((l) => { l.dataset.part = l.htmlFor.replace(/^.*-task-\d+-/, ""); });
        rows.append(row);
        renumber(rows);
        row.querySelector("select").focus();
      } else if (el.dataset.removeTask !== undefined && rows.children.length > 1) {
        el.closest(".task-row").remove();
        renumber(rows);
        rows.querySelector("select").focus();
      }
    });

    // readForm nests tasks[0].action as {"tasks[0]": {"action"}}: make the
    // list, in the rows' order.
    form.berthBody = function (body) {
      const tasks = [];
      for (const key of Object.keys(body)) {
        const m = /^tasks\[(\d+)\]$/.exec(key);
        if (!m) continue;
        tasks[Number(m[1])] = body[key];
        delete body[key];
      }
      body.tasks = tasks.filter(Boolean);
      return body;
    };

    // A new schedule starts in the viewer's zone.
    const zone = form.querySelector("[data-zone]");
    if (form.dataset.api.startsWith("POST") && zone && zone.value === "UTC") {
      try { zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* keep UTC */ }
    }
  });
})();
