// Shared helpers of the evaluation dashboards: fetching JSON, formatting, Chart.js setup.
// Chart.js is the vendored classic script loaded before the page's module (global Chart).
import { get } from "../webapp/api.js";

// Colour-blind-safe palette (Okabe–Ito), first two for the paper's Full vs Tiny.
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                 "#F0E442", "#000000"];

export const fetchJson = get;

export function fmt(value, digits = 3) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

export function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

// Vertical error bars (mean ± std) on bar charts: dataset.errorBars = [std, ...].
export const errorBarsPlugin = {
  id: "mtErrorBars",
  afterDatasetsDraw(chart) {
    const { ctx, scales } = chart;
    chart.data.datasets.forEach((dataset, di) => {
      if (!dataset.errorBars || !chart.isDatasetVisible(di)) return;
      chart.getDatasetMeta(di).data.forEach((bar, i) => {
        const mean = dataset.data[i];
        const err = dataset.errorBars[i];
        if (mean === null || mean === undefined || !err) return;
        const top = scales.y.getPixelForValue(mean + err);
        const bottom = scales.y.getPixelForValue(Math.max(0, mean - err));
        const cap = Math.min(10, bar.width / 4);
        ctx.save();
        ctx.strokeStyle = "#212529";
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
        ctx.moveTo(bar.x - cap, top); ctx.lineTo(bar.x + cap, top);
        ctx.moveTo(bar.x - cap, bottom); ctx.lineTo(bar.x + cap, bottom);
        ctx.stroke();
        ctx.restore();
      });
    });
  },
};

export function baseOptions(extra) {
  const options = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false, // screenshots and slow machines: draw the final state at once
    interaction: { mode: "nearest", intersect: false },
    plugins: {
      legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, font: { size: 11 } } },
      tooltip: { callbacks: {} },
    },
    scales: {},
  };
  return deepMerge(options, extra || {});
}

function deepMerge(target, source) {
  Object.keys(source).forEach((key) => {
    const value = source[key];
    if (value && typeof value === "object" && !Array.isArray(value) &&
        target[key] && typeof target[key] === "object") {
      deepMerge(target[key], value);
    } else {
      target[key] = value;
    }
  });
  return target;
}

export function axis(title, extra) {
  return Object.assign({
    title: { display: true, text: title, font: { size: 11 } },
    ticks: { font: { size: 10 } },
    grid: { color: "rgba(0,0,0,.06)" },
  }, extra || {});
}

// Create a chart on canvas#id; marks the canvas data-chart-ready once drawn.
export function chart(id, config) {
  const canvas = document.getElementById(id);
  if (!canvas || typeof Chart === "undefined") return null;
  const existing = Chart.getChart(canvas);
  if (existing) existing.destroy();
  const instance = new Chart(canvas, config);
  canvas.dataset.chartReady = "1";
  return instance;
}

// Fetch url, then draw(data) and mark root data-charts-ready; a failed fetch or drawing
// says so at the top of root (both dashboards word it the same).
export function drawFrom(root, url, draw) {
  return fetchJson(url).then((data) => {
    draw(data);
    root.dataset.chartsReady = "1";
  }).catch((err) => {
    root.insertAdjacentHTML("afterbegin",
      '<div class="col-12"><div class="alert alert-warning mb-0">The charts could not be loaded.</div></div>');
    console.warn(err);
  });
}

export function emptyNote(id, text) {
  const canvas = document.getElementById(id);
  if (!canvas) return;
  const note = document.createElement("div");
  note.className = "text-body-secondary small d-flex h-100 align-items-center justify-content-center";
  note.textContent = text;
  canvas.replaceWith(note);
}

// Histogram of values into about `bins` equal-width bins: {labels, counts}.
export function histogram(values, bins) {
  if (!values.length) return { labels: [], counts: [] };
  const min = Math.min(...values);
  const max = Math.max(...values);
  const n = Math.max(1, Math.min(bins, Math.ceil(Math.sqrt(values.length)) + 2));
  const width = (max - min) / n || 1;
  const counts = new Array(n).fill(0);
  values.forEach((v) => { counts[Math.min(n - 1, Math.floor((v - min) / width))] += 1; });
  // Enough decimals that neighbouring bin centres read differently.
  const digits = width >= 1 ? 1 : Math.min(4, Math.ceil(-Math.log10(width)) + 1);
  const labels = counts.map((_, i) => (min + (i + 0.5) * width).toFixed(digits));
  return { labels, counts };
}

// A select with data-autosubmit submits its form on change.
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
});
