// The editor's Konva stage: the image, the boxes' groups, the transformer and the view
// (scale and offset from image pixels to the screen; see webapp/stage.js).
import { $ } from "../../webapp/dom.js";
import { boundResize } from "./geometry.js";
import { applyToStage, fitView as fitViewTo, pointerIn, toImage as screenToImage,
  zoomAt as zoomViewAt } from "../../webapp/stage.js";
import { cfg, currentFrame, root, state } from "./context.js";

export const wrap = $("stage-wrap");
export const container = $("editor-canvas");
export const stage = new Konva.Stage({
  container: container, width: container.clientWidth || 800,
  height: container.clientHeight || 600,
});
export const layer = new Konva.Layer();
stage.add(layer);
export const imageNode = new Konva.Image({ x: 0, y: 0, listening: false });
export const imageFrame = new Konva.Rect({
  x: 0, y: 0, stroke: "rgba(255,255,255,0.35)", strokeWidth: 1,
  strokeScaleEnabled: false, listening: false,
});
export const boxGroup = new Konva.Group();
export const labelGroup = new Konva.Group({ listening: false });
export const transformer = new Konva.Transformer({
  rotateEnabled: false, flipEnabled: false, keepRatio: false, ignoreStroke: true,
  anchorSize: 9, anchorCornerRadius: 2, anchorStroke: "#0d6efd", anchorFill: "#ffffff",
  borderStroke: "#ffffff", borderDash: [4, 3], borderStrokeWidth: 1,
  enabledAnchors: cfg.canWrite
    ? ["top-left", "top-center", "top-right", "middle-right", "middle-left",
      "bottom-left", "bottom-center", "bottom-right"]
    : [],
  resizeEnabled: cfg.canWrite,
});
export const drawRect = new Konva.Rect({
  visible: false, stroke: "#ffffff", strokeWidth: 1.5, dash: [6, 4],
  strokeScaleEnabled: false, listening: false,
});
export const guides = new Konva.Group({ listening: false, visible: false });
export const guideH = new Konva.Line({ stroke: "rgba(255,255,255,0.55)", strokeWidth: 1,
  strokeScaleEnabled: false, dash: [4, 4] });
export const guideV = guideH.clone();
guides.add(guideH, guideV);
// Proposals: dashed, not interactive (they become boxes only when accepted).
export const proposalGroup = new Konva.Group({ listening: false });
layer.add(imageNode, imageFrame, proposalGroup, boxGroup, labelGroup, drawRect, transformer,
  guides);

// Class labels keep their screen size and sit above their box.
export function updateLabels() {
  const s = state.view.scale;
  labelGroup.getChildren().forEach((label) => {
    const rect = boxGroup.getChildren()[label.getAttr("boxIndex")];
    if (!rect) return;
    label.scale({ x: 1 / s, y: 1 / s });
    const height = label.height() / s;
    // Above the box, or inside it when there is no room above the image's top edge.
    label.position({ x: rect.x(), y: rect.y() >= height ? rect.y() - height : rect.y() });
  });
}

export function applyView() {
  const v = state.view;
  applyToStage(stage, v);
  // Pixels stay crisp when zoomed in far enough to place edges on them.
  layer.imageSmoothingEnabled(v.scale < 2);
  root.dataset.viewScale = String(v.scale);
  root.dataset.viewX = String(v.x);
  root.dataset.viewY = String(v.y);
  $("btn-fit").textContent = Math.round(v.scale * 100) + "%";
  updateLabels();
  layer.batchDraw();
}

export function fitView() {
  const frame = currentFrame();
  if (!frame) return;
  state.view = fitViewTo(frame.width, frame.height, stage.width(), stage.height());
  applyView();
}

export function zoomAt(point, factor) {
  state.view = zoomViewAt(state.view, point, factor);
  applyView();
}

export function toImage(p) {
  return screenToImage(state.view, p);
}

export function pointerOf(event) {
  return pointerIn(container, event);
}

new ResizeObserver(() => {
  stage.size({ width: container.clientWidth, height: container.clientHeight });
  if (state.view.fitted) fitView();
  else applyView();
}).observe(container);

// Resizing stays inside the image and never collapses a box under the minimum.
transformer.boundBoxFunc((oldBox, newBox) => {
  const frame = currentFrame();
  return boundResize(oldBox, newBox, state.view, frame.width, frame.height);
});
