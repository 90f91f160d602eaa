// Dataset page: show that an import is running (it can take a while for large zips).
(function () {
  "use strict";
  const form = document.getElementById("import-form");
  if (!form) return;
  form.addEventListener("submit", function () {
    const button = document.getElementById("import-submit");
    const busy = document.getElementById("import-busy");
    if (button) {
      // Disable after the submit event has been dispatched, so the form still posts.
      window.setTimeout(function () { button.disabled = true; }, 0);
      button.lastChild.textContent = " Importing…";
    }
    if (busy) busy.classList.remove("d-none");
  });
})();
