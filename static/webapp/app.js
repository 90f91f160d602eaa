// Small behaviours shared by every page (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  // <form data-confirm="Delete this video?"> asks before submitting.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();

// The CSRF token for fetch() calls from page scripts.
window.mousetrackCsrfToken = function () {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
};
