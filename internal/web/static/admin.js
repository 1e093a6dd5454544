// The admin pages of users, nodes, API keys and the audit log, and an
// instance's webhooks page, which shows a new webhook's secret as they do
// a new key.
//
//   <button data-act="DELETE /api/..." data-confirm="Delete X?" data-yes="Delete"
//     data-body='{"json":1}' data-reveal="field" data-done="Notice">
//     calls the API after the confirmation. A refusal ("user owns 2
//     instances") stays on the page, in #refusal, not in a passing toast.
//     On success the page reloads, showing data-done once it has; with
//     data-reveal, the answer's field is a secret shown once in
//     dialog#reveal first.
//   <form data-api=... data-reveal="field"> does the same with its answer.
//   <button data-edit-user=id> and <button data-password-user=id> open the
//     dialogs that change a user.
//   input[data-time-for=name] is a local time for the hidden RFC 3339
//     field name of the audit log's filters.
"use strict";
(function () {
  const reload = Berth.reload;

  // reveal shows a secret once. Closing the dialog forgets it and reloads
  // the list, which never holds it.
  function reveal(text) {
    const d = document.getElementById("reveal");
    const box = document.getElementById("reveal-text");
    box.textContent = text;
    d.addEventListener("close", () => { box.textContent = ""; reload(); }, { once: true });
    d.showModal();
  }

  function refuse(text) {
    const slot = document.getElementById("refusal");
    if (!slot) { Berth.toast(text, true); return; }
    slot.textContent = text;
    slot.scrollIntoView({ block: "nearest" });
  }

  async function act(button) {
    const question = button.dataset.confirm;
    if (question && !(await Berth.confirm(question, button.dataset.yes || button.textContent.trim()))) return;
    const spec = button.dataset.act;
    const i = spec.indexOf(" ");
    const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
    const r = await Berth.busy(button, () => Berth.api(spec.slice(0, i), spec.slice(i + 1), body));
    if (!r.ok) { refuse(button.textContent.trim() + " refused: " + Berth.errorText(r)); return; }
    if (button.dataset.reveal) reveal(r.data[button.dataset.reveal]);
    else reload(button.dataset.done);
  }

  // openUserDialog fills a dialog's form for the user of button and shows it.
  function openUserDialog(id, button) {
    const d = document.getElementById(id);
    const form = d.querySelector("form");
    form.reset();
    Berth.clearErrors(form);
    form.dataset.api = "PATCH /api/users/" + encodeURIComponent(button.dataset.editUser || button.dataset.passwordUser);
    form.dataset.who = button.dataset.username;
    d.querySelectorAll("[data-username]").forEach((el) => { el.textContent = button.dataset.username; });
    if (form.elements.email) {
      form.elements.username.value = button.dataset.username;
      form.elements.email.value = button.dataset.email;
      form.elements.admin.checked = button.dataset.admin !== undefined;
      // One's own admin role is another admin's to remove (the API refuses).
      form.elements.admin.disabled = button.dataset.self !== undefined;
    }
    d.showModal();
    form.querySelector("input").focus();
  }

  document.addEventListener("click", (e) => {
    const el = e.target.closest("button");
    if (!el) return;
    if (el.dataset.act) act(el);
    else if (el.dataset.editUser) openUserDialog("edit-user", el);
    else if (el.dataset.passwordUser) openUserDialog("password-user", el);
    else if (el.dataset.close !== undefined) el.closest("dialog").close();
  });

  document.addEventListener("berth:done", (e) => {
    const form = e.target;
    if (form.dataset.reveal) {
      form.reset();
      reveal(e.detail[form.dataset.reveal]);
    } else if (form.closest("#password-user")) {
      form.reset();
      form.closest("dialog").close();
      Berth.toast("The password of " + form.dataset.who + " is changed, and their sessions have ended.");
    }
  });

  // The audit log's time filters: shown in the reader's zone, sent in UTC.
  const filter = document.getElementById("audit-filter");
  if (filter) {
    const pairs = [...filter.querySelectorAll("[data-time-for]")].map((local) => [local, filter.elements[local.dataset.timeFor]]);
    for (const [local, sent] of pairs) {
      const d = new Date(sent.value);
      if (sent.value && !isNaN(d)) local.value = new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    }
    filter.addEventListener("submit", () => {
      for (const [local, sent] of pairs) {
        const d = new Date(local.value);
        sent.value = local.value && !isNaN(d) ? d.toISOString() : "";
      }
      // Empty filters stay out of the address.
      for (const el of filter.elements) if (el.name && !el.value) el.disabled = true;
    });
    window.addEventListener("pageshow", () => { for (const el of filter.elements) el.disabled = false; });
  }
})();
