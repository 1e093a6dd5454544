// The sign-in page: a refusal that asks for a second factor shows the code
// field, and keeps the username and password typed.
"use strict";
(function () {
  const form = document.getElementById("signin");
  const codeField = document.getElementById("code-field");
  form.addEventListener("berth:failed", (e) => {
    const r = e.detail;
    if (r.data && r.data.twoFactorRequired) {
      const first = codeField.hidden;
      codeField.hidden = false;
      document.getElementById("code").focus();
      if (first) { r.handled = true; return; }
    }
  });
  form.dataset.noRedirect = "";
})();
