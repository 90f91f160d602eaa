// The tracking run page: live progress, then the video with each animal's box, id and
// trail drawn over it from the stored trajectory (frame-accurate: the frame shown is found
// from the video's media time and the container timestamps), the per-animal timeline, the
// trust figures, suspected swaps, identity-swap edits and the annotated-MP4 render.
import { ApiError, get, post } from "../webapp/api.js";
import { el } from "../webapp/dom.js";
import { ACTIVE, pollJob, setProgress } from "../webapp/jobs.js";

function initRunPage() {
  const page = document.getElementById("run-page");
  if (!page) return;
  const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
    "#808000", "#ffd8b1", "#000075", "#a9a9a9", "#000000"];
  const TRAIL_S = 1.0;
  const canWrite = page.dataset.canWrite === "1";
  let track = null;
  let current = 0;

  // The run's API: GET, or POST with an optional JSON body.
  function api(url, options) {
    const o = options || {};
    return o.method === "POST" ? post(url, o.body) : get(url);
  }
  const reason = (e) => (e instanceof ApiError ? e.lines().join(" ") : e.message);

  // --- progress while queued/running -------------------------------------------------
  const bar = document.getElementById("run-progress");
  setProgress(bar, bar.dataset.progress);
  function showRun(run) {
    document.getElementById("run-status").textContent = run.status_display;
    document.getElementById("run-message").textContent = run.message;
    document.getElementById("run-frames").textContent = run.frames_done;
    document.getElementById("run-frames-total").textContent = run.frames_total;
    setProgress(bar, run.progress);
    const err = document.getElementById("run-error");
    err.hidden = !run.error;
    err.querySelector("pre").textContent = run.error || "";
  }
  if (ACTIVE.includes(page.dataset.status)) {
    pollJob(page.dataset.apiUrl, {
      onUpdate: showRun,
      onDone: () => window.location.reload(),
      finished: (run) => run.status !== page.dataset.status && !ACTIVE.includes(run.status),
      intervalMs: 1500, retryMs: 5000,
    });
  }

  // --- the trajectory ------------------------------------------------------------------
  const video = document.getElementById("player");
  const overlay = document.getElementById("overlay");
  const timeline = document.getElementById("timeline");

  function frameAt(mediaTime) {
    // The last frame whose timestamp is <= the media time, with a quarter frame of slack
    // for rounded clocks: seekRow aims at mid-frame, and half a frame of slack made that
    // (rounded up by the media clock) read as the next frame.
    const t = track.time_s;
    const slack = 0.25 / (track.fps || 30);
    let lo = 0, hi = t.length - 1;
    if (mediaTime + slack < t[0]) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (t[mid] <= mediaTime + slack) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  function draw(row) {
    current = row;
    const ctx = overlay.getContext("2d");
    const w = video.clientWidth, h = video.clientHeight;
    if (overlay.width !== w || overlay.height !== h) { overlay.width = w; overlay.height = h; }
    ctx.clearRect(0, 0, w, h);
    if (!track || !track.width) return;
    // The video keeps its aspect ratio inside the element: letterbox offsets.
    const scale = Math.min(w / track.width, h / track.height);
    const ox = (w - track.width * scale) / 2, oy = (h - track.height * scale) / 2;
    const trails = document.getElementById("show-trails").checked;
    const trailRows = Math.max(1, Math.round(TRAIL_S * (track.fps || 30)));
    track.animals.forEach(function (a, i) {
      const color = COLORS[i % COLORS.length];
      if (trails) {
        ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.globalAlpha = 0.8; ctx.beginPath();
        let started = false;
        for (let r = Math.max(0, row - trailRows); r <= row; r++) {
          const b = a.boxes[r];
          if (!b) { started = false; continue; }
          const x = ox + scale * (b[0] + b[2]) / 2, y = oy + scale * (b[1] + b[3]) / 2;
          if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
        }
        ctx.stroke(); ctx.globalAlpha = 1;
      }
      const b = a.boxes[row];
      if (!b) return;
      ctx.strokeStyle = color;
      ctx.lineWidth = a.status[row] === 1 ? 3 : 1.5;
      ctx.setLineDash(a.status[row] === 2 ? [6, 4] : []);
      ctx.strokeRect(ox + scale * b[0], oy + scale * b[1], scale * (b[2] - b[0]), scale * (b[3] - b[1]));
      ctx.setLineDash([]);
      const label = String(a.animal);
      ctx.font = "bold 14px sans-serif";
      const tw = ctx.measureText(label).width + 8;
      ctx.fillStyle = color;
      ctx.fillRect(ox + scale * b[0], oy + scale * b[1] - 18, tw, 18);
      ctx.fillStyle = "#fff";
      ctx.fillText(label, ox + scale * b[0] + 4, oy + scale * b[1] - 4);
    });
    document.getElementById("frame-now").textContent = track.frames[row];
    document.getElementById("time-now").textContent = track.time_s[row].toFixed(2);
    drawTimelineCursor(row);
  }

  function onFrame(now, meta) {
    if (track) draw(frameAt(meta.mediaTime));
    video.requestVideoFrameCallback(onFrame);
  }

  let timelineImage = null;
  function drawTimeline() {
    const n = track.animals.length, rows = track.frames.length;
    const rowH = 14, w = timeline.clientWidth || 600;
    timeline.width = w; timeline.height = n * rowH + 6;
    const ctx = timeline.getContext("2d");
    ctx.fillStyle = "#f1f3f5"; ctx.fillRect(0, 0, w, timeline.height);
    track.animals.forEach(function (a, i) {
      for (let px = 0; px < w; px++) {
        const r0 = Math.floor(px * rows / w), r1 = Math.max(r0 + 1, Math.floor((px + 1) * rows / w));
        let det = 0, interp = 0, conf = 0;
        for (let r = r0; r < r1; r++) {
          if (a.status[r] === 1) { det++; conf += a.confidence[r] || 0; } else if (a.status[r] === 2) interp++;
        }
        const span = r1 - r0;
        if (det * 2 >= span) {
          const c = conf / det;
          ctx.fillStyle = "rgba(25, 135, 84," + (0.35 + 0.65 * c).toFixed(2) + ")";
        } else if ((det + interp) * 2 >= span) ctx.fillStyle = "#ffc107";
        else ctx.fillStyle = "#dc3545";
        ctx.fillRect(px, i * rowH + 2, 1, rowH - 3);
      }
    });
    ctx.fillStyle = "rgba(111, 66, 193, 0.8)";
    (track.suspected_swaps || []).forEach(function (s) {
      const x0 = Math.floor(s.first_frame * w / rows), x1 = Math.ceil((s.last_frame + 1) * w / rows);
      ctx.fillRect(x0, timeline.height - 4, Math.max(2, x1 - x0), 4);
    });
    timelineImage = ctx.getImageData(0, 0, timeline.width, timeline.height);
  }
  function drawTimelineCursor(row) {
    if (!timelineImage) return;
    const ctx = timeline.getContext("2d");
    ctx.putImageData(timelineImage, 0, 0);
    const x = Math.round(row * timeline.width / track.frames.length);
    ctx.fillStyle = "#000"; ctx.fillRect(x, 0, 2, timeline.height);
  }
  function seekRow(row) {
    row = Math.max(0, Math.min(track.frames.length - 1, row));
    // Aim at the middle of the frame so the decoder shows exactly this one.
    const next = row + 1 < track.time_s.length ? track.time_s[row + 1] : track.time_s[row] + 1 / (track.fps || 30);
    video.pause();
    video.currentTime = (track.time_s[row] + next) / 2;
    draw(row);
  }
  timeline.addEventListener("click", function (event) {
    const rect = timeline.getBoundingClientRect();
    seekRow(Math.floor((event.clientX - rect.left) / rect.width * track.frames.length));
  });

  function fmtPct(v) { return v === null || v === undefined ? "–" : Number(v).toFixed(1) + "%"; }
  function trustTable(run) {
    const body = document.querySelector("#trust-table tbody");
    body.textContent = "";
    const animals = (run.trust && run.trust.animals) || [];
    animals.forEach(function (t) {
      const tr = el("tr");
      [t.animal, fmtPct(t.detected_pct), fmtPct(t.interpolated_pct), fmtPct(t.missing_pct),
        (t.longest_gap_s || 0).toFixed(2) + " s",
        t.mean_confidence === null || t.mean_confidence === undefined ? "–" : Number(t.mean_confidence).toFixed(2),
        t.outliers].forEach(function (v) { tr.appendChild(el("td", {}, String(v))); });
      body.appendChild(tr);
    });
    const v = run.trust || {};
    document.getElementById("trust-note").textContent = run.failed_at_frame !== null && run.failed_at_frame !== undefined
      ? "The video stopped decoding at frame " + run.failed_at_frame + ": later frames are not tracked."
      : (v.suspected_swaps ? v.suspected_swaps + " interval(s) where animals touched: check them for identity swaps." : "No contact between animals to review.");
    document.getElementById("identity-note").textContent = identityNote((run.timing || {}).identity);
  }

  // How identities were linked across contacts: by motion, and by look where the animals
  // could be told apart (tracking.engine.appearance).
  function identityNote(looks) {
    if (!looks) return "";
    if (looks.used) {
      return "Identities follow motion and look: the animals were told apart on " +
        (100 * looks.accuracy).toFixed(0) + "% of frames held out from frames " +
        looks.fitted_on_frames[0] + "–" + looks.fitted_on_frames[1] + ".";
    }
    if (looks.reason === "one animal") return "";
    return "Identities follow motion only (" + looks.reason +
      (looks.accuracy !== undefined ? ": told apart on " + (100 * looks.accuracy).toFixed(0) + "% of held-out frames" : "") + ").";
  }

  function swapList(run) {
    const list = document.getElementById("swap-list");
    list.textContent = "";
    const swaps = run.suspected_swaps || [];
    document.getElementById("swap-count").textContent = swaps.length;
    swaps.slice(0, 300).forEach(function (s) {
      const b = el("button", { type: "button", class: "list-group-item list-group-item-action swap-item" },
        "Frames " + s.first_frame + "–" + s.last_frame + " (" + Number(s.first_time_s).toFixed(1) + " s): animals " +
        s.animal_a + " & " + s.animal_b);
      b.addEventListener("click", function () { seekRow(s.first_frame); });
      list.appendChild(b);
    });
  }

  function editList() {
    if (!canWrite) return;
    api(page.dataset.editsUrl).then(function (edits) {
      const list = document.getElementById("edit-list");
      list.textContent = "";
      edits.forEach(function (e) {
        const li = el("li", { class: "list-group-item d-flex align-items-center gap-2 px-0" });
        li.appendChild(el("span", { class: e.reverted_at ? "text-decoration-line-through text-body-secondary" : "" },
          "Swapped " + e.animal_a + " ↔ " + e.animal_b + " from frame " + e.from_frame + (e.to_frame !== null ? " to " + e.to_frame : "")));
        if (!e.reverted_at) {
          const undo = el("button", { type: "button", class: "btn btn-sm btn-link ms-auto p-0 edit-revert" }, "Undo");
          undo.addEventListener("click", function () {
            api(page.dataset.revertTemplate.replace("/0/", "/" + e.id + "/"), { method: "POST" }).then(reloadTrack);
          });
          li.appendChild(undo);
        }
        list.appendChild(li);
      });
    });
  }

  function drawTrajectory() {
    const img = document.getElementById("trajectory-bg");
    const canvas = document.getElementById("trajectory");
    const paint = function () {
      const w = canvas.clientWidth || 640;
      const h = Math.round(w * track.height / track.width);
      canvas.width = w; canvas.height = h;
      const ctx = canvas.getContext("2d");
      if (img.complete && img.naturalWidth) ctx.drawImage(img, 0, 0, w, h);
      else { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h); }
      const s = w / track.width;
      track.animals.forEach(function (a, i) {
        ctx.strokeStyle = COLORS[i % COLORS.length]; ctx.lineWidth = 1.2; ctx.globalAlpha = 0.85;
        ctx.beginPath();
        let started = false;
        a.boxes.forEach(function (b) {
          if (!b) { started = false; return; }
          const x = s * (b[0] + b[2]) / 2, y = s * (b[1] + b[3]) / 2;
          if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
        });
        ctx.stroke();
      });
      ctx.globalAlpha = 1;
    };
    if (img.getAttribute("src") && !img.complete) img.addEventListener("load", paint, { once: true });
    paint();
  }

  function legend() {
    const box = document.getElementById("legend");
    box.textContent = "";
    track.animals.forEach(function (a, i) {
      const chip = el("span", { class: "legend-chip" }, "Animal " + a.animal);
      chip.dataset.color = COLORS[i % COLORS.length];
      chip.style.borderColor = chip.dataset.color;
      box.appendChild(chip);
    });
  }

  function reloadTrack() {
    return Promise.all([api(page.dataset.trackUrl), api(page.dataset.apiUrl)]).then(function ([t, run]) {
      track = t;
      page.dataset.trackLoaded = "1";
      page.dataset.edits = String(t.edits);
      legend(); drawTimeline(); trustTable(run); swapList(run); drawTrajectory(); editList();
      draw(current);
    });
  }

  if (!document.getElementById("results").hidden) {
    reloadTrack().then(function () {
      if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(onFrame);
      else video.addEventListener("timeupdate", function () { draw(frameAt(video.currentTime)); });
      video.addEventListener("seeked", function () { draw(frameAt(video.currentTime)); });
      window.addEventListener("resize", function () { drawTimeline(); drawTrajectory(); draw(current); });
      document.getElementById("show-trails").addEventListener("change", function () { draw(current); });
      document.getElementById("step-back").addEventListener("click", function () { step(-1); });
      document.getElementById("step-forward").addEventListener("click", function () { step(1); });
      document.addEventListener("keydown", onStepKey);
    });
  }

  // Frame-by-frame stepping, as in the labeling editor: "," back, "." forward.
  function step(delta) {
    if (track) seekRow(current + delta);
  }
  function onStepKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].indexOf(target.tagName) >= 0)) return;
    if (event.key === ",") { event.preventDefault(); step(-1); }
    else if (event.key === ".") { event.preventDefault(); step(1); }
  }

  const swapForm = document.getElementById("swap-form");
  if (swapForm) {
    swapForm.addEventListener("submit", function (event) {
      event.preventDefault();
      const error = document.getElementById("swap-error");
      error.hidden = true;
      const body = { animal_a: Number(document.getElementById("swap-a").value),
        animal_b: Number(document.getElementById("swap-b").value), from_frame: track.frames[current] };
      api(page.dataset.editsUrl, { method: "POST", body: body }).then(reloadTrack)
        .catch(function (e) { error.textContent = reason(e); error.hidden = false; });
    });
  }

  const renderButton = document.getElementById("render-start");
  const renderStatus = document.getElementById("render-status");
  function showRenders(renders) {
    const latest = renders[0];
    if (!latest) return;
    renderStatus.textContent = "";
    if (latest.ready) {
      const a = el("a", { href: page.dataset.renderDownloadTemplate.replace("/0/", "/" + latest.id + "/"), id: "render-download" },
        "Download the annotated MP4");
      renderStatus.appendChild(a);
    } else {
      renderStatus.textContent = "Annotated MP4: " + latest.status_display + (latest.message ? " · " + latest.message : "") +
        (latest.error ? " · " + latest.error : "");
      if (["queued", "running"].indexOf(latest.status) >= 0) window.setTimeout(pollRenders, 2000);
    }
  }
  function pollRenders() { api(page.dataset.rendersUrl).then(showRenders); }
  if (!document.getElementById("results").hidden) pollRenders();
  if (renderButton) {
    renderButton.addEventListener("click", function () {
      api(page.dataset.rendersUrl, { method: "POST" }).then(function (r) { showRenders([r]); })
        .catch(function (e) { renderStatus.textContent = reason(e); });
    });
  }
}

initRunPage();
