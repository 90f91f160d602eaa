// The save status (indicator, conflict and error banners), the side panels (frame info,
// boxes, classes, counts) and how savers report to the page.
import { $ } from "../../webapp/dom.js";
import { api } from "../editor-autosave.js";
import { COLOR_RE, DRAFT_PREFIX, cfg, classById, colorOf, currentFrame, currentSaver, formatCount,
   position, root, savers, state } from "./context.js";
import { highlightSelection, render, select } from "./rendering.js";
import { updateProposalPanel } from "./proposals.js";
import { historyOf } from "./history.js";
import { isTyping } from "./keyboard.js";

// How savers reach the page (see editor-autosave.js).
export const saverEnv = {
  url: cfg.annotationUrl, canWrite: cfg.canWrite, draftPrefix: DRAFT_PREFIX,
  onChange: () => updateSaveUi(), onSaved: (s) => onSaved(s), onConflict: (s) => onConflict(s),
};

export function onSaved(saver) {
  const item = state.list ? state.list.find(saver.frameId) : null;
  if (item) {
    item.status = saver.server.status;
    item.is_negative = saver.server.is_negative;
    item.box_count = saver.server.boxes.length;
    item.version = saver.server.version;
  }
  if (saver === currentSaver()) render();
  scheduleCounts();
}

function onConflict(saver) {
  if (saver === currentSaver()) render();
}

// --- save status in the page -----------------------------------------------------------
let countdownTimer = null;
let conflictFocusKey = "";
export function updateSaveUi() {
  const all = Array.from(savers.values());
  const current = currentSaver();
  const conflicts = all.filter((s) => s.conflict);
  const refused = all.filter((s) => s.error);
  const failing = all.filter((s) => s.inflight && s.failures > 0);
  let kind = "saved";
  let icon = "bi-cloud-check";
  let text = "All changes saved";
  if (conflicts.length) {
    kind = "conflict"; icon = "bi-exclamation-triangle-fill"; text = "Conflict: not saved";
  } else if (refused.length) {
    kind = "error"; icon = "bi-x-octagon-fill"; text = "Not saved";
  } else if (failing.length) {
    kind = "retrying"; icon = "bi-cloud-slash"; text = "Not saved: retrying";
  } else if (all.some((s) => s.sending || s.inflight)) {
    kind = "saving"; icon = "bi-cloud-arrow-up"; text = "Saving…";
  } else if (all.some((s) => s.pending)) {
    kind = "pending"; icon = "bi-pencil"; text = "Unsaved changes";
  }
  root.dataset.saveState = kind;
  const indicator = $("save-indicator");
  indicator.className = "editor-save text-nowrap is-" + kind;
  indicator.querySelector("i").className = "bi " + icon;
  indicator.querySelector("span").textContent = text;

  // Conflict banner: the shown frame first, else a pointer to the frame that has one.
  const conflictSaver = current && current.conflict ? current : conflicts[0];
  const banner = $("conflict-banner");
  banner.classList.toggle("d-none", !conflictSaver);
  if (conflictSaver) {
    const theirs = conflictSaver.conflict;
    const who = theirs.annotated_by ? theirs.annotated_by : "another session";
    const onThis = conflictSaver === current;
    const where = onThis ? "This frame" : "Frame " + conflictSaver.frameId;
    $("conflict-text").textContent = conflictSaver.conflictReason
      ? where + ": " + conflictSaver.conflictReason + " Your last changes are kept here."
      : where + " was saved by " + who + " (now version " + theirs.version + ", "
        + theirs.boxes.length + " box" + (theirs.boxes.length === 1 ? "" : "es")
        + (onThis ? ", dotted" : "") + ") while you were editing. Your last changes are"
        + " kept here but were not saved: nothing is saved until you choose.";
    ["conflict-reload", "conflict-merge", "conflict-keep"].forEach(
      (id) => $(id).classList.toggle("d-none", !onThis));
    $("conflict-open").classList.toggle("d-none", onThis);
    banner.dataset.frameId = String(conflictSaver.frameId);
  }
  // A conflict on the shown frame takes the keyboard focus once, so the choice is one
  // Enter (keep theirs) or a Tab or two away.
  const focusKey = current && current.conflict
    ? current.frameId + ":" + current.conflict.version : "";
  if (focusKey && focusKey !== conflictFocusKey && !isTyping(document.activeElement)) {
    $("conflict-reload").focus();
  }
  conflictFocusKey = focusKey;

  // Failed-save banner with a live countdown until the next attempt.
  const errorBanner = $("save-error-banner");
  const shown = failing[0] || refused[0];
  errorBanner.classList.toggle("d-none", !shown);
  clearInterval(countdownTimer);
  if (shown && shown.error) {
    $("save-error-text").textContent = "The server refused the changes to "
      + (shown === current ? "this frame" : "frame " + shown.frameId) + ": " + shown.error
      + " Undo or fix the box and it is saved again.";
    $("save-retry").classList.add("d-none");
  } else if (shown) {
    const tick = () => {
      const secs = Math.max(0, Math.ceil((shown.retryAt - Date.now()) / 1000));
      $("save-error-text").textContent = "Couldn't save: " + shown.lastFailure + ". "
        + (shown.sending ? "Trying again now…" : "Retrying in " + secs + " s.")
        + " Your changes are kept in this browser until they are saved.";
    };
    tick();
    countdownTimer = setInterval(tick, 1000);
    $("save-retry").classList.remove("d-none");
  }
}

