// The Live page: start a session, follow it (preview with boxes, ids and zones, the
// figures, recent events), stop it, open its run. Status comes from polling the session's
// API; the preview is the JPEG the camera machine stores with it about twice a second.
import { ApiError, post } from "../webapp/api.js";
import { isFinished, jobUrl, pollJob } from "../webapp/jobs.js";
import { $, el, fmt, showErrors } from "../webapp/dom.js";
import { animalBoxes, fitScale, latencyText, zoneShapes } from "./live_overlay.js";

const root = $("live-root");
const canvas = $("live-canvas");
const ctx = canvas.getContext("2d");
let poller = null;
let current = null;
let drawn = "";

function drawZones(zones, scale) {
  ctx.lineWidth = 2;
  ctx.strokeStyle = "rgba(255, 235, 59, 0.9)";
  ctx.fillStyle = "rgba(255, 235, 59, 0.9)";
  ctx.font = "13px sans-serif";
  zoneShapes(zones, scale).forEach((z) => {
    ctx.beginPath();
    let label = [0, 0];
    if (z.kind === "rect") {
      ctx.rect(z.x, z.y, z.w, z.h);
      label = [z.x + 4, z.y + 16];
    } else if (z.kind === "circle") {
      ctx.arc(z.cx, z.cy, z.r, 0, 2 * Math.PI);
      label = [z.cx - z.r + 4, z.cy];
    } else {
      z.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
      label = z.points.length ? [z.points[0][0] + 4, z.points[0][1] + 16] : label;
    }
    ctx.stroke();
    ctx.fillText(z.name, label[0], label[1]);
  });
}

function drawBoxes(animals, scale) {
  ctx.lineWidth = 3;
  ctx.font = "bold 15px sans-serif";
  animalBoxes(animals, scale).forEach((b) => {
    ctx.strokeStyle = b.colour;
    ctx.fillStyle = b.colour;
    ctx.strokeRect(b.x, b.y, b.w, b.h);
    ctx.fillText(b.label, b.x, Math.max(14, b.y - 4));
  });
}

function drawState(session) {
  const state = session.state || {};
  const size = state.size || [canvas.width, canvas.height];
  const key = `${session.id}:${state.frame}`;
  if (key === drawn) return;
  drawn = key;
  canvas.width = 640;
  canvas.height = Math.round(640 * size[1] / size[0]);
  const scale = fitScale(size, canvas.width);
  const overlay = () => {
    drawZones((session.setup || {}).zones, scale);
    drawBoxes(state.animals, scale);
    canvas.dataset.frame = String(state.frame ?? "");
  };
  if (state.preview) {
    const image = new Image();
    image.onload = () => {
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
      overlay();
    };
    image.src = `data:image/jpeg;base64,${state.preview}`;
  } else {
    ctx.fillStyle = "#222";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    overlay();
  }
}

function showFigures(session) {
  const state = session.state || {};
  const summary = session.summary || {};
  $("live-frame").textContent = summary.frames_recorded ?? state.frame ?? "—";
  $("live-latency").textContent = latencyText(summary.latency_ms || state.latency_ms);
  const processed = summary.frames_processed ?? state.frames_processed;
  const dropped = summary.frames_dropped ?? state.frames_dropped;
  $("live-dropped").textContent = processed === undefined ? "—" : `${processed} / ${dropped}`;
  $("live-events-count").textContent = summary.events ?? state.events ?? "—";
  $("live-safe").classList.toggle("d-none", !state.safe_state || isFinished(session));
  const body = $("live-animals-table").querySelector("tbody");
  body.replaceChildren(...(state.animals || []).map((a) => el("tr", {},
    el("td", { text: `#${a.animal}` }),
    el("td", { text: a.present ? (a.zones.join(", ") || "—") : "no data" }),
    el("td", { text: fmt(a.speed, 1) }),
    el("td", { text: a.box ? a.box.map((v) => v.toFixed(0)).join(", ") : "—" }),
  )));
  const events = $("live-events");
  events.replaceChildren(...(state.recent_events || []).slice().reverse().map((e) => el("li", {
    class: `live-event kind-${e.kind}`,
    text: `${e.kind}${e.zone ? ` ${e.zone}` : ""}${e.animal ? ` · #${e.animal}` : ""} · frame ${e.frame} · ${e.time_s.toFixed(2)} s`,
  })));
}

function show(session) {
  current = session;
  $("live-id").textContent = `#${session.id}`;
  const badge = $("live-status");
  badge.textContent = session.status_display;
  badge.className = `badge run-status status-${session.status}`;
  $("live-message").textContent = session.error || session.message || "";
  const stop = $("live-stop");
  if (stop) stop.disabled = isFinished(session);
  drawState(session);
  showFigures(session);
  const runLink = $("live-run-link");
  // The run is built from the recording once the session stopped: linked when it is done.
  const runReady = Boolean(session.run_url) && isFinished(session);
  runLink.classList.toggle("d-none", !runReady);
  if (session.run_url) runLink.href = session.run_url;
  const eventsLink = $("live-events-link");
  eventsLink.classList.toggle("d-none", !session.events_url);
  if (session.events_url) eventsLink.href = session.events_url;
}

function follow(id) {
  if (poller) poller.stop();
  poller = pollJob(jobUrl(root.dataset.detailTemplate, id), {
    onUpdate: show, onDone: show, intervalMs: 500,
  });
}

function readForm() {
  let setup;
  const text = $("live-setup").value.trim();
  try {
    setup = text ? JSON.parse(text) : {};
  } catch (error) {
    throw new ApiError(400, { setup: [`Not JSON: ${error.message}`] });
  }
  const params = { start_on_detection: $("live-wait").checked };
  if ($("live-duration").value) params.duration_s = Number($("live-duration").value);
  if ($("live-imgsz").value) params.imgsz = Number($("live-imgsz").value);
  return {
    model: Number($("live-model").value),
    source: $("live-source").value.trim(),
    n_animals: Number($("live-animals").value || 1),
    setup,
    params,
  };
}

function init() {
  const form = $("live-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const errors = $("live-errors");
      errors.replaceChildren();
      $("live-start").disabled = true;
      try {
        const session = await post(root.dataset.startUrl, readForm());
        drawn = "";
        show(session);
        follow(session.id);
      } catch (error) {
        showErrors(errors, error);
      } finally {
        $("live-start").disabled = false;
      }
    });
  }
  const stop = $("live-stop");
  if (stop) {
    stop.addEventListener("click", async () => {
      if (!current) return;
      stop.disabled = true;
      try {
        show(await post(jobUrl(root.dataset.stopTemplate, current.id), {}));
      } catch (error) {
        showErrors($("live-errors") || el("ul"), error);
      }
    });
  }
  const wanted = new URLSearchParams(window.location.search).get("session") || root.dataset.follow;
  if (wanted) follow(wanted);
}

init();
