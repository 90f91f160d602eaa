// The editor's shared state: the page's config (data attributes), classes, the view and
// selection, the savers and undo histories per frame, and small helpers (toast, colours).
import { $ } from "../../webapp/dom.js";

export const root = document.getElementById("editor");

export const MAX_UNDO = 200;
export const COLOR_RE = /^#[0-9a-fA-F]{6}$/;

export const cfg = {
  projectId: root.dataset.projectId,
  canWrite: root.dataset.canWrite === "true",
  framesUrl: root.dataset.framesUrl,
  countsUrl: root.dataset.countsUrl,
  annotationUrl: (id) => root.dataset.annotationUrl.replace("{id}", String(id)),
  // Assisted labeling: a frame's proposals, accept/reject, the filtered list, accept-above.
  proposalsUrl: (id) => root.dataset.proposalsUrl.replace("{id}", String(id)),
  acceptUrl: (id) => root.dataset.proposalsAcceptUrl.replace("{id}", String(id)),
  rejectUrl: (id) => root.dataset.proposalsRejectUrl.replace("{id}", String(id)),
  proposalFramesUrl: root.dataset.proposalFramesUrl,
  acceptAboveUrl: root.dataset.acceptAboveUrl,
};
export const DRAFT_PREFIX = "mousetrack.draft.p" + cfg.projectId + ".f";
export const classes = JSON.parse(document.getElementById("editor-classes").textContent);
export const classById = new Map(classes.map((c) => [c.id, c]));

export const state = {
  list: null, // the filtered frame list, a page at a time (editor-frames.js)
  frame: null, // the shown frame (an API item of `list`)
  listToken: 0,
  image: null, // HTMLImageElement of the shown frame
  selected: -1, // index of the selected box in the shown frame's boxes
  activeClassId: classes.length ? classes[0].id : null,
  view: { scale: 1, x: 0, y: 0, fitted: true },
  loadToken: 0,
  gesture: null, // {kind: "draw"|"pan", ...} while the mouse is down
  spaceHeld: false,
};
export const savers = new Map(); // frame id -> FrameSaver
export const histories = new Map(); // frame id -> {undo, redo, lastKey, lastAt}
// frame id -> {version, proposals: [{id, class_id, x, y, w, h, score, ...}], machine_label}
export const proposalsOf = new Map();

// --- small helpers ---------------------------------------------------------------------

export function colorOf(classId) {
  const c = classById.get(classId);
  return c && COLOR_RE.test(c.color) ? c.color : "#adb5bd";
}

export function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
}

// A box edit makes the frame "labeled" again (a review covers what was reviewed).
export function withDerivedStatus(ann) {
  const hasContent = ann.boxes.length > 0 || ann.is_negative;
  return Object.assign({}, ann, { status: hasContent ? "labeled" : "unlabeled" });
}

let toastTimer = null;
export function toast(text) {
  const el = $("editor-toast");
  el.textContent = text;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 2600);
}

export function currentFrame() {
  return state.frame;
}

// The shown frame's place in the whole list (-1 while a jump replaces the window).
export function position() {
  return state.list && state.frame ? state.list.positionOf(state.frame.id) : -1;
}

export const formatCount = (n) => n.toLocaleString("en-US");

export function currentSaver() {
  const frame = currentFrame();
  return frame ? savers.get(frame.id) || null : null;
}

