// Training pages: the new-training form, the live job page, the job list (no inline
// scripts or styles: the CSP forbids them, so widths and charts are set from here).
import { ACTIVE, pollJob, setProgress as setBarWidth } from "../webapp/jobs.js";

function initTraining() {
  const STATUS_CLASSES = {
    queued: "text-bg-secondary", running: "text-bg-primary", succeeded: "text-bg-success",
    failed: "text-bg-danger", cancelled: "text-bg-warning", timed_out: "text-bg-warning",
  };

  function setProgress(bar, fraction, status) {
    const pct = Math.max(0, Math.min(100, Math.round(100 * (Number(fraction) || 0))));
    setBarWidth(bar, fraction);
    bar.setAttribute("aria-valuenow", String(pct));
    if (bar.parentElement) bar.parentElement.setAttribute("aria-valuenow", String(pct));
    if (status !== undefined) {
      const running = status === "running";
      bar.classList.toggle("progress-bar-striped", running);
      bar.classList.toggle("progress-bar-animated", running);
      bar.classList.toggle("bg-success", status === "succeeded");
      bar.classList.toggle("bg-danger", status === "failed");
      bar.classList.toggle("bg-warning", status === "cancelled" || status === "timed_out");
    }
  }

  function setBadge(badge, status, label) {
    Object.values(STATUS_CLASSES).forEach(function (c) { badge.classList.remove(c); });
    badge.classList.add(STATUS_CLASSES[status] || "text-bg-light");
    badge.textContent = label;
    badge.dataset.status = status;
  }

  function queueText(job) {
    if (job.status !== "queued") return null;
    const ahead = job.queue_position;
    if (!ahead) return "Next in the queue";
    return ahead + " job" + (ahead === 1 ? "" : "s") + " ahead in the queue";
  }

  function fmt(value, digits) {
    return (value === null || value === undefined) ? "–" : Number(value).toFixed(digits);
  }

  document.querySelectorAll("[data-progress]").forEach(function (bar) {
    setProgress(bar, bar.dataset.progress);
  });

  // --- the new-training form ----------------------------------------------------------
  const form = document.getElementById("training-form");
  if (form) {
    const defaults = JSON.parse(form.dataset.presetDefaults || "{}");
    const edited = new Set();
    ["epochs", "imgsz", "batch", "lr0", "momentum", "weight_decay", "patience", "seed"]
      .forEach(function (name) {
        const input = form.elements[name];
        if (input) input.addEventListener("input", function () { edited.add(name); });
      });

    function applyPreset(key) {
      const hp = defaults[key];
      if (!hp) return;
      Object.keys(hp).forEach(function (name) {
        const input = form.elements[name];
        if (!input || edited.has(name) || input.type === "checkbox" || input.tagName === "SELECT") {
          return;
        }
        input.value = hp[name];
      });
    }

    function markPresets() {
      form.querySelectorAll(".preset-option").forEach(function (label) {
        const radio = label.querySelector("input");
        label.classList.toggle("active", radio.checked);
      });
    }

    function showStart() {
      const checked = form.querySelector("input[name=start_from]:checked");
      const value = checked ? checked.value : "scratch";
      form.querySelectorAll(".start-detail").forEach(function (el) {
        el.hidden = el.dataset.start !== value;
      });
      // Starting from weights, the architecture is the checkpoint's, not the preset's.
      const grid = document.getElementById("preset-choices");
      if (grid) grid.classList.toggle("presets-inactive", value !== "scratch");
    }

    form.querySelectorAll("input[name=preset]").forEach(function (radio) {
      radio.addEventListener("change", function () { applyPreset(radio.value); markPresets(); });
    });
    form.querySelectorAll("input[name=start_from]").forEach(function (radio) {
      radio.addEventListener("change", showStart);
    });
    form.addEventListener("submit", function () {
      const button = document.getElementById("start-training");
      if (button) {
        button.disabled = true;
        button.textContent = "Starting…";
      }
    });
    markPresets();
    showStart();
  }

  // --- the live job page ---------------------------------------------------------------
  const jobPage = document.getElementById("job-page");
  if (jobPage && typeof Chart !== "undefined") {
    const initial = JSON.parse(document.getElementById("epoch-data").textContent || "[]");
    const palette = ["#0d6efd", "#d63384", "#fd7e14", "#198754", "#6f42c1", "#20c997"];

    function lineChart(canvas, series, yMax) {
      return new Chart(canvas, {
        type: "line",
        data: {
          labels: [],
          datasets: series.map(function (s, i) {
            return {
              label: s.label, data: [], borderColor: palette[i], backgroundColor: palette[i],
              tension: 0.25, pointRadius: 2, borderWidth: 2, spanGaps: true,
            };
          }),
        },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { title: { display: true, text: "epoch" }, ticks: { precision: 0 } },
            y: Object.assign({ beginAtZero: true }, yMax ? { max: yMax } : {}),
          },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        },
      });
    }

    const lossSeries = [
      { key: "box_loss", label: "box" }, { key: "cls_loss", label: "cls" },
      { key: "dfl_loss", label: "dfl" },
    ];
    const metricSeries = [
      { key: "precision", label: "precision" }, { key: "recall", label: "recall" },
      { key: "map50", label: "mAP50" }, { key: "map50_95", label: "mAP50-95" },
    ];
    const lossChart = lineChart(document.getElementById("loss-chart"), lossSeries);
    const metricChart = lineChart(document.getElementById("metric-chart"), metricSeries, 1);

    function updateCharts(epochs) {
      [[lossChart, lossSeries], [metricChart, metricSeries]].forEach(function (pair) {
        const chart = pair[0];
        chart.data.labels = epochs.map(function (e) { return e.epoch; });
        pair[1].forEach(function (s, i) {
          chart.data.datasets[i].data = epochs.map(function (e) { return e[s.key]; });
        });
        chart.update();
      });
    }

    function updateTable(epochs) {
      const body = document.querySelector("#epoch-table tbody");
      body.replaceChildren();
      epochs.forEach(function (e) {
        const row = document.createElement("tr");
        const cells = [String(e.epoch), fmt(e.box_loss, 3), fmt(e.cls_loss, 3),
          fmt(e.dfl_loss, 3), fmt(e.precision, 3), fmt(e.recall, 3), fmt(e.map50, 3),
          fmt(e.map50_95, 3), fmt(e.epoch_time_s, 1)];
        cells.forEach(function (text, i) {
          const cell = document.createElement("td");
          if (i) cell.className = "text-end";
          cell.textContent = text;
          row.appendChild(cell);
        });
        body.appendChild(row);
      });
    }

    // Mirrors templates/webapp/_attempts.html.
    function renderAttempts(list, history) {
      list.replaceChildren();
      (history.length ? history : [null]).forEach(function (a) {
        const item = document.createElement("li");
        item.textContent = a === null ? "none yet" :
          "#" + a.attempt + " on " + (a.worker || "?") + ": " + (a.outcome || "running") +
          (a.requeued ? " · queued again automatically" : "");
        list.appendChild(item);
      });
    }

    function render(job) {
      // "Training job #N queued." is only true while it is queued.
      if (job.status !== "queued") {
        document.querySelectorAll('.alert[data-message-tags~="job-queued"]')
          .forEach(function (el) { el.remove(); });
      }
      setBadge(document.getElementById("job-status"), job.status, job.status_display);
      setProgress(document.getElementById("job-progress"), job.progress, job.status);
      document.getElementById("job-message").textContent = queueText(job) || job.message || "";
      document.getElementById("job-epochs").textContent = job.epochs_done;
      document.getElementById("job-epochs-total").textContent = job.epochs_total;
      renderAttempts(document.getElementById("job-attempts"), job.attempt_log || []);
      if (job.convergence) document.getElementById("job-convergence").textContent = job.convergence;
      document.getElementById("job-worker").textContent =
        (job.worker || "–") + (job.device ? " · " + job.device : "");
      const log = document.getElementById("job-log");
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = job.log_tail || "";
      if (atBottom) log.scrollTop = log.scrollHeight;
      const error = document.getElementById("job-error");
      error.hidden = !job.error;
      error.querySelector("pre").textContent = job.error || "";
      const cancel = document.getElementById("cancel-form");
      if (cancel) cancel.hidden = !job.can_cancel;
      const retry = document.getElementById("retry-form");
      if (retry) retry.hidden = !job.can_retry;
      const link = document.getElementById("model-link");
      if (job.model) {
        link.href = jobPage.dataset.modelUrlTemplate.replace(/0\/$/, job.model.id + "/");
        link.querySelector("span").textContent = job.model.partial ? "Partial model" : "Model";
        link.hidden = false;
      }
      updateCharts(job.epochs || []);
      updateTable(job.epochs || []);
    }

    updateCharts(initial);
    // Server or network trouble: back off, up to 30 s between tries.
    pollJob(jobPage.dataset.apiUrl, {
      onUpdate: render, intervalMs: 1500, finished: (job) => !ACTIVE.includes(job.status),
      retryMs: (failures) => Math.min(1500 * 2 ** failures, 30000),
    });
  }

  // --- the job list: follow queued and running jobs ------------------------------------
  const table = document.getElementById("training-jobs");
  if (table) {
    function active() {
      return Array.from(table.querySelectorAll("[data-field=status]")).some(function (b) {
        return ACTIVE.indexOf(b.dataset.status || "") >= 0;
      });
    }
    function refresh() {
      if (!active()) return;
      fetch(table.dataset.pollUrl, { headers: { Accept: "application/json" },
        credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (jobs) {
          (jobs.results || jobs).forEach(function (job) {
            const row = table.querySelector("tr[data-job-id='" + job.id + "']");
            if (!row) return;
            setBadge(row.querySelector("[data-field=status]"), job.status, job.status_display);
            setProgress(row.querySelector(".progress-bar"), job.progress, job.status);
            row.querySelector("[data-field=message]").textContent = queueText(job) ||
              (job.epochs_done + "/" + job.epochs_total + " epochs" +
               (job.message ? " · " + job.message : ""));
          });
          window.setTimeout(refresh, 3000);
        })
        .catch(function () { window.setTimeout(refresh, 10000); });
    }
    window.setTimeout(refresh, 3000);
  }
}

initTraining();
