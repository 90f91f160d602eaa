// The comparison page's charts from GET /api/projects/<id>/compare/?models=...
import * as E from "./charts.js";

function initCompare() {
  const root = document.getElementById("compare-dashboard");
  if (!root) return;

  function drawTimes(models) {
    const rows = models.filter((m) => m.per_image_ms_mean !== null);
    if (!rows.length) { E.emptyNote("chart-cmp-time", "No evaluated model."); return; }
    const colors = rows.map((_, i) => E.PALETTE[i % E.PALETTE.length]);
    E.chart("chart-cmp-time", {
      type: "bar",
      data: {
        labels: rows.map((m) => m.model.name),
        datasets: [{
          label: "ms per image",
          data: rows.map((m) => m.per_image_ms_mean),
          errorBars: rows.map((m) => m.per_image_ms_std || 0),
          backgroundColor: colors.map((c) => E.alpha(c, 0.75)),
          borderColor: colors,
          borderWidth: 1,
          maxBarThickness: 90,
        }],
      },
      options: E.baseOptions({
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => {
            const m = rows[ctx.dataIndex];
            return `${E.fmt(m.per_image_ms_mean, 2)} ± ${E.fmt(m.per_image_ms_std, 2)} ms`;
          } } },
        },
        scales: {
          x: E.axis("Model"),
          y: E.axis("Network time per image (ms)", {
            beginAtZero: true,
            suggestedMax: Math.max(...rows.map((m) => m.per_image_ms_mean + (m.per_image_ms_std || 0))) * 1.1,
          }),
        },
      }),
      plugins: [E.errorBarsPlugin],
    });
  }

  function drawEpochs(models) {
    const withEpochs = models.filter((m) => (m.epochs || []).length);
    if (!withEpochs.length) { E.emptyNote("chart-cmp-map", "No per-epoch history."); return; }
    E.chart("chart-cmp-map", {
      type: "line",
      data: {
        datasets: withEpochs.map((m, i) => ({
          label: m.model.name,
          data: m.epochs.map((e) => ({ x: e.epoch, y: e.map50 })),
          borderColor: E.PALETTE[models.indexOf(m) % E.PALETTE.length],
          backgroundColor: E.PALETTE[models.indexOf(m) % E.PALETTE.length],
          borderWidth: 2, pointRadius: 2, tension: 0,
        })),
      },
      options: E.baseOptions({
        scales: {
          x: E.axis("Epoch", { type: "linear", ticks: { precision: 0, font: { size: 10 } } }),
          y: E.axis("Validation mAP50", { min: 0, max: 1.02 }),
        },
      }),
    });
  }

  function drawPr(models) {
    const rows = models.filter((m) => m.pr_curve);
    if (!rows.length) { E.emptyNote("chart-cmp-pr", "No evaluated model."); return; }
    E.chart("chart-cmp-pr", {
      type: "line",
      data: {
        datasets: rows.map((m) => {
          const color = E.PALETTE[models.indexOf(m) % E.PALETTE.length];
          return {
            label: `${m.model.name} (AP ${E.fmt(m.map50_voc_all)})`,
            data: m.pr_curve.recall.map((r, i) => ({ x: r, y: m.pr_curve.precision[i] })),
            borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 0,
          };
        }),
      },
      options: E.baseOptions({
        scales: {
          x: E.axis("Recall", { type: "linear", min: 0, max: 1 }),
          y: E.axis("Precision", { min: 0, max: 1.02 }),
        },
      }),
    });
  }

  E.drawFrom(root, root.dataset.compareUrl, (data) => {
    drawTimes(data.models);
    drawEpochs(data.models);
    drawPr(data.models);
  });
}

initCompare();
