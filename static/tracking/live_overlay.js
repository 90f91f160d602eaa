// The Live page's overlay geometry, without the DOM: frame pixels -> canvas pixels, the
// zones' outlines and the animals' boxes (x1, y1, x2, y2 original-video pixels).

export const COLOURS = ["#ff5c5c", "#4dabf7", "#51cf66", "#fcc419", "#cc5de8", "#ff922b"];

// The scale that fits a frame of `frameSize` [w, h] into a canvas `canvasW` wide.
export function fitScale(frameSize, canvasW) {
  const [w] = frameSize || [0, 0];
  return w > 0 ? canvasW / w : 1;
}

// Each zone as something to draw: {name, kind: "rect"|"circle"|"polygon", ...} in canvas
// pixels (rect: x, y, w, h; circle: cx, cy, r; polygon: points [[x, y]...]).
export function zoneShapes(zones, scale) {
  return (zones || []).map((z) => {
    if (z.shape === "rect") {
      return { name: z.name, kind: "rect", x: z.x * scale, y: z.y * scale,
        w: z.w * scale, h: z.h * scale };
    }
    if (z.shape === "circle") {
      return { name: z.name, kind: "circle", cx: z.cx * scale, cy: z.cy * scale, r: z.r * scale };
    }
    return { name: z.name, kind: "polygon",
      points: (z.points || []).map(([x, y]) => [x * scale, y * scale]) };
  });
}

// The animals that have a box, as canvas rectangles with their label and colour.
export function animalBoxes(animals, scale) {
  return (animals || []).filter((a) => Array.isArray(a.box)).map((a) => {
    const [x1, y1, x2, y2] = a.box;
    return {
      label: `#${a.animal}`,
      colour: COLOURS[(a.animal - 1) % COLOURS.length],
      x: x1 * scale, y: y1 * scale, w: (x2 - x1) * scale, h: (y2 - y1) * scale,
    };
  });
}

// "12.3 / 40.1" from a latency record, "—" where unknown.
export function latencyText(latency) {
  if (!latency || latency.p50 === null || latency.p50 === undefined) return "—";
  return `${latency.p50.toFixed(1)} / ${latency.p95.toFixed(1)}`;
}
