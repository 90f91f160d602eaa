// The view of an image on a Konva stage: a scale and an offset mapping image pixels to the
// screen, so zoom and page size never change the data (which stays in image pixels).
// Pure math on {scale, x, y} plus one helper applying it to a Konva stage.

// The view showing a whole `width` x `height` image centred in a `stageW` x `stageH` stage.
export function fitView(width, height, stageW, stageH, margin = 16) {
  const scale = Math.max(0.01, Math.min((stageW - 2 * margin) / width,
    (stageH - 2 * margin) / height));
  return {
    scale, x: Math.round((stageW - width * scale) / 2),
    y: Math.round((stageH - height * scale) / 2), fitted: true,
  };
}

// Zoom by `factor` keeping the image point under the screen `point` where it is.
export function zoomAt(view, point, factor, minScale = 0.05, maxScale = 40) {
  const scale = Math.min(maxScale, Math.max(minScale, view.scale * factor));
  const ix = (point.x - view.x) / view.scale;
  const iy = (point.y - view.y) / view.scale;
  return { scale, x: point.x - ix * scale, y: point.y - iy * scale, fitted: false };
}

// The view moved by the drag from `start` to `point` (screen px) from the view at `start`.
export function panBy(view, start, point) {
  return { scale: view.scale, x: view.x + point.x - start.x, y: view.y + point.y - start.y,
    fitted: false };
}

// A screen point (stage px) in image pixels.
export function toImage(view, p) {
  return { x: (p.x - view.x) / view.scale, y: (p.y - view.y) / view.scale };
}

// A mouse event's point in the element's (the stage container's) pixels.
export function pointerIn(element, event) {
  const rect = element.getBoundingClientRect();
  return { x: event.clientX - rect.left, y: event.clientY - rect.top };
}

export function applyToStage(stage, view) {
  stage.scale({ x: view.scale, y: view.scale });
  stage.position({ x: view.x, y: view.y });
}

// A wheel over `element` zooms at the pointer: `onZoom(point, factor)`.
export function onWheelZoom(element, onZoom, enabled = () => true) {
  element.addEventListener("wheel", (event) => {
    if (!enabled()) return;
    event.preventDefault();
    onZoom(pointerIn(element, event), Math.exp(-event.deltaY * 0.0015));
  }, { passive: false });
}
