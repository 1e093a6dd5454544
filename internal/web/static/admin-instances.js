// The list of all instances: suspend, unsuspend and delete from a row,
// through the admin API. One listener serves every row, which names its
// instance only in the link to it: 100 rows stay light.
"use strict";
(function () {
  const table = document.getElementById("all-instances");
  if (!table) return;

  const actions = {
    suspend: (id) => ({ method: "POST", url: "/api/instances/suspend/" + encodeURIComponent(id), done: "Suspended" }),
    unsuspend: (id) => ({ method: "POST", url: "/api/instances/unsuspend/" + encodeURIComponent(id), done: "Unsuspended" }),
    delete: (id) => ({ method: "DELETE", url: "/api/instance/delete", body: { id }, done: "Deleted" }),
  };

  table.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-act]");
    if (!button) return;
    const link = button.closest("tr").querySelector('a[href^="/instances/"]');
    const name = link.textContent;
    const act = actions[button.dataset.act](decodeURIComponent(link.pathname.slice("/instances/".length)));
    if (button.dataset.act === "delete" &&
        !(await Berth.confirm("Delete " + name + "? Its container and files are removed for good.", "Delete"))) return;
    const r = await Berth.busy(button, () => Berth.api(act.method, act.url, act.body));
    if (!r.ok) { Berth.toast(Berth.errorText(r), true); return; }
    Berth.toast(act.done);
    location.reload();
  });
})();
