// A run's analysis: the form's parameters go to the JSON API as a query string; measures
// per animal and zone, time bins, and the heatmap/trajectory PNGs (same parameters).
import * as api from "../webapp/api.js";
import { download, el, fmt, showErrors } from "../webapp/dom.js";

function initAnalysis() {
  const root = document.getElementById("analysis");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const form = $("analysis-form");
  let last = null;

  const IMAGE_KEYS = ["cell_size", "sigma_cells"];
  const FREEZING_KEYS = ["freezing", "freeze_threshold"];

  // The analysis parameters; the heatmap's own (cell, blur) go only to the images.
  function query() {
    const q = new URLSearchParams();
    new FormData(form).forEach((value, key) => {
      if (key !== "count_initial_entry" && !IMAGE_KEYS.includes(key) && !FREEZING_KEYS.includes(key)) {
        q.set(key, value);
      }
    });
    q.set("count_initial_entry", $("p-count_initial_entry").checked ? "true" : "false");
    if ($("p-freezing").checked) {
      q.set("freezing", "true");
      q.set("freeze_threshold", $("p-freeze_threshold").value);
    }
    return q;
  }

  function imageQuery(q, animal) {
    const iq = new URLSearchParams(q);
    FREEZING_KEYS.forEach((k) => iq.delete(k));
    IMAGE_KEYS.forEach((k) => { if ($(`p-${k}`).value !== "") iq.set(k, $(`p-${k}`).value); });
    iq.set("animal", animal);
    return iq;
  }

  function metric(key, label, value, unit) {
    const card = el("div", { class: "card card-body py-2 px-3", "data-metric": key });
    card.append(el("div", { class: "small text-body-secondary", text: label }),
      el("div", { class: "fw-semibold", text: value + (unit && value !== "—" ? ` ${unit}` : "") }));
    return card;
  }

  function cell(text, cls) { return el("td", { class: cls || "text-end", text }); }

  // Every measure per bin: locomotion, then each zone's.
  function binsTable(table, animal, units) {
    const zones = animal.bins.length ? Object.keys(animal.bins[0].zones) : [];
    const freezing = animal.bins.length && animal.bins[0].time_freezing_s !== undefined;
    const cols = [
      ["Start (s)", (b) => fmt(b.start_s, 1)], ["End (s)", (b) => fmt(b.end_s, 1)],
      [`Distance (${units})`, (b) => fmt(b.distance, 1)],
      [`Mean speed (${units}/s)`, (b) => fmt(b.mean_speed, 2)],
      [`Max speed (${units}/s)`, (b) => fmt(b.max_speed, 2)],
      ["Moving (s)", (b) => fmt(b.time_moving_s, 1)], ["Immobile (s)", (b) => fmt(b.time_immobile_s, 1)],
    ];
    if (freezing) cols.push(["Freezing (s)", (b) => fmt(b.time_freezing_s, 1)]);
    cols.push(["Tracked (s)", (b) => fmt(b.tracked_time_s, 1)]);
    zones.forEach((z) => {
      cols.push([`${z} (s)`, (b) => fmt(b.zones[z].time_s, 1)], [`${z} %`, (b) => fmt(b.zones[z].percent, 1)],
        [`${z} entries`, (b) => String(b.zones[z].entries)], [`${z} exits`, (b) => String(b.zones[z].exits)],
        [`${z} latency (s)`, (b) => fmt(b.zones[z].latency_s, 2)],
        [`${z} distance (${units})`, (b) => fmt(b.zones[z].distance, 1)]);
    });
    const head = el("tr");
    head.append(el("th", { class: "text-end", text: "Bin" }));
    cols.forEach(([h]) => head.append(el("th", { class: "text-end", text: h })));
    table.querySelector("thead").replaceChildren(head);
    const body = table.querySelector("tbody");
    body.replaceChildren();
    animal.bins.forEach((b, i) => {
      const tr = el("tr");
      tr.append(cell(String(i + 1)));
      cols.forEach(([, f]) => tr.append(cell(f(b))));
      body.append(tr);
    });
  }

  function boutsTable(node, animal) {
    const bouts = animal.bouts || [];
    node.querySelector(".bouts-count").textContent = `(${bouts.length})`;
    const body = node.querySelector(".bout-results tbody");
    body.replaceChildren();
    bouts.forEach((b) => {
      const cut = [b.starts_at_window_start ? "start" : "", b.ends_at_window_end ? "end" : ""].filter(Boolean).join(", ");
      const tr = el("tr", { "data-zone": b.zone });
      tr.append(el("td", { text: b.zone }), cell(fmt(b.entry_s, 2)), cell(fmt(b.exit_s, 2)),
        cell(fmt(b.duration_s, 2)), el("td", { class: "small text-body-secondary", text: cut }));
      body.append(tr);
    });
  }

  function render(data, q) {
    const holder = $("animals");
    holder.replaceChildren();
    const u = data.units;
    data.animals.forEach((a) => {
      const node = $("animal-template").content.firstElementChild.cloneNode(true);
      node.dataset.animal = a.animal;
      node.querySelector(".animal-title").textContent = `Animal ${a.animal}`;
      node.querySelector(".animal-note").textContent =
        `${fmt(a.tracked_time_s, 1)} s tracked of ${fmt(a.analysed_time_s, 1)} s analysed · distances in ${u}`;
      const metrics = node.querySelector(".animal-metrics");
      metrics.append(
        metric("distance", "Distance", fmt(a.distance, 1), u),
        metric("mean_speed", "Mean speed", fmt(a.mean_speed, 2), `${u}/s`),
        metric("max_speed", "Max speed", fmt(a.max_speed, 2), `${u}/s`),
        metric("time_moving_s", "Moving", fmt(a.time_moving_s, 1), "s"),
        metric("time_immobile_s", "Immobile", fmt(a.time_immobile_s, 1), "s"),
        metric("untracked_time_s", "Untracked", fmt(a.untracked_time_s, 1), "s"),
        metric("time_unclassified_s", "Unclassified (no speed)", fmt(a.time_unclassified_s, 1), "s"),
      );
      if (a.time_freezing_s !== undefined) {
        metrics.append(metric("time_freezing_s", "Freezing", fmt(a.time_freezing_s, 1), "s"));
      }
      const body = node.querySelector(".zone-results tbody");
      const names = Object.keys(a.zones);
      names.forEach((name) => {
        const z = a.zones[name];
        const tr = el("tr", { "data-zone": name });
        tr.append(el("td", { text: name }), cell(fmt(z.time_s, 1)), cell(fmt(z.percent, 1)),
          cell(String(z.entries)), cell(String(z.exits)), cell(fmt(z.latency_s, 2)),
          cell(`${fmt(z.distance, 1)} ${u}`), cell(fmt(z.mean_speed, 2)));
        body.append(tr);
      });
      node.querySelector(".no-zones").classList.toggle("d-none", names.length > 0);
      if (a.bins.length) {
        node.querySelector(".bins-block").classList.remove("d-none");
        binsTable(node.querySelector(".bin-results"), a, u);
      }
      boutsTable(node, a);
      const iq = imageQuery(q, a.animal);
      node.querySelector(".heatmap-image").src = `${root.dataset.heatmapUrl}?${iq}`;
      node.querySelector(".trajectory-image").src = `${root.dataset.trajectoryUrl}?${iq}`;
      holder.append(node);
    });
    const p = data.parameters || {};
    $("analysis-status").textContent = `Window ${fmt(p.window_start_s, 2)}–${fmt(p.window_end_s, 2)} s` +
      ` of ${fmt(p.recording_end_s, 2)} s · ${data.fps ? data.fps.toFixed(2) + " fps" : ""}` +
      ` · units ${data.units}${data.calibration && data.calibration.px_per_cm ? ` (${data.calibration.px_per_cm.toFixed(3)} px/cm)` : ""}` +
      ` · membership ${p.membership}` +
      ` · smoothing ${p.smoothing ? `${p.smoothing} (${p.smoothing_window} frames)` : "off"}` +
      ` · freezing ${p.freezing && p.freezing.enabled ? `below ${p.freezing.freeze_threshold} of the box` : "off"}`;
    $("analysis-status").dataset.ready = "1";
  }

  // --- freezing: measured by a background job, shown when ready --------------------------
  let pollTimer = null;
  const ENDED = ["failed", "cancelled", "timed_out"];

  function showFreezing(job, autoStart) {
    clearTimeout(pollTimer);
    const box = $("freezing-status");
    if (!job) { box.classList.add("d-none"); return; }
    const canStart = root.dataset.canStart === "1";
    const text = $("freezing-text");
    const progress = $("freezing-progress");
    box.classList.remove("d-none");
    box.dataset.status = job.status;
    ["freezing-start", "freezing-cancel", "freezing-progress"].forEach((id) => $(id).classList.add("d-none"));
    if (job.status === "none" || ENDED.includes(job.status)) {
      if (job.status === "none" && canStart && autoStart) { startFreezing(); return; }
      text.textContent = job.status === "none"
        ? "is measured in the background (the whole video is decoded); not measured yet for this run."
        : `The last measurement ${job.status.replace("_", " ")}: ${job.error || job.message || ""}`;
      if (canStart) $("freezing-start").classList.remove("d-none");
      else text.textContent += " An annotator or the owner can start it; the result is then shown here.";
    } else if (job.status === "succeeded") {
      text.textContent = `measured in the background (job #${job.id}); shown below.`;
    } else {
      const pct = Math.round((job.progress || 0) * 100);
      text.textContent = job.status === "queued" ? "Waiting for a worker…" : `Measuring… ${pct} % ${job.message ? `(${job.message})` : ""}`;
      progress.value = job.progress || 0;
      progress.classList.remove("d-none");
      if (canStart) $("freezing-cancel").classList.remove("d-none");
      $("freezing-cancel").dataset.url = job.cancel_url;
      pollTimer = setTimeout(() => pollFreezing(job.url), 1000);
    }
  }

  async function pollFreezing(url) {
    try {
      const job = await api.get(url);
      if (job.status === "succeeded") run(); // the measures now include freezing
      else showFreezing(job, false);
    } catch (err) {
      $("freezing-text").textContent = err instanceof api.ApiError ? err.lines().join(" ") : String(err);
    }
  }

  async function startFreezing() {
    try {
      showFreezing(await api.post(root.dataset.freezingUrl, {}), false);
    } catch (err) {
      $("freezing-text").textContent = err instanceof api.ApiError ? err.lines().join(" ") : String(err);
    }
  }

  $("freezing-start").addEventListener("click", startFreezing);
  $("freezing-cancel").addEventListener("click", async () => {
    try { showFreezing(await api.post($("freezing-cancel").dataset.url), false); } catch (err) { /* the poll shows it */ }
  });

  // The experiment table (and its CSV/XLSX) with this page's parameters, bins included.
  // Only what differs from the project's settings travels (and bins, always); the arena's
  // membership stays each video's own.
  function experimentLink(q) {
    const eq = new URLSearchParams();
    q.forEach((value, key) => {
      const input = form.elements.namedItem(key);
      const changed = !input || (input.type === "checkbox" ? input.checked !== input.defaultChecked
        : input.tagName === "SELECT" ? !input.selectedOptions[0] || !input.selectedOptions[0].defaultSelected
          : input.value !== input.defaultValue);
      if (key !== "membership" && (changed || key === "bin_s")) eq.set(key, value);
    });
    if (eq.get("bin_s")) eq.set("by_bin", "true");
    const link = $("to-experiment");
    link.href = `${link.dataset.base}?${eq}`;
  }

  async function run() {
    const q = query();
    experimentLink(q);
    $("analysis-status").textContent = "Computing…";
    delete $("analysis-status").dataset.ready;
    try {
      const data = await api.get(`${root.dataset.analysisUrl}?${q}`);
      $("analysis-errors").replaceChildren();
      last = data;
      render(data, q);
      const warnings = $("analysis-warnings");
      warnings.replaceChildren(...(data.warnings || []).map((w) => el("li", { text: w })));
      showFreezing(data.freezing_job || null, true);
    } catch (err) {
      $("analysis-status").textContent = "The analysis could not run with these parameters.";
      showErrors($("analysis-errors"), err);
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  $("analysis-download").addEventListener("click", () => {
    if (last) download(`run-${root.dataset.run}-analysis.json`, JSON.stringify(last, null, 2));
  });
  run();
}

initAnalysis();
