// The mouse: draw a box, pan, zoom with the wheel, and the crosshair guides.
import { onWheelZoom, panBy } from "../../webapp/stage.js";
import { CLICK_SCREEN_PX, MIN_BOX_PX, MIN_DRAW_SCREEN_PX, clampBox } from "./geometry.js";
import { cfg, currentFrame, currentSaver, state, toast } from "./context.js";
import { applyView, container, drawRect, guideH, guideV, guides, layer, pointerOf, stage, toImage,
   wrap, zoomAt } from "./stage.js";
import { highlightSelection } from "./rendering.js";
import { addBox } from "./history.js";

// --- mouse: draw, pan, zoom ------------------------------------------------------------
function updateGuides(p) {
  const frame = currentFrame();
  if (!frame || !cfg.canWrite || !p) {
    guides.visible(false);
    layer.batchDraw();
    return;
  }
  const ip = toImage(p);
  const inside = ip.x >= 0 && ip.y >= 0 && ip.x <= frame.width && ip.y <= frame.height;
  guides.visible(inside && !state.spaceHeld && (!state.gesture || state.gesture.kind === "draw"));
  guideH.points([0, ip.y, frame.width, ip.y]);
  guideV.points([ip.x, 0, ip.x, frame.height]);
  layer.batchDraw();
}

// Capture phase: decide before Konva whether this press draws, pans or edits a box.
container.addEventListener("mousedown", (event) => {
  if (!state.image) return;
  const p = pointerOf(event);
  const hit = stage.getIntersection(p);
  if (hit && !cfg.canWrite && event.button === 0 && !state.spaceHeld) return; // select only
  const wantsPan = event.button === 1 || event.button === 2 || state.spaceHeld
    || (event.button === 0 && !cfg.canWrite);
  if (wantsPan) {
    event.preventDefault();
    event.stopPropagation();
    state.gesture = { kind: "pan", start: p, view: Object.assign({}, state.view) };
    wrap.classList.add("is-panning");
    return;
  }
  if (event.button !== 0) return;
  if (hit && !event.shiftKey) return; // a box or a handle: Konva moves or resizes it
  event.preventDefault();
  event.stopPropagation();
  if (!state.activeClassId) {
    toast("This project has no classes yet: add one on the project page.");
    return;
  }
  if (currentSaver() && currentSaver().conflict) {
    toast("Resolve the conflict first (banner above).");
    return;
  }
  const frame = currentFrame();
  const ip = toImage(p);
  const start = {
    x: Math.min(Math.max(ip.x, 0), frame.width), y: Math.min(Math.max(ip.y, 0), frame.height),
  };
  state.selected = -1;
  highlightSelection();
  state.gesture = { kind: "draw", start: start, startScreen: p };
  drawRect.setAttrs({ x: start.x, y: start.y, width: 0, height: 0, visible: true });
  layer.batchDraw();
}, true);

window.addEventListener("mousemove", (event) => {
  const g = state.gesture;
  const p = pointerOf(event);
  if (g && g.kind === "pan") {
    state.view = panBy(g.view, g.start, p);
    applyView();
  } else if (g && g.kind === "draw") {
    const frame = currentFrame();
    const ip = toImage(p);
    const x = Math.min(Math.max(ip.x, 0), frame.width);
    const y = Math.min(Math.max(ip.y, 0), frame.height);
    drawRect.setAttrs({
      x: Math.min(g.start.x, x), y: Math.min(g.start.y, y),
      width: Math.abs(x - g.start.x), height: Math.abs(y - g.start.y),
    });
    layer.batchDraw();
  }
  if (event.target === container || container.contains(event.target)) updateGuides(p);
  else if (guides.visible()) updateGuides(null);
});

window.addEventListener("mouseup", (event) => {
  const g = state.gesture;
  if (!g) return;
  state.gesture = null;
  wrap.classList.remove("is-panning");
  if (g.kind !== "draw") return;
  drawRect.visible(false);
  const p = pointerOf(event);
  const dx = Math.abs(p.x - g.startScreen.x);
  const dy = Math.abs(p.y - g.startScreen.y);
  const frame = currentFrame();
  const box = dx < MIN_DRAW_SCREEN_PX || dy < MIN_DRAW_SCREEN_PX ? null : clampBox({
    class_id: state.activeClassId, x: drawRect.x(), y: drawRect.y(),
    w: drawRect.width(), h: drawRect.height(),
  }, frame.width, frame.height);
  if (box) {
    addBox(box);
    return;
  }
  layer.batchDraw();
  if (dx >= CLICK_SCREEN_PX || dy >= CLICK_SCREEN_PX) {
    toast("No box: " + Math.round(drawRect.width()) + "×" + Math.round(drawRect.height())
      + " image px is too small. Drag at least " + MIN_DRAW_SCREEN_PX + " px on screen and "
      + MIN_BOX_PX + " px of the image each way (zoom in for small boxes).");
  }
});

container.addEventListener("contextmenu", (event) => event.preventDefault());
container.addEventListener("mouseleave", () => updateGuides(null));
onWheelZoom(container, zoomAt, () => Boolean(state.image));
