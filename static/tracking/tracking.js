// The Track page: select-all for videos, and live rows for queued/running runs.
import { ACTIVE, setProgress } from "../webapp/jobs.js";

function initTrackPage() {
  const all = document.getElementById("track-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll(".video-check").forEach(function (c) { c.checked = all.checked; });
    });
  }
  document.querySelectorAll(".run-progress").forEach(function (bar) {
    setProgress(bar, bar.dataset.progress);
  });
  const table = document.getElementById("run-table");
  if (!table) return;
  function refresh() {
    const rows = Array.from(table.querySelectorAll("tr[data-run-id]"))
      .filter(function (tr) { return ACTIVE.indexOf(tr.dataset.status) >= 0; });
    if (!rows.length) return;
    Promise.all(rows.map(function (tr) {
      const url = table.dataset.apiTemplate.replace("/0/", "/" + tr.dataset.runId + "/");
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (run) {
          if (!run) return;
          tr.dataset.status = run.status;
          const badge = tr.querySelector(".run-status");
          badge.textContent = run.status_display;
          badge.className = "badge run-status status-" + run.status;
          setProgress(tr.querySelector(".run-progress"), run.status === "succeeded" ? 1 : run.progress);
          tr.querySelector(".run-message").textContent = run.message;
        });
    })).finally(function () { window.setTimeout(refresh, 2000); });
  }
  window.setTimeout(refresh, 1500);
}

initTrackPage();
