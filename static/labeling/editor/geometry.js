// Box geometry of the labeling editor, pure (no DOM, no Konva): unit-tested under Node
// (tests/js/geometry.test.mjs). Boxes are original-image pixels {class_id, x, y, w, h},
// (x, y) the top-left corner.

// A drag shorter than this on screen, on either axis, is a slip of the mouse (or a click),
// not a box: zoom in to draw a smaller one.
export const MIN_DRAW_SCREEN_PX = 12;
export const CLICK_SCREEN_PX = 3; // moved less than this: a click, no message
export const MIN_HANDLE_SCREEN_PX = 4; // resizing never collapses a box under the handles
// Image pixels per side; the server refuses a new or changed box smaller than this.
export const MIN_BOX_PX = 4;
// "Merge" drops my box when theirs of the same class covers it this well.
export const MERGE_DUPLICATE_IOU = 0.9;

// Snapped to 0.01 px, as the server stores coordinates.
export const round2 = (v) => Math.round(v * 100) / 100;

// Big enough for the server: at least MIN_BOX_PX image pixels each way.
export function isBigEnough(w, h) {
  return w >= MIN_BOX_PX && h >= MIN_BOX_PX;
}

// Clip a box to the image and snap it to 0.01 px, as the server does; null if too small.
export function clampBox(box, width, height) {
  const x0 = Math.min(Math.max(box.x, 0), width);
  const y0 = Math.min(Math.max(box.y, 0), height);
  const x1 = Math.min(Math.max(box.x + box.w, 0), width);
  const y1 = Math.min(Math.max(box.y + box.h, 0), height);
  if (!isBigEnough(x1 - x0, y1 - y0)) return null;
  return {
    class_id: box.class_id, x: round2(x0), y: round2(y0),
    w: round2(x1 - x0), h: round2(y1 - y0),
  };
}

// A resize on screen (Konva's boundBoxFunc: {x, y, width, height} in stage px) kept inside
// the image shown at `view` ({scale, x, y}) and never collapsed under the minimum; a box
// already smaller (an import) may still grow. Returns `oldBox` to refuse the step.
export function boundResize(oldBox, newBox, view, width, height) {
  const left = Math.max(newBox.x, view.x);
  const top = Math.max(newBox.y, view.y);
  const right = Math.min(newBox.x + newBox.width, view.x + width * view.scale);
  const bottom = Math.min(newBox.y + newBox.height, view.y + height * view.scale);
  const least = Math.max(MIN_HANDLE_SCREEN_PX, MIN_BOX_PX * view.scale);
  const tooNarrow = right - left < least && right - left < oldBox.width;
  const tooLow = bottom - top < least && bottom - top < oldBox.height;
  if (tooNarrow || tooLow) return oldBox;
  return { x: left, y: top, width: right - left, height: bottom - top, rotation: 0 };
}

// Intersection over union of two {x, y, w, h} boxes (image pixels).
export function iou(a, b) {
  const iw = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const ih = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

// An annotation's comparable part: {boxes, is_negative, status}.
export function annOf(source) {
  return {
    // keypoints (pose) only when the box has them: a box sent without keeps the server's.
    boxes: (source.boxes || []).map((b) => Object.assign({
      class_id: b.class_id, x: b.x, y: b.y, w: b.w, h: b.h,
    }, Array.isArray(b.keypoints) ? { keypoints: b.keypoints.map((p) => p.slice()) } : {})),
    is_negative: Boolean(source.is_negative),
    status: source.status || "unlabeled",
  };
}

function annKey(ann) {
  return JSON.stringify([
    ann.is_negative, ann.status,
    ann.boxes.map((b) => [b.class_id, round2(b.x), round2(b.y), round2(b.w), round2(b.h),
      (b.keypoints || []).map((p) => [round2(p[0]), round2(p[1]), p[2]])]),
  ]);
}

export const sameAnn = (a, b) => annKey(a) === annKey(b);

// Their boxes plus mine, less my boxes that duplicate one of theirs (same class, IoU >
// MERGE_DUPLICATE_IOU). When mine adds nothing, their annotation (and status) stands;
// otherwise the frame has new, unreviewed content: "labeled".
export function mergeAnnotations(theirs, mine) {
  const base = annOf(theirs);
  const extra = annOf(mine).boxes.filter((b) => !base.boxes.some(
    (t) => t.class_id === b.class_id && iou(t, b) > MERGE_DUPLICATE_IOU));
  if (!extra.length) return base;
  return { boxes: base.boxes.concat(extra), is_negative: false, status: "labeled" };
}
