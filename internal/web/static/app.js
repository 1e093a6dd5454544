// Berth's shared script, loaded on every page. It exposes window.Berth:
// api() for JSON calls to the panel, and the behaviour that markup asks for
// with data- attributes, so that pages need little script of their own:
//
//   <form data-api="POST /api/..." data-then="reload|/path|event">
//     sends the form's fields as JSON; shows an error next to the field the
//     API names (an element .field-error[data-for=name], or after the
//     input), or in the form's .form-error; disables the submit button
//     while the request runs; keeps what was typed on failure.
//     Fields: data-type="number|bool|json|list" on an input picks its JSON
//     type; a name with dots (environment.PORT) nests objects. A
//     data-confirm on the form asks first, as on a button.
//   <button data-call="POST /api/..." data-confirm="Delete X?" data-then="reload">
//   <button data-copy="text">, data-copy-from="#id", or data-copy-prev (the
//     previous element's text)
//   <button data-signout>
"use strict";
(function () {
  const Berth = {};
  window.Berth = Berth;

  // api calls the panel and resolves to {ok, status, data}; data is the
  // parsed JSON answer, or null. A 401 on a page sends the user to sign in.
  Berth.api = async function (method, url, body, opts) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body instanceof FormData || body instanceof Blob) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (e) {
      return { ok: false, status: 0, data: { error: "The panel could not be reached. Check your connection and try again." } };
    }
    let data = null;
    const type = res.headers.get("Content-Type") || "";
    if (type.includes("application/json")) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (res.status === 401 && !(opts && opts.noRedirect) && !(data && data.twoFactorRequired)) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    }
    if (!res.ok && !data) data = { error: res.status + " " + res.statusText };
    return { ok: res.ok, status: res.status, data };
  };

  // errorText is the message of a failed call.
  Berth.errorText = function (r) {
    return (r.data && r.data.error) || "Something went wrong (" + r.status + ").";
  };

  // toast shows a short notice at the bottom of the page.
  Berth.toast = function (text, bad) {
    const box = document.querySelector(".toasts");
    if (!box) return;
    const t = document.createElement("div");
    t.className = bad ? "toast bad" : "toast";
    t.textContent = text;
    box.append(t);
    setTimeout(() => t.remove(), bad ? 8000 : 4000);
  };

  // buttonRow makes a dialog's Cancel and yes buttons, in a row.
  Berth.buttonRow = function (yes, yesClass, yesType) {
    const row = document.createElement("div");
    row.className = "row";
    const no = document.createElement("button");
    no.type = "button";
    no.textContent = "Cancel";
    const ok = document.createElement("button");
    ok.type = yesType || "button";
    ok.className = yesClass;
    ok.textContent = yes;
    row.append(no, ok);
    return { row, no, ok };
  };

  // confirm asks a yes/no question in a dialog of the page's style.
  Berth.confirm = function (text, yes) {
    return new Promise((resolve) => {
      const d = document.createElement("dialog");
      const p = document.createElement("p");
      p.textContent = text;
      const { row, no, ok } = Berth.buttonRow(yes || "Confirm", "danger");
      d.append(p, row);
      document.body.append(d);
      const done = (v) => { d.close(); d.remove(); resolve(v); };
      no.addEventListener("click", () => done(false));
      ok.addEventListener("click", () => done(true));
      d.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
      d.showModal();
      no.focus();
    });
  };

  // readForm turns a form's named fields into a JSON object.
  Berth.readForm = function (form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") continue;
      if ((el.type === "radio") && !el.checked) continue;
      let v;
      const type = el.dataset.type;
      if (el.type === "checkbox") {
        if (type === "list") {
          if (!el.checked) { setPath(out, el.name, getPath(out, el.name) || []); continue; }
          setPath(out, el.name, (getPath(out, el.name) || []).concat(el.value));
          continue;
        }
        v = el.checked;
      } else if (type === "number") {
        if (el.value.trim() === "") { if (el.dataset.optional !== undefined) continue; v = el.value; }
        else v = Number(el.value);
      } else if (type === "json") {
        try { v = el.value.trim() === "" ? undefined : JSON.parse(el.value); } catch (e) { v = el.value; }
        if (v === undefined) continue;
      } else if (type === "lines") {
        v = el.value.split("\n").map((s) => s.trim()).filter(Boolean);
      } else {
        v = el.value;
        if (v === "" && el.dataset.optional !== undefined) continue;
      }
      setPath(out, el.name, v);
    }
    return out;
  };
  function getPath(obj, name) {
    return name.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }
  function setPath(obj, name, v) {
    const keys = name.split(".");
    let o = obj;
    for (const k of keys.slice(0, -1)) o = o[k] = o[k] || {};
    o[keys[keys.length - 1]] = v;
  }

  // showErrors puts the API's error next to the field it names, or on the
  // form. Every error about a field starts with its name and a colon
  // ("email: must be an email address").
  Berth.showErrors = function (form, r) {
    Berth.clearErrors(form);
    const msg = Berth.errorText(r);
    let field;
    const m = /^([A-Za-z_][\w.\[\]]*): /.exec(msg);
    if (m) field = m[1];
    const input = field && form.querySelector('[name="' + CSS.escape(field) + '"]');
    if (input) {
      input.setAttribute("aria-invalid", "true");
      let slot = form.querySelector('.field-error[data-for="' + CSS.escape(field) + '"]');
      if (!slot) {
        slot = document.createElement("p");
        slot.className = "field-error";
        slot.dataset.for = field;
        slot.dataset.added = "";
        (input.closest(".field") || input.parentElement).append(slot);
      }
      slot.id = slot.id || "err-" + field.replace(/\W/g, "-");
      input.setAttribute("aria-describedby", slot.id);
      slot.textContent = msg;
      input.focus();
      return;
    }
    const slot = form.querySelector(".form-error");
    if (slot) slot.textContent = msg; else Berth.toast(msg, true);
  };
  Berth.clearErrors = function (form) {
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    form.querySelectorAll(".field-error").forEach((el) => { if (el.dataset.added !== undefined) el.remove(); else el.textContent = ""; });
    form.querySelectorAll(".form-error").forEach((el) => { el.textContent = ""; });
  };

  // busy disables a button while work runs.
  Berth.busy = async function (button, work) {
    if (button) button.disabled = true;
    try { return await work(); } finally { if (button) button.disabled = false; }
  };

  // then does what data-then asks after a success: reload the page, go to a
  // path, or nothing (the page listens for berth:done).
  function then(el, data) {
    el.dispatchEvent(new CustomEvent("berth:done", { bubbles: true, detail: data }));
    const next = el.dataset.then;
    if (next === "reload") Berth.reload(el.dataset.done);
    else if (next && next.startsWith("/")) location.assign(next);
  }

  // reload shows the page as it now is, with notice, when given, shown once
  // it has loaded: a toast before a reload would vanish unread.
  const flashKey = "berth.flash";
  Berth.reload = function (notice) {
    if (notice) sessionStorage.setItem(flashKey, notice);
    location.reload();
  };
  function showFlash() {
    const notice = sessionStorage.getItem(flashKey);
    if (notice) { sessionStorage.removeItem(flashKey); Berth.toast(notice); }
  }
  function split(spec) {
    const i = spec.indexOf(" ");
    return [spec.slice(0, i), spec.slice(i + 1)];
  }

  Berth.submit = async function (form) {
    const [method, url] = split(form.dataset.api);
    const button = form.querySelector('[type="submit"]');
    const body = form.berthBody ? form.berthBody(Berth.readForm(form)) : Berth.readForm(form);
    const r = await Berth.busy(button, () => Berth.api(method, url, body, { noRedirect: form.dataset.noRedirect !== undefined }));
    if (!r.ok) {
      form.dispatchEvent(new CustomEvent("berth:failed", { detail: r }));
      if (!r.handled) Berth.showErrors(form, r);
      return r;
    }
    Berth.clearErrors(form);
    then(form, r.data);
    return r;
  };

  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (!form.dataset || !form.dataset.api) return;
    e.preventDefault();
    const button = form.querySelector('[type="submit"]');
    if (form.dataset.confirm && !(await Berth.confirm(form.dataset.confirm, button ? button.textContent.trim() : ""))) return;
    Berth.submit(form);
  });

  document.addEventListener("click", async (e) => {
    const el = e.target.closest("button, a");
    if (!el) return;
    if (el.dataset.call) {
      e.preventDefault();
      if (el.dataset.confirm && !(await Berth.confirm(el.dataset.confirm, el.textContent.trim()))) return;
      const [method, url] = split(el.dataset.call);
      let body;
      if (el.dataset.body) body = JSON.parse(el.dataset.body);
      const r = await Berth.busy(el, () => Berth.api(method, url, body));
      if (!r.ok) { Berth.toast(Berth.errorText(r), true); return; }
      if (el.dataset.done && el.dataset.then !== "reload") Berth.toast(el.dataset.done);
      then(el, r.data);
    } else if (el.dataset.copy !== undefined || el.dataset.copyFrom || el.dataset.copyPrev !== undefined) {
      e.preventDefault();
      let text = el.dataset.copy;
      if (el.dataset.copyFrom) text = document.querySelector(el.dataset.copyFrom).textContent.trim();
      if (el.dataset.copyPrev !== undefined) text = el.previousElementSibling.textContent.trim();
      Berth.copy(text);
    } else if (el.dataset.signout !== undefined) {
      await Berth.busy(el, () => Berth.api("POST", "/auth/logout"));
      location.assign("/login");
    }
  });

  // copy puts text on the clipboard, where the browser allows it.
  Berth.copy = async function (text) {
    try {
      await navigator.clipboard.writeText(text);
      Berth.toast("Copied");
    } catch (e) {
      Berth.toast("Copy is not allowed here: select the text and copy it.", true);
    }
  };

  // Times: <time datetime> shown in the reader's own zone.
  Berth.localTimes = function (root) {
    (root || document).querySelectorAll("time[datetime]").forEach((t) => {
      const d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.title = t.getAttribute("datetime"); t.textContent = d.toLocaleString(); }
    });
  };

  // formatBytes writes a size in binary units, as the server's pages do.
  Berth.formatBytes = function (n) {
    if (n < 1024) return n + " B";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + " " + units[i];
  };

  // Navigation marks the current link of sub-menus.
  function markCurrent() {
    document.querySelectorAll(".subnav a, .tabs a").forEach((a) => {
      if (a.getAttribute("href") === location.pathname) a.setAttribute("aria-current", "page");
    });
  }

  document.addEventListener("DOMContentLoaded", () => { Berth.localTimes(); markCurrent(); showFlash(); });
})();