// --- side panels -----------------------------------------------------------------------
const STATUS_BADGE = {
  unlabeled: ["Unlabeled", "text-bg-secondary"],
  labeled: ["Labeled", "text-bg-primary"],
  reviewed: ["Reviewed", "text-bg-success"],
};
const SPLIT_LABEL = { train: "Train", val: "Validation", test: "Test" };

export function updateFrameInfo() {
  const frame = currentFrame();
  const list = state.list;
  const at = position();
  const total = list ? list.total : 0;
  $("frame-position").textContent = frame && at >= 0
    ? "Frame " + formatCount(at + 1) + " / " + formatCount(total) : frame ? "" : "No frame";
  const slider = $("frame-slider");
  slider.max = String(Math.max(0, total - 1));
  slider.disabled = total < 2;
  if (!state.sliding) slider.value = String(Math.max(0, at));
  root.dataset.position = String(at);
  root.dataset.total = String(total);
  root.dataset.loaded = list ? list.start + "-" + list.end : "";
  root.dataset.listRequests = list ? String(list.requests) : "0";
  $("frame-video").textContent = frame ? frame.video_name : "";
  // Image-set frames show the file's own name; video frames their time.
  const where = frame && frame.source_name
    ? frame.source_name : frame ? frame.timestamp_s.toFixed(2) + " s" : "";
  $("frame-meta").textContent = frame
    ? "#" + frame.frame_index + " · " + where + " · " + frame.width + "×" + frame.height : "";
  const split = $("frame-split");
  split.classList.toggle("d-none", !(frame && frame.split));
  split.textContent = frame && frame.split ? SPLIT_LABEL[frame.split] || frame.split : "";
}

