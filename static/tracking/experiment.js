// Experiment page: subjects saved as they are typed, CSV import, bulk template apply,
// project analysis settings, the one-row-per-animal results and the group summary.
import * as api from "../webapp/api.js";
import { el, showErrors } from "../webapp/dom.js";

function initExperiment() {
  const root = document.getElementById("experiment");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  let experiment = null;
  let version = 0; // a new plot URL per load: the same src would not fetch again

  // --- subjects -------------------------------------------------------------------------
  document.querySelectorAll("#subject-table tr[data-video]").forEach((tr) => {
    const inputs = tr.querySelectorAll(".subject-input");
    const stateCell = tr.querySelector(".save-state");
    let timer = null;
    async function save() {
      const body = {};
      inputs.forEach((i) => { body[i.dataset.field] = i.value; });
      stateCell.replaceChildren(el("span", { class: "spinner-border spinner-border-sm text-secondary" }));
      try {
        await api.put(tr.dataset.subjectUrl, body);
        stateCell.replaceChildren(el("i", { class: "bi bi-check2 text-success", title: "Saved" }));
        tr.dataset.saved = "1";
        loadResults();
      } catch (err) {
        stateCell.replaceChildren(el("i", { class: "bi bi-exclamation-triangle text-danger", title: err instanceof api.ApiError ? err.lines().join(" ") : String(err) }));
      }
    }
    inputs.forEach((i) => i.addEventListener("input", () => {
      delete tr.dataset.saved;
      clearTimeout(timer);
      timer = setTimeout(save, 600);
    }));
  });

  // --- which run of each video the table uses ------------------------------------------
  document.querySelectorAll(".run-choice").forEach((select) => {
    select.addEventListener("change", async () => {
      const cell = select.closest(".table-run");
      try {
        await api.put(cell.dataset.runUrl, { run: select.value ? Number(select.value) : null });
        window.location.reload(); // the animal rows follow the run's animal count
      } catch (err) {
        cell.querySelector(".run-how").textContent = err instanceof api.ApiError ? err.lines().join(" ") : String(err);
      }
    });
  });

  const importForm = $("subject-import-form");
  if (importForm) importForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!$("subject-csv").files.length) return;
    try {
      const result = await api.post(root.dataset.importUrl, new FormData(importForm));
      $("subject-errors").replaceChildren();
      const ignored = result.ignored_columns.length ? ` Ignored columns: ${result.ignored_columns.join(", ")}.` : "";
      $("subject-status").textContent = `Imported: ${result.created} new, ${result.updated} updated.${ignored}`;
      result.subjects.forEach((s) => {
        const tr = document.querySelector(`#subject-table tr[data-video="${s.video}"]`);
        if (!tr) return;
        tr.querySelectorAll(".subject-input").forEach((i) => { i.value = s[i.dataset.field]; });
      });
      loadResults();
    } catch (err) {
      $("subject-status").textContent = "";
      showErrors($("subject-errors"), err);
    }
  });

  const checkAll = $("check-all");
  if (checkAll) checkAll.addEventListener("change", () => {
    document.querySelectorAll(".video-check").forEach((c) => { c.checked = checkAll.checked; });
  });
  const bulk = $("bulk-apply");
  if (bulk) bulk.addEventListener("click", async () => {
    const ids = [...document.querySelectorAll(".video-check:checked")].map((c) => Number(c.value));
    if (!ids.length) { $("bulk-status").textContent = "Check the videos first."; return; }
    const option = $("bulk-template").selectedOptions[0];
    try {
      await api.post(option.dataset.applyUrl, { videos: ids });
      $("bulk-status").textContent = `Applied to ${ids.length} video(s).`;
      window.location.reload();
    } catch (err) {
      $("bulk-status").textContent = err instanceof api.ApiError ? err.lines().join(" ") : String(err);
    }
  });

  // --- settings ---------------------------------------------------------------------------
  const settingsForm = $("settings-form");
  settingsForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {};
    new FormData(settingsForm).forEach((value, key) => { body[key] = value === "" ? null : value; });
    body.count_initial_entry = $("s-count_initial_entry").checked;
    try {
      await api.put(root.dataset.settingsUrl, body);
      $("settings-errors").replaceChildren();
      $("settings-status").textContent = "Saved; the results below use them.";
      loadResults();
    } catch (err) {
      $("settings-status").textContent = "";
      showErrors($("settings-errors"), err);
    }
  });

  // --- results --------------------------------------------------------------------------
  // Parameters carried in from the analysis page's link (?start_s=..&bin_s=..): they apply
  // to the table, the group plot and the exports until cleared. Bins have their own input.
  const CARRIED = ["start_s", "end_s", "immobile_speed", "min_immobile_s", "max_gap_s", "smoothing",
    "smoothing_window", "savgol_polyorder", "count_initial_entry", "box_overlap",
    "min_bout_s", "freeze_threshold", "min_freeze_s"];
  const carried = new URLSearchParams();
  const pageQuery = new URLSearchParams(window.location.search);
  CARRIED.forEach((k) => { if (pageQuery.has(k)) carried.set(k, pageQuery.get(k)); });
  if (pageQuery.has("bin_s")) $("r-bin_s").value = pageQuery.get("bin_s");
  if (pageQuery.get("by_bin") === "true") $("by-bin").checked = true;
  if (pageQuery.get("freezing") === "true") $("with-freezing").checked = true;
  if ([...carried.keys()].length) {
    $("carried-params").append(`Parameters from the analysis page: ${[...carried].map(([k, v]) => `${k} = ${v}`).join(", ")} · `,
      el("a", { href: window.location.pathname, text: "use the project's settings" }));
  }

  function query() {
    const q = new URLSearchParams(carried);
    q.set("bin_s", $("r-bin_s").value.trim()); // empty: no bins, whatever is saved
    if ($("by-bin").checked && $("r-bin_s").value.trim()) q.set("by_bin", "true");
    if ($("with-freezing").checked) q.set("freezing", "true");
    return q;
  }

  // The split by bin needs a bin length: otherwise the switch is off, with the reason.
  function syncBins() {
    const none = !$("r-bin_s").value.trim();
    $("by-bin").disabled = none;
    if (none) $("by-bin").checked = false;
    $("by-bin-reason").textContent = none ? "One row per time bin needs a bin length: fill in Bins (s)." : "";
  }

  // Exports link only to what works: the same query as the table just shown.
  function setExports(q, reason) {
    [["download-csv", root.dataset.csvUrl], ["download-xlsx", root.dataset.xlsxUrl]].forEach(([id, url]) => {
      const a = $(id);
      a.href = `${url}?${q}`;
      a.classList.toggle("disabled", Boolean(reason));
      a.setAttribute("aria-disabled", reason ? "true" : "false");
      if (reason) a.setAttribute("tabindex", "-1"); else a.removeAttribute("tabindex");
      a.title = reason || "";
    });
    $("export-reason").textContent = reason ? `Downloads are off: ${reason}` : "";
  }

  function value(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    return String(v);
  }

  function renderTable(data) {
    const table = $("results-table");
    const head = el("tr");
    data.columns.forEach((c) => head.append(el("th", { text: c.replace(/^zone:/, "").replace(/:/g, " · ") , title: c })));
    table.querySelector("thead").replaceChildren(head);
    const body = table.querySelector("tbody");
    body.replaceChildren();
    data.rows.forEach((r) => {
      const tr = el("tr");
      data.columns.forEach((c) => tr.append(el("td", { class: typeof r[c] === "number" ? "text-end" : "", text: value(r[c]) })));
      body.append(tr);
    });
    $("results-empty").classList.toggle("d-none", data.rows.length > 0);
    $("results-note").textContent = data.rows.length
      ? `${data.rows.length} row${data.rows.length === 1 ? "" : "s"} · units ${data.units}` : "";
  }

  function renderMeasures(data) {
    const select = $("summary-measure");
    const current = select.value;
    select.replaceChildren();
    data.measures.forEach((m) => select.append(el("option", { value: m, text: m })));
    if (data.measures.includes(current)) select.value = current;
    else if (data.measures.includes("distance")) select.value = "distance";
  }

  function renderSummary() {
    const body = document.querySelector("#summary-table tbody");
    body.replaceChildren();
    const measure = $("summary-measure").value;
    const plot = $("summary-plot");
    if (!experiment || !measure) { plot.classList.add("d-none"); return; }
    document.querySelectorAll("#summary-table .bin-col").forEach((c) => c.classList.toggle("d-none", !experiment.by_bin));
    experiment.summary.filter((s) => s.measure === measure).forEach((s) => {
      const tr = el("tr");
      tr.append(el("td", { text: s.group || "(no group)" }));
      if (experiment.by_bin) tr.append(el("td", { text: value(s.bin) }));
      tr.append(el("td", { class: "text-end", text: String(s.n) }),
        el("td", { class: "text-end", text: value(s.mean) }),
        el("td", { class: "text-end", text: value(s.sd) }),
        el("td", { class: "text-end", text: value(s.sem) }));
      body.append(tr);
    });
    const q = query();
    q.set("measure", measure);
    q.set("kind", document.querySelector("input[name=plot-kind]:checked").value);
    q.set("_", String(version));
    plot.src = `${root.dataset.plotUrl}?${q}`;
    plot.classList.remove("d-none");
  }

  // --- freezing: background jobs for every table run, then the table ---------------------
  let freezingTimer = null;
  const ENDED = ["failed", "cancelled", "timed_out"];

  // Resolves true when every run's freezing is measured; shows progress meanwhile.
  async function freezingReady(start) {
    clearTimeout(freezingTimer);
    const box = $("freezing-status");
    const url = root.dataset.freezingUrl;
    let jobs = (await api.get(url)).jobs;
    const canStart = root.dataset.canWrite === "1";
    if (start && canStart && jobs.some((j) => j.status === "none" || ENDED.includes(j.status))) {
      jobs = (await api.post(url, {})).jobs;
    }
    const done = jobs.filter((j) => j.status === "succeeded").length;
    if (done === jobs.length) { box.classList.add("d-none"); return true; }
    box.classList.remove("d-none");
    const progress = $("freezing-progress");
    const failed = jobs.filter((j) => ENDED.includes(j.status));
    const waiting = jobs.filter((j) => j.status === "none");
    const mean = jobs.reduce((sum, j) => sum + (j.status === "succeeded" ? 1 : j.progress || 0), 0) / jobs.length;
    progress.value = mean;
    progress.classList.remove("d-none");
    let text = `measured for ${done} of ${jobs.length} video${jobs.length === 1 ? "" : "s"} (in the background; each video is decoded once).`;
    if (failed.length) text += ` Failed: ${failed.map((j) => `run ${j.run}: ${j.error || j.status}`).join("; ")}.`;
    if (waiting.length && !canStart) text += " Not started: an annotator or the owner can start it.";
    $("freezing-text").textContent = text;
    if (jobs.some((j) => j.status === "queued" || j.status === "running")) {
      freezingTimer = setTimeout(() => loadResults(false), 1500);
    }
    return false;
  }

  async function loadResults(startFreezing = true) {
    syncBins();
    const q = query();
    setExports(q, "computing the table…");
    try {
      if ($("with-freezing").checked && !(await freezingReady(startFreezing))) {
        setExports(q, "freezing is still being measured for some videos.");
        return;
      }
      if (!$("with-freezing").checked) $("freezing-status").classList.add("d-none");
      experiment = await api.get(`${root.dataset.experimentUrl}?${q}`);
      version += 1;
      $("results-errors").replaceChildren();
      $("results-warnings").replaceChildren(...(experiment.warnings || []).map((w) => el("li", { text: w })));
      renderTable(experiment);
      renderMeasures(experiment);
      renderSummary();
      setExports(q, experiment.rows.length ? "" : "the table has no rows yet.");
      $("results-table").dataset.ready = "1";
    } catch (err) {
      experiment = null;
      showErrors($("results-errors"), err);
      setExports(q, err instanceof api.ApiError ? err.lines().join(" ") : String(err));
    }
  }

  $("by-bin").addEventListener("change", () => loadResults());
  $("with-freezing").addEventListener("change", () => loadResults());
  let binTimer = null;
  $("r-bin_s").addEventListener("input", () => { clearTimeout(binTimer); binTimer = setTimeout(() => loadResults(), 500); });
  $("summary-measure").addEventListener("change", renderSummary);
  document.querySelectorAll("input[name=plot-kind]").forEach((r) => r.addEventListener("change", renderSummary));
  loadResults();
}

initExperiment();
