// The editor's pure box geometry under Node's own test runner (`node --test tests/js/`),
// imported as the browser imports it: no bundler, no DOM.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  MIN_BOX_PX, boundResize, clampBox, iou, isBigEnough, mergeAnnotations, round2, sameAnn,
} from "../../static/labeling/editor/geometry.js";
import { fitView, panBy, toImage, zoomAt } from "../../static/webapp/stage.js";

test("clampBox clips to the image and snaps to 0.01 px", () => {
  const box = clampBox({ class_id: 3, x: -10, y: 5.123456, w: 50, h: 1000 }, 640, 480);
  assert.deepEqual(box, { class_id: 3, x: 0, y: 5.12, w: 40, h: 474.88 });
});

test("clampBox refuses what is left under the minimum", () => {
  assert.equal(clampBox({ class_id: 1, x: 638, y: 10, w: 50, h: 50 }, 640, 480), null);
  assert.equal(clampBox({ class_id: 1, x: 10, y: 10, w: MIN_BOX_PX - 0.01, h: 50 }, 640, 480),
    null);
  assert.ok(clampBox({ class_id: 1, x: 10, y: 10, w: MIN_BOX_PX, h: MIN_BOX_PX }, 640, 480));
  assert.equal(isBigEnough(MIN_BOX_PX, MIN_BOX_PX - 1), false);
});

test("iou of boxes: same, disjoint, half", () => {
  const a = { x: 0, y: 0, w: 10, h: 10 };
  assert.equal(iou(a, a), 1);
  assert.equal(iou(a, { x: 10, y: 0, w: 10, h: 10 }), 0);
  assert.equal(iou(a, { x: 5, y: 0, w: 10, h: 10 }), 50 / 150);
});

test("mergeAnnotations keeps theirs and adds my boxes that are not duplicates", () => {
  const theirs = { boxes: [{ class_id: 1, x: 0, y: 0, w: 100, h: 100 }], status: "reviewed" };
  const mine = { boxes: [{ class_id: 1, x: 1, y: 1, w: 100, h: 100 },
    { class_id: 2, x: 1, y: 1, w: 100, h: 100 }] };
  const merged = mergeAnnotations(theirs, mine);
  assert.deepEqual(merged.boxes.map((b) => [b.class_id, b.x]), [[1, 0], [2, 1]]);
  assert.equal(merged.status, "labeled");
  assert.ok(sameAnn(mergeAnnotations(theirs, theirs), { ...theirs, is_negative: false }));
  assert.equal(round2(12.3456), 12.35);
});

test("boundResize keeps a resize inside the image and above the minimum", () => {
  const view = { scale: 2, x: 10, y: 20 };
  const old = { x: 20, y: 30, width: 40, height: 40 };
  const out = boundResize(old, { x: 0, y: 0, width: 100, height: 100 }, view, 640, 480);
  assert.deepEqual(out, { x: 10, y: 20, width: 90, height: 80, rotation: 0 });
  assert.equal(boundResize(old, { x: 20, y: 30, width: 3, height: 40 }, view, 640, 480), old);
});

test("the stage view: fit, zoom about a point, pan, screen to image", () => {
  const fitted = fitView(640, 480, 672, 512);
  assert.deepEqual(fitted, { scale: 1, x: 16, y: 16, fitted: true });
  const zoomed = zoomAt(fitted, { x: 116, y: 116 }, 2);
  assert.deepEqual(toImage(zoomed, { x: 116, y: 116 }), { x: 100, y: 100 });
  assert.equal(zoomed.scale, 2);
  const panned = panBy(zoomed, { x: 0, y: 0 }, { x: 5, y: -5 });
  assert.deepEqual([panned.x, panned.y], [zoomed.x + 5, zoomed.y - 5]);
});