export function updatePanels() {
  const saver = currentSaver();
  const ann = saver ? saver.local : { boxes: [], is_negative: false, status: "unlabeled" };
  const [statusText, statusClass] = STATUS_BADGE[ann.status] || STATUS_BADGE.unlabeled;
  const badge = $("frame-status");
  badge.className = "badge " + statusClass;
  badge.textContent = saver ? statusText : "";
  const server = saver ? saver.server : null;
  $("frame-version").textContent = server
    ? "v" + server.version + (server.annotated_by ? " · " + server.annotated_by : "") : "";
  $("negative-badge").classList.toggle("d-none", !ann.is_negative);
  root.dataset.boxCount = String(ann.boxes.length);
  root.dataset.status = ann.status;

  const negativeBtn = $("btn-negative");
  negativeBtn.classList.toggle("active", ann.is_negative);
  negativeBtn.setAttribute("aria-pressed", String(ann.is_negative));
  const reviewedBtn = $("btn-reviewed");
  reviewedBtn.classList.toggle("active", ann.status === "reviewed");
  reviewedBtn.setAttribute("aria-pressed", String(ann.status === "reviewed"));
  const history = saver ? historyOf(saver.frameId) : { undo: [], redo: [] };
  $("btn-undo").disabled = !cfg.canWrite || !history.undo.length;
  $("btn-redo").disabled = !cfg.canWrite || !history.redo.length;
  $("btn-delete").disabled = !cfg.canWrite || state.selected < 0;
  const at = position();
  $("btn-prev").disabled = at <= 0;
  $("btn-next").disabled = !state.list || at < 0 || at >= state.list.total - 1;

  const list = $("box-list");
  list.replaceChildren();
  ann.boxes.forEach((box, i) => {
    const li = document.createElement("li");
    li.className = "list-group-item list-group-item-action d-flex align-items-center gap-2 px-1 py-1";
    li.dataset.boxIndex = String(i);
    const swatch = document.createElement("span");
    swatch.className = "editor-swatch";
    swatch.style.backgroundColor = colorOf(box.class_id); // CSSOM: allowed by the CSP
    const name = document.createElement("span");
    name.className = "flex-grow-1 text-truncate";
    const cls = classById.get(box.class_id);
    name.textContent = cls ? cls.name : "unknown class";
    const coords = document.createElement("span");
    coords.className = "text-body-secondary font-monospace editor-coords";
    coords.textContent = Math.round(box.x) + "," + Math.round(box.y) + " "
      + Math.round(box.w) + "×" + Math.round(box.h);
    li.append(swatch, name, coords);
    li.addEventListener("click", () => select(i));
    list.append(li);
  });
  $("box-count").textContent = String(ann.boxes.length);
  $("box-hint").classList.toggle("d-none", ann.boxes.length > 0);
  highlightSelection();
  updateClassPanel();
  updateProposalPanel();
}

export function updateClassPanel() {
  const saver = currentSaver();
  const boxes = saver ? saver.local.boxes : [];
  document.querySelectorAll("#class-list [data-class-id]").forEach((item) => {
    const id = Number(item.dataset.classId);
    item.classList.toggle("active", id === state.activeClassId);
    item.querySelector("[data-class-count]").textContent =
      String(boxes.filter((b) => b.class_id === id).length);
  });
}

let countsTimer = null;
function scheduleCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(loadCounts, 800);
}

function fillCounts(id, rows) {
  const dl = $(id);
  dl.replaceChildren();
  rows.forEach(([label, value, color]) => {
    const dt = document.createElement("dt");
    if (color) {
      const swatch = document.createElement("span");
      swatch.className = "editor-swatch me-1";
      swatch.style.backgroundColor = color;
      dt.append(swatch);
    }
    dt.append(document.createTextNode(label));
    dt.title = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dl.append(dt, dd);
  });
}

export async function loadCounts() {
  let res;
  try {
    res = await api("GET", cfg.countsUrl);
  } catch (err) {
    return; // counts are informative; the next save refreshes them
  }
  if (!res.ok) return;
  const c = res.data;
  const pct = (n) => (c.total ? (100 * n) / c.total : 0);
  $("progress-reviewed").parentElement.style.width = pct(c.status.reviewed) + "%";
  $("progress-labeled").parentElement.style.width = pct(c.status.labeled) + "%";
  fillCounts("counts-status", [
    ["Reviewed", c.status.reviewed, "#198754"], ["Labeled", c.status.labeled, "#0d6efd"],
    ["Unlabeled", c.status.unlabeled, "#adb5bd"], ["Total frames", c.total],
  ]);
  fillCounts("counts-split", [
    ["Train", c.split.train], ["Validation", c.split.val], ["Test", c.split.test],
    ["Unassigned", c.split.none],
  ]);
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
  fillCounts("counts-classes", c.classes.map((k) => [
    k.name, plural(k.boxes, "box", "boxes") + " · " + plural(k.frames, "frame", "frames"),
    COLOR_RE.test(k.color) ? k.color : null,
  ]));
  fillCounts("counts-videos", c.videos.map((v) => [v.name, v.labeled + " / " + v.frames]));
}

