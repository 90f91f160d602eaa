// The model evaluation dashboard: curves from GET /api/evaluations/<id>/.
import { ACTIVE, pollJob, setProgress } from "../webapp/jobs.js";
import * as E from "./charts.js";

function initModelDashboard() {
  const C = E.PALETTE;

  // A queued or running evaluation: show its progress, reload the page once it ends.
  const progress = document.getElementById("run-progress");
  if (progress) {
    const bar = progress.querySelector(".progress-bar");
    setProgress(bar, bar.dataset.progress);
    pollJob(progress.dataset.pollUrl, {
      onUpdate: (run) => setProgress(bar, run.progress),
      onDone: () => window.location.reload(),
      finished: (run) => !ACTIVE.includes(run.status),
      delayMs: 2000, intervalMs: 2000, retryMs: 2000,
    });
  }

  const root = document.getElementById("model-dashboard");
  if (!root) return;

  const line = (label, points, color, extra) => Object.assign({
    label, data: points, borderColor: color, backgroundColor: E.alpha(color, 0.12),
    borderWidth: 2, pointRadius: 0, tension: 0, fill: false,
  }, extra || {});
  const xy = (xs, ys) => xs.map((x, i) => ({ x, y: ys[i] }));
  const unitAxes = (xTitle, yTitle) => ({
    x: E.axis(xTitle, { type: "linear", min: 0, max: 1 }),
    y: E.axis(yTitle, { min: 0, max: 1.02, ticks: { font: { size: 10 }, stepSize: 0.2 } }),
  });

  function drawPr(metrics) {
    const datasets = [];
    const classes = metrics.per_class || [];
    if (classes.length > 1) {
      classes.forEach((c, i) => datasets.push(line(
        `${c.name} (AP ${E.fmt(c.ap50_voc_all)})`, xy(c.pr_curve.recall, c.pr_curve.precision),
        C[(i + 1) % C.length], { borderWidth: 1.5 },
      )));
    }
    datasets.unshift(line(
      `all classes (AP ${E.fmt(metrics.map50_voc_all)})`,
      xy(metrics.pr_curve.recall, metrics.pr_curve.precision), C[0], { fill: "origin" },
    ));
    E.chart("chart-pr", {
      type: "line", data: { datasets },
      options: E.baseOptions({ scales: unitAxes("Recall", "Precision") }),
    });
  }

  function drawF1(metrics, conf) {
    const f = metrics.f1_curve;
    E.chart("chart-f1", {
      type: "line",
      data: {
        datasets: [
          line("F1", xy(f.threshold, f.f1), C[0], { borderWidth: 2.5 }),
          line("Precision", xy(f.threshold, f.precision), C[2], { borderDash: [5, 3] }),
          line("Recall", xy(f.threshold, f.recall), C[1], { borderDash: [2, 2] }),
          line(`threshold ${conf}`, [{ x: conf, y: 0 }, { x: conf, y: 1 }], "#6c757d",
               { borderWidth: 1, borderDash: [1, 3] }),
        ],
      },
      options: E.baseOptions({ scales: unitAxes("Confidence threshold", "Score") }),
    });
  }

  function drawTimes(timing) {
    const values = timing.per_image_ms || [];
    if (!values.length) { E.emptyNote("chart-time", "No timings."); return; }
    const h = E.histogram(values, 20);
    E.chart("chart-time", {
      type: "bar",
      data: {
        labels: h.labels,
        datasets: [{ label: "images", data: h.counts, backgroundColor: E.alpha(C[0], 0.7),
                     borderColor: C[0], borderWidth: 1, barPercentage: 1, categoryPercentage: 1 }],
      },
      options: E.baseOptions({
        plugins: { legend: { display: false } },
        scales: {
          x: E.axis("Network time per image (ms)"),
          y: E.axis("Images", { beginAtZero: true, ticks: { precision: 0, font: { size: 10 } } }),
        },
      }),
    });
  }

  function drawEpochs(epochs) {
    if (!epochs.length) {
      E.emptyNote("chart-map-epoch", "No per-epoch history (model not trained here).");
      E.emptyNote("chart-loss", "No per-epoch history.");
      return;
    }
    const at = (key) => epochs.map((e) => ({ x: e.epoch, y: e[key] }));
    const epochAxis = E.axis("Epoch", { type: "linear", ticks: { precision: 0, font: { size: 10 } } });
    E.chart("chart-map-epoch", {
      type: "line",
      data: {
        datasets: [
          line("mAP50", at("map50"), C[0], { pointRadius: 2 }),
          line("mAP50-95", at("map50_95"), C[1], { pointRadius: 2 }),
          line("Precision", at("precision"), C[2], { borderDash: [4, 3] }),
          line("Recall", at("recall"), C[3], { borderDash: [2, 2] }),
        ],
      },
      options: E.baseOptions({
        scales: { x: epochAxis, y: E.axis("Validation", { min: 0, max: 1.02 }) },
      }),
    });
    E.chart("chart-loss", {
      type: "line",
      data: {
        datasets: [
          line("box", at("box_loss"), C[0], { pointRadius: 2 }),
          line("cls", at("cls_loss"), C[1], { pointRadius: 2 }),
          line("dfl", at("dfl_loss"), C[2], { pointRadius: 2 }),
        ],
      },
      options: E.baseOptions({
        scales: { x: E.axis("Epoch", { type: "linear", ticks: { precision: 0 } }),
                  y: E.axis("Training loss", { beginAtZero: true }) },
      }),
    });
  }

  E.drawFrom(root, root.dataset.detailUrl, (run) => {
    drawPr(run.metrics);
    drawF1(run.metrics, run.conf_threshold);
    drawTimes(run.timing);
    drawEpochs((run.training && run.training.epochs) || []);
  });
}

initModelDashboard();
