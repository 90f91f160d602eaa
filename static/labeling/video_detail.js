import { firstError, postJson } from "../webapp/api.js";
import { $, applyWidths } from "../webapp/dom.js";
import { jobUrl, pollJob, setProgress, wireCancel } from "../webapp/jobs.js";

// One video's page: the player and its frame scrubber, "take this frame", the sampling
// form and the progress of the running sampling job (polled from the job API).
function initVideoPage() {
  applyWidths();

  // --- sampling job progress ------------------------------------------------------------
  const progress = $("job-progress");
  let poller = null;
  let takenIndex = null; // the frame "take this frame" asked for: shown again after reload

  function showJob(job) {
    progress.classList.remove("d-none");
    const bar = $("job-bar");
    setProgress(bar, job.progress);
    const label = { queued: "Waiting for a worker…", running: "Sampling…", succeeded: "Done",
                    failed: "Failed", cancelled: "Cancelled", timed_out: "Timed out" };
    $("job-label").textContent = label[job.status] || job.status;
    $("job-message").textContent = job.error || job.message || "";
    $("job-message").className = "small mt-1 " + (job.error ? "text-danger" : "text-body-secondary");
    const cancel = $("job-cancel");
    if (cancel) cancel.classList.toggle("d-none", job.is_finished);
    if (job.is_finished) {
      bar.classList.remove("progress-bar-animated", "progress-bar-striped");
      bar.classList.add(job.status === "succeeded" ? "bg-success" : "bg-danger");
    }
  }

  function poll(id) {
    progress.dataset.jobId = String(id);
    if (poller) poller.stop();
    poller = pollJob(jobUrl(progress.dataset.jobUrlTemplate, id), {
      onUpdate: showJob,
      onDone(job) {
        if (job.frames_created > 0) {
          // New frames: show them in the grid (and the job in the history), with the
          // player back on the frame that was taken.
          if (takenIndex !== null) window.location.hash = "frame=" + takenIndex;
          setTimeout(function () { window.location.reload(); }, 600);
        }
      },
    });
  }

  if (progress && progress.dataset.jobId) poll(progress.dataset.jobId);

  wireCancel($("job-cancel"), progress, (result, id) => {
    if (result.status === 202) showJob(result.body);
    poll(id);
  });

  function startJob(url, payload, errorBox) {
    if (errorBox) errorBox.textContent = "";
    return postJson(url, payload).then(function (result) {
      if (result.status === 202) {
        const bar = $("job-bar");
        bar.className = "progress-bar progress-bar-striped progress-bar-animated";
        showJob(result.body);
        poll(result.body.id);
        return true;
      }
      const message = firstError(result.body, "The server answered " + result.status + ".");
      if (errorBox) errorBox.textContent = message;
      return false;
    }).catch(function () {
      if (errorBox) errorBox.textContent = "Network error.";
      return false;
    });
  }

  // --- sampling form ----------------------------------------------------------------------
  const form = $("sample-form");
  if (form) {
    const strategy = $("strategy");
    const skipOn = $("skip-similar-on");
    const skip = $("skip-similar");
    const syncFields = function () {
      const bySeconds = strategy.value === "every_seconds";
      $("seconds-field").classList.toggle("d-none", !bySeconds);
      $("n-field").classList.toggle("d-none", bySeconds);
      skip.disabled = !skipOn.checked;
    };
    strategy.addEventListener("change", syncFields);
    skipOn.addEventListener("change", syncFields);
    syncFields();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      takenIndex = null;
      const payload = { strategy: strategy.value };
      if (strategy.value === "every_seconds") payload.seconds = Number($("seconds").value);
      else payload.n = Number($("n").value);
      // The form takes a percentage; the API a fraction of full scale.
      if (skipOn.checked) payload.skip_similar = Number(skip.value) / 100;
      const submit = $("sample-submit");
      submit.disabled = true;
      startJob(form.dataset.url, payload, $("sample-error")).finally(function () {
        submit.disabled = false;
      });
    });
  }

  // --- player and frame scrubber ------------------------------------------------------
  const player = $("player");
  if (!player) return;
  const scrubber = $("scrubber");
  const fps = Number(player.dataset.fps) || 30;
  const frameCount = Number(player.dataset.frameCount) || 1;
  const message = $("player-message");

  // The frame on screen at time t is the one whose interval [i/fps, (i+1)/fps) holds t;
  // seeking to the middle of a frame's interval avoids landing on its neighbour.
  function indexAt(t) {
    return Math.max(0, Math.min(frameCount - 1, Math.floor(t * fps + 1e-3)));
  }
  function showIndex(index) {
    scrubber.value = String(index);
    $("frame-index").textContent = String(index);
    $("frame-time").textContent = (index / fps).toFixed(3);
  }
  function seekTo(index) {
    index = Math.max(0, Math.min(frameCount - 1, index));
    player.pause();
    player.currentTime = (index + 0.5) / fps;
    showIndex(index);
  }
  scrubber.addEventListener("input", function () { seekTo(Number(scrubber.value)); });
  player.addEventListener("timeupdate", function () { showIndex(indexAt(player.currentTime)); });
  player.addEventListener("seeked", function () { showIndex(indexAt(player.currentTime)); });
  player.addEventListener("error", function () {
    message.className = "small mt-2 text-warning-emphasis";
    message.textContent = "This browser cannot play this video's format; frames can still be " +
      "sampled with the form.";
  });
  $("frame-prev").addEventListener("click", function () { seekTo(Number(scrubber.value) - 1); });
  $("frame-next").addEventListener("click", function () { seekTo(Number(scrubber.value) + 1); });
  document.addEventListener("keydown", function (event) {
    if (event.target.closest("input, select, textarea")) return;
    if (event.key === ",") seekTo(Number(scrubber.value) - 1);
    if (event.key === ".") seekTo(Number(scrubber.value) + 1);
  });

  const wanted = /frame=(\d+)/.exec(window.location.hash);
  if (wanted) {
    const go = function () { seekTo(Number(wanted[1])); };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  }

  const take = $("take-frame");
  if (take) {
    take.addEventListener("click", function () {
      const index = Number(scrubber.value);
      takenIndex = index;
      take.disabled = true;
      message.className = "small mt-2 text-body-secondary";
      message.textContent = "Taking frame " + index + "…";
      startJob(take.dataset.url, { strategy: "indices", indices: [index] }, message)
        .then(function (ok) { if (ok) message.textContent = "Frame " + index + " is being stored."; })
        .finally(function () { take.disabled = false; });
    });
  }
}

initVideoPage();
