// Small behaviours shared by every page (no inline scripts: the CSP forbids them).

// <form data-confirm="Delete this video?"> asks before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
