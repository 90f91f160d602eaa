import { ApiError, get, request } from "../webapp/api.js";
import { humanSize } from "../webapp/dom.js";

// Dataset page: show that an import is running (it can take a while for large zips).
function initImportForm() {
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
}

// Dataset page: import and export jobs with their progress, cancel and the export's download.
function initDatasetJobs() {
  const panel = document.getElementById("dataset-jobs");
  if (!panel) return;
  const list = document.getElementById("job-list");
  const empty = document.getElementById("jobs-empty");
  const url = panel.dataset.jobsUrl;
  const VARIANT = {
    succeeded: "bg-success", failed: "bg-danger", cancelled: "bg-secondary",
    timed_out: "bg-warning", queued: "bg-info", running: "",
  };
  const rows = new Map(); // "import-12" -> <li>
  const unfinished = new Set(); // keys of jobs seen queued or running
  const renderedAt = Date.parse(panel.dataset.renderedAt || "") || Date.now();
  let timer = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Resolves to the server's reason when it refused (a retry of a job that cannot be).
  async function post(target) {
    let reason = "";
    try {
      await request("POST", target);
    } catch (err) {
      reason = err instanceof ApiError
        ? Object.values(err.body || {}).flat().join(" ") || err.message
        : "Network error: try again.";
    }
    await refresh();
    return reason;
  }

  function render(kind, job) {
    const key = kind + "-" + job.id;
    let row = rows.get(key);
    if (!row) {
      row = el("li", "list-group-item px-0 job-row");
      row.dataset.job = key;
      row.dataset.kind = kind;
      const head = el("div", "d-flex align-items-baseline gap-2 flex-wrap");
      head.append(el("span", "fw-semibold job-title"), el("span", "badge job-status"),
        el("span", "small text-body-secondary job-message flex-grow-1"),
        el("span", "job-actions d-flex gap-2"));
      const bar = el("div", "progress mt-1 job-progress");
      bar.setAttribute("role", "progressbar");
      bar.append(el("div", "progress-bar"));
      row.append(head, bar, el("pre", "small text-danger mb-0 mt-1 job-error d-none"));
      rows.set(key, row);
    }
    const title = kind === "import"
      ? "Import #" + job.id + " · " + (job.source_name || "") + " (" + job.fmt.toUpperCase() + ")"
      : "Export #" + job.id + " · " + job.fmt.toUpperCase() + (job.split ? " · " + job.split : "");
    row.querySelector(".job-title").textContent = title;
    const badge = row.querySelector(".job-status");
    badge.textContent = job.status.replace("_", " ");
    badge.className = "badge job-status " + ({
      succeeded: "text-bg-success", failed: "text-bg-danger", cancelled: "text-bg-secondary",
      timed_out: "text-bg-warning", queued: "text-bg-info", running: "text-bg-primary",
    }[job.status] || "text-bg-light");
    row.querySelector(".job-message").textContent = job.message || "";
    const pct = Math.round(100 * (job.status === "succeeded" ? 1 : job.progress || 0));
    const outer = row.querySelector(".job-progress");
    outer.setAttribute("aria-valuenow", String(pct));
    outer.classList.toggle("d-none", job.is_finished && job.status === "succeeded");
    const bar = row.querySelector(".progress-bar");
    bar.style.width = pct + "%";
    bar.textContent = job.is_finished ? "" : pct + "%";
    bar.className = "progress-bar " + (VARIANT[job.status] || "")
      + (job.is_finished ? "" : " progress-bar-striped progress-bar-animated");
    const error = row.querySelector(".job-error");
    error.textContent = job.error || "";
    error.classList.toggle("d-none", !job.error);
    const actions = row.querySelector(".job-actions");
    actions.replaceChildren();
    if (!job.is_finished && !panel.dataset.readonly) {
      const cancel = el("button", "btn btn-outline-danger btn-sm py-0 job-cancel", "Cancel");
      cancel.type = "button";
      cancel.addEventListener("click", () => { cancel.disabled = true; post(job.cancel_url); });
      actions.append(cancel);
    }
    if (job.retry_url && !panel.dataset.readonly) {
      // Only a job whose worker died offers it: the received zip is still there.
      const retry = el("button", "btn btn-outline-primary btn-sm py-0 job-retry", "Retry");
      retry.type = "button";
      retry.title = "Its worker stopped; import the received zip again";
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        const reason = await post(job.retry_url);
        if (reason) {
          const shown = rows.get(key).querySelector(".job-error");
          shown.textContent = reason;
          shown.classList.remove("d-none");
        }
      });
      actions.append(retry);
    }
    if (job.download_url) {
      const link = el("a", "btn btn-primary btn-sm py-0 job-download");
      link.href = job.download_url;
      link.textContent = "Download zip " + (job.file_bytes ? humanSize(job.file_bytes) : "");
      actions.append(link);
    }
    return row;
  }

  async function refresh() {
    let data;
    try {
      data = await get(url);
    } catch (err) {
      schedule(5000);
      return;
    }
    const all = [
      ...data.imports.map((j) => ["import", j]), ...data.exports.map((j) => ["export", j]),
    ].sort((a, b) => (a[1].created_at < b[1].created_at ? 1 : -1));
    list.replaceChildren(...all.map(([kind, job]) => render(kind, job)));
    empty.classList.toggle("d-none", all.length > 0);
    // An import that just finished changed the counts above: show them.
    const landed = all.some(([kind, job]) => kind === "import" && job.status === "succeeded"
      && (unfinished.has(kind + "-" + job.id)
        || (job.finished_at && Date.parse(job.finished_at) > renderedAt)));
    all.forEach(([kind, job]) => { if (!job.is_finished) unfinished.add(kind + "-" + job.id); });
    if (landed) {
      window.location.reload();
      return;
    }
    const running = all.some(([, job]) => !job.is_finished);
    panel.dataset.running = running ? "1" : "0";
    panel.dataset.loaded = "1";
    if (running) schedule(1000);
  }

  function schedule(ms) {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(refresh, ms);
  }

  refresh();
}

initImportForm();
initDatasetJobs();
