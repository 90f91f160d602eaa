// Background jobs seen from a page: the progress bar and the poller of a job's API.
import { postJson } from "./api.js";

export const FINISHED = ["succeeded", "failed", "cancelled", "timed_out"];
export const ACTIVE = ["queued", "running"];

export function isFinished(job) {
  return typeof job.is_finished === "boolean" ? job.is_finished : FINISHED.includes(job.status);
}

// A job API url from the page's template of it ("/api/x/0/" -> "/api/x/42/").
export function jobUrl(template, id) {
  return template.replace("/0/", `/${id}/`);
}

// A Cancel button for the job `holder.dataset.jobId` names (its cancel API from
// `holder.dataset.cancelUrlTemplate`): disabled while the request is out, then
// `onSent(result, id)` (the page follows the job again).
export function wireCancel(button, holder, onSent) {
  if (!button) return;
  button.addEventListener("click", () => {
    const id = holder.dataset.jobId;
    if (!id) return;
    button.disabled = true;
    postJson(jobUrl(holder.dataset.cancelUrlTemplate, id)).then((result) => {
      button.disabled = false;
      onSent(result, id);
    });
  });
}

// A progress bar's width from a fraction in [0, 1].
export function setProgress(bar, fraction) {
  const value = Math.max(0, Math.min(1, Number(fraction) || 0));
  bar.style.width = `${Math.round(100 * value)}%`;
}

// Fetch `url` (JSON) every `intervalMs` and hand each answer to `onUpdate(job)` until the job
// is finished (then `onDone(job)`) or `stop()` is called. A failed fetch is retried after
// `retryMs` (a restarting server or a dropped connection is not the job's end); a function
// `retryMs(failures)` backs off (failures in a row, from 1).
export function pollJob(url, { onUpdate, onDone, intervalMs = 1000, retryMs = 3000,
  delayMs = 0, finished = isFinished } = {}) {
  let timer = null;
  let stopped = false;
  let failures = 0;
  async function tick() {
    if (stopped) return;
    let job;
    try {
      const response = await fetch(url, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      job = await response.json();
    } catch {
      failures += 1;
      const wait = typeof retryMs === "function" ? retryMs(failures) : retryMs;
      if (!stopped) timer = setTimeout(tick, wait);
      return;
    }
    failures = 0;
    if (stopped) return;
    if (onUpdate) onUpdate(job);
    if (finished(job)) {
      if (onDone) onDone(job);
    } else {
      timer = setTimeout(tick, intervalMs);
    }
  }
  timer = setTimeout(tick, delayMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// The job's last state once it is finished, polling as pollJob does; `job` is its current
// state (an API answer with `url` and `is_finished`).
export function untilFinished(job, { onUpdate, intervalMs = 1000, retryMs = intervalMs } = {}) {
  if (isFinished(job)) return Promise.resolve(job);
  return new Promise((resolve) => {
    pollJob(job.url, { onUpdate, onDone: resolve, intervalMs, retryMs, delayMs: intervalMs });
  });
}
