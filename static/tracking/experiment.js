// Experiment page: subjects saved as they are typed, CSV import, bulk template apply,
// project analysis settings, the one-row-per-animal results and the group summary.
(function () {
  "use strict";
  const root = document.getElementById("experiment");
  if (!root) return;
  const B = window.MTBehavior;
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
      stateCell.replaceChildren(B.el("span", { class: "spinner-border spinner-border-sm text-secondary" }));
      try {
        await B.put(tr.dataset.subjectUrl, body);
        stateCell.replaceChildren(B.el("i", { class: "bi bi-check2 text-success", title: "Saved" }));
        tr.dataset.saved = "1";
        loadResults();
      } catch (err) {
        stateCell.replaceChildren(B.el("i", { class: "bi bi-exclamation-triangle text-danger", title: err instanceof B.ApiError ? err.lines().join(" ") : String(err) }));
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
        await B.put(cell.dataset.runUrl, { run: select.value ? Number(select.value) : null });
        window.location.reload(); // the animal rows follow the run's animal count
      } catch (err) {
        cell.querySelector(".run-how").textContent = err instanceof B.ApiError ? err.lines().join(" ") : String(err);
      }
    });
  });

  const importForm = $("subject-import-form");
  if (importForm) importForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!$("subject-csv").files.length) return;
    try {
      const result = await B.postForm(root.dataset.importUrl, new FormData(importForm));
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
      B.showErrors($("subject-errors"), err);
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
      await B.post(option.dataset.applyUrl, { videos: ids });
      $("bulk-status").textContent = `Applied to ${ids.length} video(s).`;
      window.location.reload();
    } catch (err) {
      $("bulk-status").textContent = err instanceof B.ApiError ? err.lines().join(" ") : String(err);
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
      await B.put(root.dataset.settingsUrl, body);
      $("settings-errors").replaceChildren();
      $("settings-status").textContent = "Saved; the results below use them.";
      loadResults();
    } catch (err) {
      $("settings-status").textContent = "";
      B.showErrors($("settings-errors"), err);
    }
  });

  // --- results --------------------------------------------------------------------------
  function query() {
    const q = new URLSearchParams();
    if ($("by-bin").checked) q.set("by_bin", "true");
    if ($("with-freezing").checked) q.set("freezing", "true");
    return q;
  }

  function value(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
    return String(v);
  }

  function renderTable(data) {
    const table = $("results-table");
    const head = B.el("tr");
    data.columns.forEach((c) => head.append(B.el("th", { text: c.replace(/^zone:/, "").replace(/:/g, " · ") , title: c })));
    table.querySelector("thead").replaceChildren(head);
    const body = table.querySelector("tbody");
    body.replaceChildren();
    data.rows.forEach((r) => {
      const tr = B.el("tr");
      data.columns.forEach((c) => tr.append(B.el("td", { class: typeof r[c] === "number" ? "text-end" : "", text: value(r[c]) })));
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
    data.measures.forEach((m) => select.append(B.el("option", { value: m, text: m })));
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
      const tr = B.el("tr");
      tr.append(B.el("td", { text: s.group || "(no group)" }));
      if (experiment.by_bin) tr.append(B.el("td", { text: value(s.bin) }));
      tr.append(B.el("td", { class: "text-end", text: String(s.n) }),
        B.el("td", { class: "text-end", text: value(s.mean) }),
        B.el("td", { class: "text-end", text: value(s.sd) }),
        B.el("td", { class: "text-end", text: value(s.sem) }));
      body.append(tr);
    });
    const q = query();
    q.set("measure", measure);
    q.set("kind", document.querySelector("input[name=plot-kind]:checked").value);
    q.set("_", String(version));
    plot.src = `${root.dataset.plotUrl}?${q}`;
    plot.classList.remove("d-none");
  }

  async function loadResults() {
    const q = query();
    $("download-csv").href = `${root.dataset.csvUrl}?${q}`;
    $("download-xlsx").href = `${root.dataset.xlsxUrl}?${q}`;
    try {
      experiment = await B.get(`${root.dataset.experimentUrl}?${q}`);
      version += 1;
      $("results-errors").replaceChildren();
      renderTable(experiment);
      renderMeasures(experiment);
      renderSummary();
      $("results-table").dataset.ready = "1";
    } catch (err) {
      experiment = null;
      B.showErrors($("results-errors"), err);
    }
  }

  $("by-bin").addEventListener("change", loadResults);
  $("with-freezing").addEventListener("change", loadResults);
  $("summary-measure").addEventListener("change", renderSummary);
  document.querySelectorAll("input[name=plot-kind]").forEach((r) => r.addEventListener("change", renderSummary));
  loadResults();
})();
