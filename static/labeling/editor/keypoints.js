// Pose: the selected box's keypoints, placed in skeleton order by clicks (the next name
// follows the cursor), dragged to adjust, marked occluded or skipped; the skeleton drawn.
// Keypoints are [[x, y, v], ...] in original-image pixels, v as COCO: 0 not labeled,
// 1 occluded, 2 visible. Every change goes through history.commit (undo, autosave, 409).
//
// Keys (a skeleton and a selected box): K starts/stops placing, S skips the next keypoint,
// O toggles the last placed one between visible and occluded, X removes it, Esc stops.
import { cfg, currentFrame, currentSaver, root, state, toast } from "./context.js";
import { layer, pointerOf, stage, toImage } from "./stage.js";
import { commit } from "./history.js";

const script = document.getElementById("editor-skeleton");
export const skeleton = script ? JSON.parse(script.textContent) : null;

const kpGroup = new Konva.Group();
const cursorLabel = new Konva.Label({ listening: false, visible: false });
cursorLabel.add(new Konva.Tag({ fill: "rgba(0,0,0,0.7)", cornerRadius: 2 }));
cursorLabel.add(new Konva.Text({ fontSize: 12, padding: 3, fill: "#ffffff" }));
layer.add(kpGroup, cursorLabel);

const kp = { mode: false, next: 0, last: -1 };
const POINT_COLORS = ["#ffe119", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4"];

function pointsOf(box) {
  const n = skeleton.keypoints.length;
  const points = (box.keypoints || []).map((p) => p.slice());
  while (points.length < n) points.push([0, 0, 0]);
  return points.slice(0, n);
}

function publish() {
  root.dataset.kpMode = kp.mode ? "1" : "0";
  root.dataset.kpNext = kp.mode ? skeleton.keypoints[kp.next] || "" : "";
}

function saveBox(index, points) {
  const saver = currentSaver();
  const boxes = saver.local.boxes.slice();
  const labeled = points.some((p) => p[2] > 0);
  const box = Object.assign({}, boxes[index]);
  box.keypoints = labeled ? points : [];
  boxes[index] = box;
  commit(Object.assign({}, saver.local, { boxes: boxes }), { selected: index });
}

// --- drawing ---------------------------------------------------------------------------
export function drawKeypoints() {
  kpGroup.destroyChildren();
  const saver = currentSaver();
  if (!skeleton || !saver) return;
  const s = state.view.scale || 1;
  saver.local.boxes.forEach((box, index) => {
    if (!box.keypoints || !box.keypoints.length) return;
    const points = pointsOf(box);
    skeleton.edges.forEach(([a, b]) => {
      if (!points[a][2] || !points[b][2]) return;
      kpGroup.add(new Konva.Line({
        points: [points[a][0], points[a][1], points[b][0], points[b][1]],
        stroke: "#ffffff", strokeWidth: 1.5, strokeScaleEnabled: false, listening: false,
        opacity: 0.8,
      }));
    });
    points.forEach((p, i) => {
      if (!p[2]) return;
      const color = POINT_COLORS[i % POINT_COLORS.length];
      const dot = new Konva.Circle({
        x: p[0], y: p[1], radius: 4 / s, name: "kp",
        fill: p[2] === 2 ? color : "rgba(0,0,0,0.4)", stroke: color,
        strokeWidth: 2, strokeScaleEnabled: false,
        draggable: cfg.canWrite && index === state.selected,
      });
      dot.on("dragend", () => {
        const frame = currentFrame();
        const moved = pointsOf(currentSaver().local.boxes[index]);
        moved[i] = [
          Math.round(Math.min(Math.max(dot.x(), 0), frame.width) * 100) / 100,
          Math.round(Math.min(Math.max(dot.y(), 0), frame.height) * 100) / 100, p[2],
        ];
        kp.last = i;
        saveBox(index, moved);
      });
      kpGroup.add(dot);
    });
  });
  kpGroup.moveToTop();
  cursorLabel.moveToTop();
}

// --- placing ---------------------------------------------------------------------------
function selectedBox() {
  const saver = currentSaver();
  return saver && state.selected >= 0 ? saver.local.boxes[state.selected] : null;
}

function nextFrom(points, start) {
  for (let i = start; i < points.length; i += 1) if (!points[i][2]) return i;
  return -1;
}

function stop(message) {
  kp.mode = false;
  cursorLabel.visible(false);
  layer.batchDraw();
  publish();
  if (message) toast(message);
}

function start() {
  const box = selectedBox();
  if (!box) {
    toast("Select an animal's box first (click it, or Tab).");
    return;
  }
  const next = nextFrom(pointsOf(box), 0);
  if (next < 0) {
    toast("Every keypoint of this box is placed: drag one to move it, X removes the last.");
    return;
  }
  kp.mode = true;
  kp.next = next;
  publish();
}

function advance(points, from) {
  const next = nextFrom(points, from);
  if (next < 0) stop("All keypoints placed.");
  else {
    kp.next = next;
    publish();
  }
}

// Capture phase, before the box drawing of pointer.js: a click places the next keypoint.
stage.container().addEventListener("mousedown", (event) => {
  if (!kp.mode || !skeleton || event.button !== 0 || state.spaceHeld) return;
  const p = pointerOf(event);
  const hit = stage.getIntersection(p);
  if (hit && hit.name() === "kp") return; // dragging a placed point
  event.preventDefault();
  event.stopImmediatePropagation();
  const box = selectedBox();
  const frame = currentFrame();
  if (!box || !frame) {
    stop();
    return;
  }
  const ip = toImage(p);
  if (ip.x < 0 || ip.y < 0 || ip.x > frame.width || ip.y > frame.height) {
    toast("A keypoint must be inside the image.");
    return;
  }
  const points = pointsOf(box);
  points[kp.next] = [Math.round(ip.x * 100) / 100, Math.round(ip.y * 100) / 100, 2];
  kp.last = kp.next;
  const index = state.selected;
  advance(points, kp.next + 1);
  saveBox(index, points);
}, true);

window.addEventListener("mousemove", (event) => {
  if (!kp.mode) return;
  const ip = toImage(pointerOf(event));
  cursorLabel.getText().text(skeleton.keypoints[kp.next] || "");
  cursorLabel.scale({ x: 1 / state.view.scale, y: 1 / state.view.scale });
  cursorLabel.position({ x: ip.x + 8 / state.view.scale, y: ip.y + 8 / state.view.scale });
  cursorLabel.visible(true);
  layer.batchDraw();
});

document.addEventListener("keydown", (event) => {
  if (!skeleton || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName))) return;
  const key = event.key.toLowerCase();
  const box = selectedBox();
  const handled = () => {
    event.preventDefault();
    event.stopImmediatePropagation();
  };
  if (key === "escape" && kp.mode) {
    handled();
    stop();
  } else if (key === "k" && cfg.canWrite) {
    handled();
    if (kp.mode) stop();
    else start();
  } else if (key === "s" && kp.mode && box) {
    handled();
    advance(pointsOf(box), kp.next + 1);
  } else if ((key === "o" || key === "x") && box && cfg.canWrite && kp.last >= 0) {
    handled();
    const points = pointsOf(box);
    if (!points[kp.last][2]) return;
    if (key === "o") points[kp.last][2] = points[kp.last][2] === 2 ? 1 : 2;
    else {
      points[kp.last] = [0, 0, 0];
      if (kp.mode) kp.next = Math.min(kp.next, kp.last);
      publish();
    }
    saveBox(state.selected, points);
  }
}, true);

publish();
