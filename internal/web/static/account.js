// The account pages: two-factor set-up (QR code, first code, recovery
// codes shown once), the password form's second typing, and a new access
// token shown once. Secrets arrive in the API's answers and are only ever
// put in the page as text.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);

  // Two-factor: set-up asks the API for a new secret and its QR code.
  const start = $("tf-start");
  if (start) {
    start.addEventListener("click", async () => {
      const err = $("tf-start-error");
      err.textContent = "";
      const r = await Berth.busy(start, () => Berth.api("POST", "/api/client/account/2fa/setup"));
      if (!r.ok) { err.textContent = Berth.errorText(r); return; }
      $("tf-qr").src = r.data.qrPng;
      $("tf-secret").textContent = r.data.secret;
      $("tf-intro").hidden = true;
      $("tf-setup").hidden = false;
      $("tf-code").focus();
    });
  }

  // A first code turns it on; the answer's recovery codes are shown once.
  const enable = $("tf-enable");
  if (enable) {
    enable.addEventListener("berth:done", (e) => {
      $("tf-secret").textContent = "";
      $("tf-qr").removeAttribute("src");
      $("tf-setup").hidden = true;
      $("tf-code-list").textContent = e.detail.recoveryCodes.join("\n");
      $("tf-codes").hidden = false;
      $("tf-saved").focus();
      addEventListener("beforeunload", warnUnsaved);
    });
    $("tf-saved").addEventListener("click", (e) => {
      removeEventListener("beforeunload", warnUnsaved);
      $("tf-code-list").textContent = "";
      const next = e.currentTarget.dataset.next;
      if (next) location.assign(next); else location.reload();
    });
  }
  function warnUnsaved(e) { e.preventDefault(); }

  // The new password is typed twice; only the API's fields are sent.
  const password = $("password-form");
  if (password) {
    password.addEventListener("submit", (e) => {
      if (password.elements.new.value === password.elements.confirm.value) return;
      e.preventDefault();
      e.stopPropagation();
      Berth.showErrors(password, { status: 400, data: { error: "confirm: does not match the new password" } });
    });
    password.berthBody = (b) => ({ current: b.current, new: b.new });
    password.addEventListener("berth:done", () => {
      password.reset();
      Berth.toast("Password changed. Your other sessions have ended.");
    });
  }

  // Tokens: the date picked is the last day the token works.
  const token = $("token-form");
  if (token) {
    token.berthBody = (b) => {
      if (b.expiresAt) {
        const end = new Date(b.expiresAt + "T23:59:59");
        if (!isNaN(end)) b.expiresAt = end.toISOString().replace(/\.\d+Z$/, "Z");
      }
      return b;
    };
    token.addEventListener("berth:done", (e) => {
      token.hidden = true;
      $("token-value").textContent = e.detail.token;
      $("token-new").hidden = false;
      $("token-done").focus();
    });
    $("token-done").addEventListener("click", () => {
      $("token-value").textContent = "";
      location.reload();
    });
  }
})();
