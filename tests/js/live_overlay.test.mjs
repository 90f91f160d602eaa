// The Live page's overlay geometry under Node.
import assert from "node:assert/strict";
import { test } from "node:test";

import { animalBoxes, fitScale, latencyText, zoneShapes } from "../../static/tracking/live_overlay.js";

test("zones and boxes are scaled from frame pixels to the canvas", () => {
  const scale = fitScale([640, 480], 320);
  assert.equal(scale, 0.5);
  const [rect, circle, poly] = zoneShapes([
    { name: "a", shape: "rect", x: 10, y: 20, w: 100, h: 50 },
    { name: "b", shape: "circle", cx: 300, cy: 200, r: 40 },
    { name: "c", shape: "polygon", points: [[0, 0], [100, 0], [100, 60]] },
  ], scale);
  assert.deepEqual(rect, { name: "a", kind: "rect", x: 5, y: 10, w: 50, h: 25 });
  assert.deepEqual(circle, { name: "b", kind: "circle", cx: 150, cy: 100, r: 20 });
  assert.deepEqual(poly.points, [[0, 0], [50, 0], [50, 30]]);
  const boxes = animalBoxes([
    { animal: 1, box: [100, 100, 140, 124] }, { animal: 2, box: null },
  ], scale);
  assert.equal(boxes.length, 1);
  assert.deepEqual([boxes[0].x, boxes[0].y, boxes[0].w, boxes[0].h], [50, 50, 20, 12]);
  assert.equal(boxes[0].label, "#1");
});

test("latency reads p50 / p95, or a dash", () => {
  assert.equal(latencyText({ p50: 12.34, p95: 40.06 }), "12.3 / 40.1");
  assert.equal(latencyText({ p50: null }), "—");
  assert.equal(latencyText(undefined), "—");
});
