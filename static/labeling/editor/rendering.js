// Drawing the shown frame's boxes and labels, and the selection.
import { MIN_BOX_PX, clampBox, round2 } from "./geometry.js";
import { cfg, classById, colorOf, currentFrame, currentSaver, rgba, root, state, toast } from "./context.js";
import { boxGroup, labelGroup, layer, proposalGroup, transformer, updateLabels, wrap } from "./stage.js";
import { drawProposals, drawTheirs } from "./proposals.js";
import { drawKeypoints } from "./keypoints.js";
import { commit } from "./history.js";
import { updateClassPanel, updatePanels } from "./panels.js";

// --- drawing the boxes -----------------------------------------------------------------
function makeBox(box, index) {
  const color = colorOf(box.class_id);
  const rect = new Konva.Rect({
    x: box.x, y: box.y, width: box.w, height: box.h,
    stroke: color, strokeWidth: 2, strokeScaleEnabled: false, fill: rgba(color, 0.12),
    draggable: cfg.canWrite, name: "box",
  });
  rect.setAttr("boxIndex", index);
  rect.on("mousedown touchstart", () => select(index));
  rect.on("mouseenter", () => {
    if (!state.gesture) wrap.classList.add("over-box");
  });
  rect.on("mouseleave", () => wrap.classList.remove("over-box"));
  rect.dragBoundFunc((pos) => {
    const frame = currentFrame();
    const v = state.view;
    const ix = Math.min(Math.max((pos.x - v.x) / v.scale, 0), frame.width - rect.width());
    const iy = Math.min(Math.max((pos.y - v.y) / v.scale, 0), frame.height - rect.height());
    return { x: ix * v.scale + v.x, y: iy * v.scale + v.y };
  });
  rect.on("dragmove transform", updateLabels);
  rect.on("dragend", () => commitRect(rect));
  rect.on("transformend", () => commitRect(rect));
  return rect;
}

export function render() {
  if (Konva.isDragging() || transformer.isTransforming()) {
    // Never rebuild the shape being dragged; its dragend/transformend commits and redraws.
    updatePanels();
    return;
  }
  const saver = currentSaver();
  const frame = currentFrame();
  boxGroup.destroyChildren();
  labelGroup.destroyChildren();
  proposalGroup.destroyChildren();
  transformer.nodes([]);
  if (frame) drawProposals(frame.id);
  if (!saver || !frame) {
    layer.batchDraw();
    updatePanels();
    return;
  }
  drawTheirs(saver.conflict);
  const boxes = saver.local.boxes;
  if (state.selected >= boxes.length) state.selected = -1;
  boxes.forEach((box, i) => {
    boxGroup.add(makeBox(box, i));
    const cls = classById.get(box.class_id);
    const label = new Konva.Label({ listening: false });
    label.setAttr("boxIndex", i);
    label.add(new Konva.Tag({ fill: colorOf(box.class_id), cornerRadius: 2 }));
    label.add(new Konva.Text({
      text: (cls ? cls.name : "?"), fontSize: 12, padding: 3, fill: "#ffffff",
      fontFamily: "system-ui, sans-serif",
    }));
    labelGroup.add(label);
  });
  highlightSelection();
  updateLabels();
  drawKeypoints();
  layer.batchDraw();
  updatePanels();
}

export function highlightSelection() {
  const rects = boxGroup.getChildren();
  rects.forEach((rect, i) => rect.strokeWidth(i === state.selected ? 3 : 2));
  const chosen = rects[state.selected];
  transformer.nodes(chosen ? [chosen] : []);
  transformer.moveToTop();
  document.querySelectorAll("#box-list [data-box-index]").forEach((li) => {
    li.classList.toggle("active", Number(li.dataset.boxIndex) === state.selected);
  });
  root.dataset.selected = String(state.selected);
  layer.batchDraw();
}

export function select(index) {
  state.selected = index;
  const saver = currentSaver();
  const box = saver && saver.local.boxes[index];
  if (box) state.activeClassId = box.class_id;
  highlightSelection();
  drawKeypoints(); // only the selected box's points can be dragged
  updateClassPanel();
}

function commitRect(rect) {
  const saver = currentSaver();
  const frame = currentFrame();
  const index = rect.getAttr("boxIndex");
  const old = saver.local.boxes[index];
  const moved = clampBox({
    class_id: old.class_id, x: rect.x(), y: rect.y(),
    w: rect.width() * rect.scaleX(), h: rect.height() * rect.scaleY(),
  }, frame.width, frame.height);
  rect.scale({ x: 1, y: 1 });
  if (!moved) {
    toast("A box needs at least " + MIN_BOX_PX + " px of the image on each side.");
    render();
    return;
  }
  const boxes = saver.local.boxes.slice();
  if (old.keypoints && old.keypoints.length) {
    // A moved box takes its keypoints along; a resized one leaves them where they are.
    const same = Math.abs(moved.w - old.w) < 0.01 && Math.abs(moved.h - old.h) < 0.01;
    const dx = same ? moved.x - old.x : 0;
    const dy = same ? moved.y - old.y : 0;
    moved.keypoints = old.keypoints.map((p) => (p[2] ? [
      Math.min(Math.max(round2(p[0] + dx), 0), frame.width),
      Math.min(Math.max(round2(p[1] + dy), 0), frame.height), p[2]] : p.slice()));
  }
  boxes[index] = moved;
  commit(Object.assign({}, saver.local, { boxes: boxes }), { selected: index });
}

