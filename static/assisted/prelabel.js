// The video page's proposals panel (templates/assisted/_prelabel_panel.html): starts a
// pre-label job (the bootstrap, or a registered model) for this video's unlabeled frames,
// polls its progress from the job API and, when it is done, links to the editor filtered
// to the frames with proposals to decide.
import { firstError, postJson } from "../webapp/api.js";
import { $ } from "../webapp/dom.js";
import { FINISHED, jobUrl, pollJob, setProgress, wireCancel } from "../webapp/jobs.js";

function initPrelabel() {
  const panel = document.getElementById("prelabel-panel");
  if (!panel) return;
  const LABELS = { queued: "Waiting for a worker…", running: "Pre-labeling…", succeeded: "Done",
                   failed: "Failed", cancelled: "Cancelled", timed_out: "Timed out" };
  const progress = $("prelabel-progress");
  const bar = $("prelabel-bar");
  const errorBox = $("prelabel-error");
  let poller = null;

  function what(job) {
    return job.source === "model" ? "model “" + (job.model_name || "#" + job.model) + "”"
      : "the bootstrap";
  }

  function showJob(job) {
    const finished = FINISHED.indexOf(job.status) >= 0;
    progress.classList.remove("d-none");
    panel.dataset.jobStatus = job.status;
    setProgress(bar, finished && job.status === "succeeded" ? 1 : job.progress);
    $("prelabel-label").textContent = (LABELS[job.status] || job.status) + " · " + what(job);
    let text = job.error || job.message || "";
    if (job.frames_total) {
      text = job.frames_done + " of " + job.frames_total + " frames, " +
        job.proposals_created + " proposal" + (job.proposals_created === 1 ? "" : "s") +
        (text && !finished ? " · " + text : "");
      if (job.error) text += " · " + job.error;
    } else if (finished && job.status === "succeeded") {
      text = "No unlabeled frame to propose boxes for.";
    }
    $("prelabel-message").textContent = text;
    $("prelabel-message").className = "small mt-1 " + (job.error ? "text-danger" : "text-body-secondary");
    const cancel = $("prelabel-cancel");
    if (cancel) cancel.classList.toggle("d-none", finished);
    bar.className = "progress-bar" + (finished
      ? (job.status === "succeeded" ? " bg-success" : " bg-danger")
      : " progress-bar-striped progress-bar-animated");
    // Proposals stay pending until decided, so the link is useful after any ending that
    // made some (a cancelled job keeps what it made).
    const open = $("prelabel-open");
    open.classList.toggle("d-none", !(finished && job.proposals_created > 0));
    panel.dataset.proposals = String(job.proposals_created || 0);
    setBusy(!finished);
  }

  function setBusy(busy) {
    ["prelabel-bootstrap", "prelabel-model-start"].forEach(function (id) {
      const button = $(id);
      if (button && !button.hasAttribute("data-none")) button.disabled = busy;
    });
  }

  function poll(id) {
    panel.dataset.jobId = String(id);
    if (poller) poller.stop();
    poller = pollJob(jobUrl(panel.dataset.jobUrlTemplate, id), {
      onUpdate: showJob, finished: (job) => FINISHED.includes(job.status),
    });
  }

  function start(payload) {
    errorBox.textContent = "";
    setBusy(true);
    payload.videos = [Number(panel.dataset.video)];
    postJson(panel.dataset.jobsUrl, payload).then(function (result) {
      if (result.status === 202) {
        showJob(result.body);
        poll(result.body.id);
        return;
      }
      setBusy(false);
      errorBox.textContent = firstError(result.body, "The server answered " + result.status + ".");
    }).catch(function () {
      setBusy(false);
      errorBox.textContent = "Network error.";
    });
  }

  // Buttons rendered disabled (no unlabeled frame) stay disabled.
  ["prelabel-bootstrap", "prelabel-model-start"].forEach(function (id) {
    const button = $(id);
    if (button && button.disabled) button.setAttribute("data-none", "");
  });

  const bootstrap = $("prelabel-bootstrap");
  if (bootstrap) {
    bootstrap.addEventListener("click", function () {
      start({ expected: Number($("prelabel-expected").value) });
    });
  }
  const modelStart = $("prelabel-model-start");
  if (modelStart) {
    modelStart.addEventListener("click", function () {
      start({ model: Number($("prelabel-model").value) });
    });
  }
  wireCancel($("prelabel-cancel"), panel, (result, id) => poll(id));
  if (panel.dataset.jobId) poll(panel.dataset.jobId);
}

initPrelabel();
