// Edits of the shown frame through its saver, with undo and redo per frame.
import { MIN_BOX_PX, clampBox, round2 } from "./geometry.js";
import { annOf, api, describeError, sameAnn } from "../editor-autosave.js";
import { MAX_UNDO, cfg, currentFrame, currentSaver, histories, position, savers, state, toast,
   withDerivedStatus } from "./context.js";
import { render } from "./rendering.js";
import { updateClassPanel } from "./panels.js";

// --- edits, undo and redo --------------------------------------------------------------
export function historyOf(frameId) {
  if (!histories.has(frameId)) {
    histories.set(frameId, { undo: [], redo: [], lastKey: null, lastAt: 0 });
  }
  return histories.get(frameId);
}

// Every edit comes through here: it records undo, autosaves and redraws.
export function commit(ann, options) {
  const opts = options || {};
  const saver = currentSaver();
  if (!saver || !cfg.canWrite) return;
  if (saver.conflict) {
    toast("Resolve the conflict first (banner above).");
    render();
    return;
  }
  const next = opts.keepStatus ? ann : withDerivedStatus(ann);
  if (sameAnn(next, saver.local)) {
    render();
    return;
  }
  const history = historyOf(saver.frameId);
  const now = Date.now();
  const coalesce = opts.coalesce && history.lastKey === opts.coalesce
    && now - history.lastAt < 1000;
  if (!coalesce) {
    history.undo.push(annOf(saver.local));
    if (history.undo.length > MAX_UNDO) history.undo.shift();
  }
  history.lastKey = opts.coalesce || null;
  history.lastAt = now;
  history.redo = [];
  saver.edit(next);
  if (opts.selected !== undefined) state.selected = opts.selected;
  markListItem(saver);
  render();
}

export function undoRedo(fromKey, toKey) {
  const saver = currentSaver();
  if (!saver || !cfg.canWrite || saver.conflict) return;
  const history = historyOf(saver.frameId);
  if (!history[fromKey].length) {
    toast(fromKey === "undo" ? "Nothing to undo." : "Nothing to redo.");
    return;
  }
  history[toKey].push(annOf(saver.local));
  history.lastKey = null;
  saver.edit(history[fromKey].pop());
  state.selected = -1;
  markListItem(saver);
  render();
}

// Optimistic status in the list, so "next unlabeled" skips what was just labeled.
export function markListItem(saver) {
  const item = state.list ? state.list.find(saver.frameId) : null;
  if (item) {
    item.status = saver.local.status;
    item.box_count = saver.local.boxes.length;
  }
}

export function addBox(box) {
  const saver = currentSaver();
  const boxes = saver.local.boxes.concat([box]);
  commit({ boxes: boxes, is_negative: false, status: saver.local.status },
    { selected: boxes.length - 1 });
}

export function deleteSelected() {
  const saver = currentSaver();
  if (!saver || state.selected < 0) return;
  const boxes = saver.local.boxes.filter((_, i) => i !== state.selected);
  commit(Object.assign({}, saver.local, { boxes: boxes }), { selected: -1 });
}

export function setClass(classId) {
  state.activeClassId = classId;
  const saver = currentSaver();
  if (saver && state.selected >= 0 && cfg.canWrite) {
    const boxes = saver.local.boxes.slice();
    boxes[state.selected] = Object.assign({}, boxes[state.selected], { class_id: classId });
    commit(Object.assign({}, saver.local, { boxes: boxes }), { keepStatus: false });
  }
  updateClassPanel();
}

export function nudge(dx, dy) {
  const saver = currentSaver();
  const frame = currentFrame();
  const box = saver.local.boxes[state.selected];
  if (!box) return;
  const x = Math.min(Math.max(box.x + dx, 0), frame.width - box.w);
  const y = Math.min(Math.max(box.y + dy, 0), frame.height - box.h);
  const boxes = saver.local.boxes.slice();
  boxes[state.selected] = Object.assign({}, box, { x: round2(x), y: round2(y) });
  commit(Object.assign({}, saver.local, { boxes: boxes }), { coalesce: "nudge" });
}

export function toggleNegative() {
  const saver = currentSaver();
  if (!saver) return;
  if (saver.local.is_negative) {
    commit({ boxes: [], is_negative: false, status: "unlabeled" });
    return;
  }
  const hadBoxes = saver.local.boxes.length;
  commit({ boxes: [], is_negative: true, status: "labeled" }, { selected: -1 });
  toast(hadBoxes ? "Marked “no animal”: boxes removed (Ctrl+Z undoes)." : "Marked “no animal”.");
}

export function toggleReviewed() {
  const saver = currentSaver();
  if (!saver) return;
  const ann = saver.local;
  if (!ann.boxes.length && !ann.is_negative) {
    toast("Draw the boxes or mark “no animal” before reviewing.");
    return;
  }
  const status = ann.status === "reviewed" ? "labeled" : "reviewed";
  commit(Object.assign({}, ann, { status: status }), { keepStatus: true });
}

export async function copyPrevious() {
  const saver = currentSaver();
  const frame = currentFrame();
  const list = state.list;
  if (!saver || position() <= 0) {
    toast("There is no previous frame in this list.");
    return;
  }
  let prev;
  try {
    await list.ensure(position() - 1); // the page before may not be loaded yet
    prev = list.at(position() - 1);
  } catch (err) {
    toast("Couldn't read the previous frame: " + err.message);
    return;
  }
  if (!prev || currentSaver() !== saver) return;
  let source = savers.get(prev.id) ? savers.get(prev.id).local : null;
  if (!source) {
    try {
      const res = await api("GET", cfg.annotationUrl(prev.id));
      if (!res.ok) throw new Error(describeError(res));
      source = annOf(res.data);
    } catch (err) {
      toast("Couldn't read the previous frame: " + err.message);
      return;
    }
  }
  if (currentSaver() !== saver) return; // the user moved on meanwhile
  const boxes = source.boxes.map((b) => {
    const copy = clampBox(b, frame.width, frame.height);
    // Pose: the keypoints come along (kept inside this frame).
    if (copy && b.keypoints && b.keypoints.length) {
      copy.keypoints = b.keypoints.map((p) => (p[2] ? [Math.min(Math.max(p[0], 0), frame.width),
        Math.min(Math.max(p[1], 0), frame.height), p[2]] : [0, 0, 0]));
    }
    return copy;
  }).filter(Boolean);
  // Boxes under the minimum size (imports may have them) are not copied: new ones that
  // small are refused.
  const skipped = source.boxes.length - boxes.length;
  const skippedText = skipped ? " (" + skipped + " under " + MIN_BOX_PX + " px left out)" : "";
  if (!boxes.length && !source.is_negative) {
    toast("The previous frame has no boxes to copy" + skippedText + ".");
    return;
  }
  commit({ boxes: boxes, is_negative: boxes.length ? false : source.is_negative, status: "" },
    { selected: -1 });
  toast("Copied " + boxes.length + " box" + (boxes.length === 1 ? "" : "es")
    + " from the previous frame" + skippedText + ".");
}

