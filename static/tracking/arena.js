// Arena editor: zones (rect, circle, polygon), a two-point ruler, the arena outline and
// assay presets over a still of the video. Every coordinate in `state` is in original-video
// pixels; the Konva stage's scale maps them to the screen, so the page size never changes
// the data. The server (tracking.behavior) validates on save and names the field of an error.
import * as api from "../webapp/api.js";
import { download, el, showErrors } from "../webapp/dom.js";
import { applyToStage } from "../webapp/stage.js";

function initArena() {
  const root = document.getElementById("arena-editor");
  if (!root || typeof Konva === "undefined") return;
  const $ = (id) => document.getElementById(id);
  const W = Number(root.dataset.frameWidth) || 640;
  const H = Number(root.dataset.frameHeight) || 480;
  const canWrite = root.dataset.canWrite === "1";
  const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442"];
  const HINTS = {
    select: "Click a zone to select it; drag to move, use the handles to resize.",
    rect: "Drag a rectangle.",
    circle: "Drag from the centre outwards.",
    polygon: "Click each corner; click the first corner or press Enter to close, Escape to cancel.",
    ruler: "Drag along an object of known length, then type its length.",
    outline: "Drag the arena's outline (the inner walls).",
    "outline-circle": "Drag from the arena's centre out to its wall.",
    "outline-polygon": "Click the arena's corners in order (top-left, top-right, bottom-right, bottom-left for a maze); click the first corner or press Enter to close.",
    objects: "Click each object; click one again to remove it.",
  };

  const state = {
    zones: [],
    ruler: null, // {x1, y1, x2, y2}
    outline: null, // zone JSON: rect, circle or polygon
    objects: [], // [[x, y], ...]
    calibration: "none",
    preset: "",
    presetParams: {},
    unions: {},
    membership: "centre",
    tool: "select",
    selected: -1,
    polygon: [],
    activePreset: "",
    dirty: false,
  };

  // --- stage ------------------------------------------------------------------------------
  const wrap = $("arena-stage");
  let k = 1; // screen px per video px
  const stage = new Konva.Stage({ container: wrap, width: 100, height: 100 });
  const bgLayer = new Konva.Layer({ listening: false });
  const zoneLayer = new Konva.Layer();
  const overlay = new Konva.Layer();
  stage.add(bgLayer, zoneLayer, overlay);
  const blank = new Konva.Rect({ x: 0, y: 0, width: W, height: H, fill: "#3a3a3a" });
  const bgImage = new Konva.Image({ x: 0, y: 0, width: W, height: H });
  bgLayer.add(blank, bgImage);
  const transformer = new Konva.Transformer({
    rotateEnabled: false, ignoreStroke: true, borderStroke: "#fff", anchorStroke: "#333",
    anchorSize: 9,
  });
  zoneLayer.add(transformer);

  function fit() {
    const width = Math.max(200, wrap.clientWidth);
    k = width / W;
    stage.size({ width, height: Math.round(H * k) });
    applyToStage(stage, { scale: k, x: 0, y: 0 });
    render();
  }

  const img = new Image();
  img.onload = () => { bgImage.image(img); bgLayer.draw(); };
  img.onerror = () => {
    $("background-note").textContent = "No still of this video is stored yet: zones are drawn on a blank frame of the video's size.";
  };
  img.src = wrap.dataset.backgroundUrl;

  function pointer() {
    const p = stage.getRelativePointerPosition() || { x: 0, y: 0 };
    return { x: clamp(p.x, 0, W), y: clamp(p.y, 0, H) };
  }
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const round = (v) => Math.round(v * 10) / 10;

  // --- geometry helpers ---------------------------------------------------------------
  function signedArea(ring) {
    let a = 0;
    for (let i = 0; i < ring.length; i++) {
      const [x1, y1] = ring[i];
      const [x2, y2] = ring[(i + 1) % ring.length];
      a += x1 * y2 - x2 * y1;
    }
    return a / 2;
  }
  function zoneArea(z) {
    if (z.shape === "rect") return z.w * z.h;
    if (z.shape === "circle") return Math.PI * z.r * z.r;
    return Math.abs(signedArea(z.points)) - (z.holes || []).reduce((s, h) => s + Math.abs(signedArea(h)), 0);
  }
  function bbox(z) {
    if (z.shape === "rect") return [z.x, z.y, z.x + z.w, z.y + z.h];
    if (z.shape === "circle") return [z.cx - z.r, z.cy - z.r, z.cx + z.r, z.cy + z.r];
    const xs = z.points.map((p) => p[0]);
    const ys = z.points.map((p) => p[1]);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  }
  function moved(z, dx, dy) {
    const out = JSON.parse(JSON.stringify(z));
    const [x1, y1, x2, y2] = bbox(z);
    // Keep the zone inside the frame: the server refuses zones off it.
    dx = clamp(dx, -x1, W - x2);
    dy = clamp(dy, -y1, H - y2);
    if (out.shape === "rect") { out.x = round(z.x + dx); out.y = round(z.y + dy); }
    else if (out.shape === "circle") { out.cx = round(z.cx + dx); out.cy = round(z.cy + dy); }
    else {
      out.points = z.points.map(([x, y]) => [round(x + dx), round(y + dy)]);
      if (z.holes) out.holes = z.holes.map((ring) => ring.map(([x, y]) => [round(x + dx), round(y + dy)]));
    }
    return out;
  }
  function anchor(z) {
    const [x1, y1] = bbox(z);
    return { x: x1, y: y1 };
  }
  function uniqueName(base) {
    const names = new Set(state.zones.map((z) => z.name.toLowerCase()));
    for (let i = 1; ; i++) {
      const name = `${base} ${i}`;
      if (!names.has(name.toLowerCase())) return name;
    }
  }

  // --- drawing --------------------------------------------------------------------------
  function zoneNode(z, i) {
    const color = COLORS[i % COLORS.length];
    const common = {
      stroke: color, strokeWidth: (i === state.selected ? 3 : 2) / k, fill: color + "40",
      draggable: canWrite && state.tool === "select" && i === state.selected, name: "zone",
    };
    let node;
    if (z.shape === "rect") {
      node = new Konva.Rect({ ...common, x: z.x, y: z.y, width: z.w, height: z.h });
    } else if (z.shape === "circle") {
      node = new Konva.Circle({ ...common, x: z.cx, y: z.cy, radius: z.r });
    } else {
      const shell = z.points;
      const cw = signedArea(shell) > 0;
      // Holes wound against the shell are cut out under the default non-zero rule.
      const holes = (z.holes || []).map((h) => ((signedArea(h) > 0) === cw ? h.slice().reverse() : h));
      node = new Konva.Shape({
        ...common, x: 0, y: 0,
        sceneFunc(ctx, shape) {
          ctx.beginPath();
          [shell, ...holes].forEach((ring) => {
            ring.forEach(([x, y], j) => (j ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
            ctx.closePath();
          });
          ctx.fillStrokeShape(shape);
        },
      });
    }
    node.on("mousedown touchstart", (e) => {
      if (state.tool !== "select") return;
      e.cancelBubble = true;
      if (state.selected !== i) { state.selected = i; render(); }
    });
    node.on("dragend", () => {
      const dx = z.shape === "polygon" ? node.x() : z.shape === "rect" ? node.x() - z.x : node.x() - z.cx;
      const dy = z.shape === "polygon" ? node.y() : z.shape === "rect" ? node.y() - z.y : node.y() - z.cy;
      state.zones[i] = moved(z, dx, dy);
      changed();
    });
    node.on("transformend", () => {
      const sx = node.scaleX();
      const sy = node.scaleY();
      node.scale({ x: 1, y: 1 });
      if (z.shape === "rect") {
        const x = clamp(node.x(), 0, W);
        const y = clamp(node.y(), 0, H);
        state.zones[i] = { ...z, x: round(x), y: round(y),
          w: round(Math.min(node.width() * sx, W - x)), h: round(Math.min(node.height() * sy, H - y)) };
      } else if (z.shape === "circle") {
        const cx = node.x();
        const cy = node.y();
        const r = Math.min(z.r * Math.sqrt(sx * sy), cx, cy, W - cx, H - cy);
        state.zones[i] = { ...z, cx: round(cx), cy: round(cy), r: round(r) };
      }
      changed();
    });
    return node;
  }

  function label(text, x, y, color) {
    const l = new Konva.Label({ x, y, listening: false });
    l.add(new Konva.Tag({ fill: color || "rgba(0,0,0,0.65)", cornerRadius: 2 / k }));
    l.add(new Konva.Text({ text, fontSize: 13 / k, padding: 3 / k, fill: "#fff" }));
    return l;
  }

  function handle(x, y, color, onMove) {
    const c = new Konva.Circle({
      x, y, radius: 6 / k, fill: color, stroke: "#fff", strokeWidth: 1.5 / k,
      draggable: canWrite && state.tool === "select",
    });
    c.on("mousedown touchstart", (e) => { e.cancelBubble = true; });
    c.on("dragmove", () => {
      c.position({ x: clamp(c.x(), 0, W), y: clamp(c.y(), 0, H) });
      onMove(c.x(), c.y());
    });
    c.on("dragend", () => changed());
    return c;
  }

  function render() {
    zoneLayer.destroyChildren();
    transformer.nodes([]);
    zoneLayer.add(transformer);
    // Largest first, so zones inside others (an open field's centre) stay on top.
    const order = state.zones.map((z, i) => i).sort((a, b) => zoneArea(state.zones[b]) - zoneArea(state.zones[a]));
    order.forEach((i) => {
      const z = state.zones[i];
      const node = zoneNode(z, i);
      zoneLayer.add(node);
      const a = anchor(z);
      zoneLayer.add(label(z.name, a.x, a.y, COLORS[i % COLORS.length]));
      if (i === state.selected && canWrite && state.tool === "select") {
        if (z.shape === "rect" || z.shape === "circle") {
          transformer.keepRatio(z.shape === "circle");
          transformer.enabledAnchors(z.shape === "circle"
            ? ["top-left", "top-right", "bottom-left", "bottom-right"]
            : ["top-left", "top-center", "top-right", "middle-left", "middle-right", "bottom-left", "bottom-center", "bottom-right"]);
          transformer.nodes([node]);
        } else {
          z.points.forEach((p, j) => {
            zoneLayer.add(handle(p[0], p[1], COLORS[i % COLORS.length], (x, y) => {
              z.points[j] = [round(x), round(y)];
              zoneLayer.batchDraw();
            }));
          });
        }
      }
    });
    transformer.moveToTop();
    drawOverlay();
    renderTable();
    renderCalibration();
  }

  function outlineShape() { return $("outline-shape").value; }

  function drawOverlay() {
    overlay.destroyChildren();
    if (state.outline) {
      const o = state.outline;
      const style = { stroke: "#ffd400", strokeWidth: 2 / k, dash: [8 / k, 5 / k], listening: false };
      if (o.shape === "circle") overlay.add(new Konva.Circle({ ...style, x: o.cx, y: o.cy, radius: o.r }));
      else if (o.shape === "polygon") overlay.add(new Konva.Line({ ...style, points: o.points.flat(), closed: true }));
      else overlay.add(new Konva.Rect({ ...style, x: o.x, y: o.y, width: o.w, height: o.h }));
      // Top-right corner, inside: zone names sit top-left, the ruler usually along a wall.
      const [, y1, x2] = bbox(o);
      const tag = label("arena outline", x2, y1, "rgba(120,100,0,0.8)");
      tag.x(x2 - tag.width());
      overlay.add(tag);
    }
    state.objects.forEach(([x, y], j) => {
      overlay.add(new Konva.Circle({ x, y, radius: 5 / k, fill: "#ff00aa", stroke: "#fff",
        strokeWidth: 1 / k, listening: false }));
      overlay.add(label(`object ${j + 1}`, x + 6 / k, y + 6 / k, "rgba(160,0,100,0.8)"));
    });
    if (state.ruler) {
      const r = state.ruler;
      overlay.add(new Konva.Line({ points: [r.x1, r.y1, r.x2, r.y2], stroke: "#00e5ff",
        strokeWidth: 3 / k, listening: false, shadowColor: "#000", shadowBlur: 2 / k }));
      const redraw = () => { renderCalibration(); drawOverlay(); };
      overlay.add(handle(r.x1, r.y1, "#00a5bb", (x, y) => { r.x1 = round(x); r.y1 = round(y); redraw(); }));
      overlay.add(handle(r.x2, r.y2, "#00a5bb", (x, y) => { r.x2 = round(x); r.y2 = round(y); redraw(); }));
      overlay.add(label(`${rulerPx().toFixed(1)} px`, (r.x1 + r.x2) / 2, (r.y1 + r.y2) / 2, "rgba(0,110,130,0.85)"));
    }
    if (draft) overlay.add(draft);
    if (state.polygon.length) {
      const pts = state.polygon.flat();
      overlay.add(new Konva.Line({ points: pts, stroke: "#fff", strokeWidth: 2 / k,
        dash: [6 / k, 4 / k], listening: false }));
      state.polygon.forEach(([x, y], j) => overlay.add(new Konva.Circle({
        x, y, radius: (j === 0 ? 6 : 4) / k, fill: j === 0 ? "#ffd400" : "#fff", listening: false })));
    }
    overlay.batchDraw();
  }

  // --- tools ------------------------------------------------------------------------------
  let draft = null;
  let start = null;
  stage.on("mousedown touchstart", (e) => {
    if (!canWrite && state.tool !== "select") return;
    const p = pointer();
    if (state.tool === "select") {
      if (e.target === stage || e.target.getLayer() === bgLayer) { state.selected = -1; render(); }
      return;
    }
    if (state.tool === "polygon" || (state.tool === "outline" && outlineShape() === "polygon")) return; // clicks, below
    if (state.tool === "objects") {
      const near = state.objects.findIndex(([x, y]) => Math.hypot(x - p.x, y - p.y) < 10 / k);
      if (near >= 0) state.objects.splice(near, 1);
      else state.objects.push([round(p.x), round(p.y)]);
      changed();
      return;
    }
    start = p;
    if (state.tool === "rect" || (state.tool === "outline" && outlineShape() === "rect")) {
      draft = new Konva.Rect({ x: p.x, y: p.y, width: 0, height: 0, stroke: state.tool === "outline" ? "#ffd400" : "#fff",
        strokeWidth: 2 / k, dash: [6 / k, 4 / k], listening: false });
    } else if (state.tool === "circle" || state.tool === "outline") {
      draft = new Konva.Circle({ x: p.x, y: p.y, radius: 0, stroke: "#fff", strokeWidth: 2 / k,
        dash: [6 / k, 4 / k], listening: false });
    } else if (state.tool === "ruler") {
      draft = new Konva.Line({ points: [p.x, p.y, p.x, p.y], stroke: "#00e5ff", strokeWidth: 3 / k, listening: false });
    }
    drawOverlay();
  });

  stage.on("mousemove touchmove", () => {
    const p = pointer();
    $("cursor-readout").textContent = `${p.x.toFixed(0)}, ${p.y.toFixed(0)} px`;
    if (polygonMode() && state.polygon.length) {
      drawOverlay();
      const last = state.polygon[state.polygon.length - 1];
      overlay.add(new Konva.Line({ points: [last[0], last[1], p.x, p.y], stroke: "#fff",
        strokeWidth: 1 / k, listening: false }));
      overlay.batchDraw();
      return;
    }
    if (!draft || !start) return;
    if (draft instanceof Konva.Rect) {
      draft.setAttrs({ x: Math.min(start.x, p.x), y: Math.min(start.y, p.y),
        width: Math.abs(p.x - start.x), height: Math.abs(p.y - start.y) });
    } else if (draft instanceof Konva.Circle) {
      const r = Math.min(Math.hypot(p.x - start.x, p.y - start.y), start.x, start.y, W - start.x, H - start.y);
      draft.radius(r);
    } else {
      draft.points([start.x, start.y, p.x, p.y]);
    }
    overlay.batchDraw();
  });

  function finishDraft() {
    if (!draft || !start) return;
    const p = pointer();
    const tool = state.tool;
    const x = round(Math.min(start.x, p.x));
    const y = round(Math.min(start.y, p.y));
    const w = round(Math.abs(p.x - start.x));
    const h = round(Math.abs(p.y - start.y));
    if (tool === "rect" && w >= 3 && h >= 3) {
      state.zones.push({ name: uniqueName("zone"), shape: "rect", x, y, w, h });
      state.selected = state.zones.length - 1;
    } else if (tool === "outline" && outlineShape() === "rect" && w >= 10 && h >= 10) {
      state.outline = { name: "arena", shape: "rect", x, y, w, h };
    } else if (tool === "outline" && outlineShape() === "circle" && draft.radius() >= 5) {
      state.outline = { name: "arena", shape: "circle", cx: round(start.x), cy: round(start.y), r: round(draft.radius()) };
    } else if (tool === "circle" && draft.radius() >= 2) {
      state.zones.push({ name: uniqueName("zone"), shape: "circle", cx: round(start.x), cy: round(start.y), r: round(draft.radius()) });
      state.selected = state.zones.length - 1;
    } else if (tool === "ruler" && Math.hypot(p.x - start.x, p.y - start.y) >= 2) {
      state.ruler = { x1: round(start.x), y1: round(start.y), x2: round(p.x), y2: round(p.y) };
      if (state.calibration === "none") setCalibration("ruler");
      $("ruler-length").focus();
    }
    draft.destroy();
    draft = null;
    start = null;
    changed();
  }
  stage.on("mouseup touchend", finishDraft);
  window.addEventListener("mouseup", () => { if (draft) finishDraft(); });

  function polygonMode() {
    return state.tool === "polygon" || (state.tool === "outline" && outlineShape() === "polygon");
  }

  stage.on("click tap", () => {
    if (!polygonMode() || !canWrite) return;
    const p = pointer();
    const pts = state.polygon;
    if (pts.length >= 3 && Math.hypot(pts[0][0] - p.x, pts[0][1] - p.y) < 10 / k) { closePolygon(); return; }
    const last = pts[pts.length - 1];
    if (!last || Math.hypot(last[0] - p.x, last[1] - p.y) > 0.5) pts.push([round(p.x), round(p.y)]);
    drawOverlay();
  });
  // Konva calls two clicks within 400 ms a double click wherever they land: only one on the
  // last corner (a real double click) closes the polygon, so quick clicking keeps corners.
  stage.on("dblclick dbltap", () => {
    if (!polygonMode()) return;
    const p = pointer();
    const last = state.polygon[state.polygon.length - 1];
    if (state.polygon.length >= 3 && last && Math.hypot(last[0] - p.x, last[1] - p.y) < 10 / k) closePolygon();
  });

  function closePolygon() {
    if (state.tool === "outline") {
      if (state.polygon.length >= 3) state.outline = { name: "arena", shape: "polygon", points: state.polygon };
    } else if (state.polygon.length >= 3) {
      state.zones.push({ name: uniqueName("zone"), shape: "polygon", points: state.polygon });
      state.selected = state.zones.length - 1;
    }
    state.polygon = [];
    changed();
  }

  function setTool(tool) {
    state.tool = tool;
    state.polygon = [];
    const radio = document.querySelector(`input[name=arena-tool][value=${tool}]`);
    if (radio) radio.checked = true;
    const shape = tool === "outline" && outlineShape() !== "rect" ? `outline-${outlineShape()}` : tool;
    $("tool-hint").textContent = HINTS[shape] || "";
    wrap.classList.toggle("drawing", tool !== "select");
    render();
  }
  document.querySelectorAll("input[name=arena-tool]").forEach((r) => r.addEventListener("change", () => setTool(r.value)));
  $("outline-shape").addEventListener("change", () => setTool("outline"));

  document.addEventListener("keydown", (e) => {
    const tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    if (e.key === "Escape") { state.polygon = []; draft = null; drawOverlay(); }
    else if (e.key === "Enter" && polygonMode()) closePolygon();
    else if ((e.key === "Delete" || e.key === "Backspace") && state.selected >= 0 && canWrite) {
      state.zones.splice(state.selected, 1);
      state.selected = -1;
      changed();
      e.preventDefault();
    }
  });

  // --- side panels ------------------------------------------------------------------------
  function renderTable() {
    const body = document.querySelector("#zone-table tbody");
    body.replaceChildren();
    state.zones.forEach((z, i) => {
      const tr = el("tr", { class: i === state.selected ? "table-active" : "", "data-zone": String(i) });
      const nameCell = el("td", { class: "ps-3" });
      const swatch = el("span", { class: `zone-swatch zone-color-${i % COLORS.length}` });
      if (canWrite) {
        const input = el("input", { class: "form-control form-control-sm d-inline-block w-auto zone-name", value: z.name, maxlength: "100", "aria-label": "Zone name" });
        input.addEventListener("change", () => { z.name = input.value.trim(); changed(); });
        nameCell.append(swatch, input);
      } else {
        nameCell.append(swatch, z.name);
      }
      const del = el("td", { class: "text-end" });
      if (canWrite) {
        const btn = el("button", { type: "button", class: "btn btn-sm btn-link text-danger p-0", title: "Delete this zone" });
        btn.append(el("i", { class: "bi bi-trash" }));
        btn.addEventListener("click", (e) => { e.stopPropagation(); state.zones.splice(i, 1); state.selected = -1; changed(); });
        del.append(btn);
      }
      tr.append(nameCell, el("td", { text: z.shape + (z.holes && z.holes.length ? " with hole" : "") }),
        el("td", { text: z.group || "" }), el("td", { class: "text-end", text: zoneArea(z).toFixed(0) }), del);
      tr.addEventListener("click", (e) => {
        if (e.target.tagName === "INPUT") return;
        state.selected = i; setTool("select");
      });
      body.append(tr);
    });
    $("zone-count").textContent = String(state.zones.length);
    $("zone-empty").classList.toggle("d-none", state.zones.length > 0);
  }

  function rulerPx() {
    const r = state.ruler;
    return r ? Math.hypot(r.x2 - r.x1, r.y2 - r.y1) : 0;
  }

  function pxPerCm() {
    if (state.calibration === "ruler") {
      const len = parseFloat($("ruler-length").value);
      return state.ruler && len > 0 ? rulerPx() / len : null;
    }
    if (state.calibration === "arena" && state.outline) {
      const wc = parseFloat($("arena-width-cm").value);
      const hc = parseFloat($("arena-height-cm").value);
      const [wp, hp] = outlineSize(state.outline);
      // The server's rule (tracking.behavior.calibration): geometric mean of the two scales.
      return wc > 0 && hc > 0 && wp ? Math.sqrt((wp / wc) * (hp / hc)) : null;
    }
    return null;
  }

  // Width and height in px as calibration_from_arena measures them (a polygon: 4 corners).
  function outlineSize(o) {
    if (o.shape === "rect") return [o.w, o.h];
    if (o.shape === "circle") return [2 * o.r, 2 * o.r];
    if (o.points.length !== 4) return [null, null];
    const d = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);
    const c = o.points;
    return [(d(c[0], c[1]) + d(c[3], c[2])) / 2, (d(c[1], c[2]) + d(c[0], c[3])) / 2];
  }

  function renderCalibration() {
    const ppc = pxPerCm();
    $("calibration-readout").textContent = ppc ? `${ppc.toFixed(3)} px/cm` : (state.calibration === "none" ? "pixels" : "incomplete");
    $("ruler-readout").textContent = state.ruler ? `Ruler: ${rulerPx().toFixed(1)} px` : "Draw the ruler with the Ruler tool.";
    $("ruler-fields").classList.toggle("opacity-50", state.calibration !== "ruler");
    $("arena-size-fields").classList.toggle("opacity-50", state.calibration !== "arena");
  }

  function setCalibration(value) {
    state.calibration = value;
    const radio = $(`calibration-${value}`);
    if (radio) radio.checked = true;
    renderCalibration();
  }
  document.querySelectorAll("input[name=calibration]").forEach((r) => r.addEventListener("change", () => { setCalibration(r.value); changed(false); }));
  ["ruler-length", "arena-width-cm", "arena-height-cm"].forEach((id) => $(id).addEventListener("input", () => { renderCalibration(); state.dirty = true; }));
  $("membership").addEventListener("change", () => { state.membership = $("membership").value; state.dirty = true; });

  function changed(redraw = true) {
    state.dirty = true;
    $("arena-status").textContent = canWrite ? "Unsaved changes." : "";
    if (redraw) render();
  }

  // --- presets --------------------------------------------------------------------------
  document.querySelectorAll("[data-preset]").forEach((btn) => btn.addEventListener("click", () => {
    state.activePreset = btn.dataset.preset;
    document.querySelectorAll("[data-preset]").forEach((b) => b.classList.toggle("active", b === btn));
    document.querySelectorAll(".preset-params").forEach((d) => d.classList.toggle("d-none", d.dataset.for !== state.activePreset));
    $("preset-apply").classList.toggle("d-none", !canWrite);
    const needsObjects = state.activePreset === "novel_object_recognition";
    if (needsObjects ? !state.objects.length : !state.outline) setTool(needsObjects ? "objects" : "outline");
    $("preset-hint").textContent = needsObjects ? "Click each object, then apply." : "Drag the arena outline (or keep it), then apply.";
  }));

  function presetParams(name) {
    const num = (id) => parseFloat($(id).value);
    if (name === "open_field") return { outline: state.outline, side_fraction: num("of-side-fraction") };
    if (name === "elevated_plus_maze") return { outline: state.outline, arm_width: num("epm-arm-width"), open_axis: $("epm-open-axis").value };
    if (name === "light_dark_box") return { outline: state.outline, light_side: $("ld-light-side").value, light_fraction: num("ld-light-fraction") };
    return { objects: state.objects, radius: num("nor-radius") };
  }

  $("preset-apply").addEventListener("click", async () => {
    const name = state.activePreset;
    if (!name) return;
    const params = presetParams(name);
    if ("outline" in params && !params.outline) { showErrors($("arena-errors"), new Error("Drag the arena outline first (Arena outline tool).")); setTool("outline"); return; }
    try {
      const result = await api.post(root.dataset.presetUrl, { preset: name, preset_params: params });
      state.zones = result.zones;
      state.preset = name;
      state.presetParams = result.preset_params;
      state.unions = result.unions;
      state.selected = -1;
      $("arena-errors").replaceChildren();
      setTool("select");
      changed();
      $("arena-status").textContent = `Preset applied: ${result.zones.length} zones. Save to keep them.`;
    } catch (err) {
      showErrors($("arena-errors"), err);
    }
  });

  // --- load / save ----------------------------------------------------------------------
  function load(data) {
    state.zones = data.zones || [];
    state.unions = data.unions || {};
    state.membership = data.membership || "centre";
    state.preset = data.preset || "";
    state.presetParams = data.preset_params || {};
    state.ruler = data.ruler ? { x1: data.ruler.x1, y1: data.ruler.y1, x2: data.ruler.x2, y2: data.ruler.y2 } : null;
    $("ruler-length").value = data.ruler ? data.ruler.length_cm : "";
    const outline = (data.arena && data.arena.outline) || state.presetParams.outline || null;
    if (outline && ["rect", "circle", "polygon"].includes(outline.shape)) {
      state.outline = outline;
      $("outline-shape").value = outline.shape;
    }
    if (Array.isArray(state.presetParams.objects)) state.objects = state.presetParams.objects;
    if (data.arena) {
      $("arena-width-cm").value = data.arena.width_cm;
      $("arena-height-cm").value = data.arena.height_cm;
    }
    $("membership").value = state.membership;
    setCalibration(data.calibration || "none");
    state.selected = -1;
    state.dirty = false;
    render();
  }

  function body() {
    const out = {
      calibration: state.calibration,
      zones: state.zones,
      membership: state.membership,
      preset: state.preset || null,
      preset_params: state.preset ? state.presetParams : {},
      unions: Object.fromEntries(Object.entries(state.unions).filter(([, parts]) =>
        parts.every((p) => state.zones.some((z) => z.name === p)))),
    };
    const len = $("ruler-length").value;
    if (state.ruler && (state.calibration === "ruler" || len !== "")) {
      out.ruler = { ...state.ruler, length_cm: len === "" ? null : parseFloat(len) };
    }
    if (state.calibration === "arena") {
      const wc = $("arena-width-cm").value;
      const hc = $("arena-height-cm").value;
      out.arena = { outline: state.outline, width_cm: wc === "" ? null : parseFloat(wc), height_cm: hc === "" ? null : parseFloat(hc) };
    }
    return out;
  }

  function highlight(err) {
    if (!(err instanceof api.ApiError) || !err.body) return;
    const field = Object.keys(err.body).find((f) => /^zones\[\d+\]/.test(f));
    if (field) { state.selected = Number(field.match(/\d+/)[0]); render(); }
  }

  const saveBtn = $("arena-save");
  if (saveBtn) saveBtn.addEventListener("click", async () => {
    saveBtn.disabled = true;
    $("arena-status").textContent = "Saving…";
    try {
      const data = await api.put(root.dataset.arenaUrl, body());
      load(data);
      $("arena-errors").replaceChildren();
      $("arena-status").textContent = `Saved: ${data.zones.length} zones, ` +
        (data.px_per_cm ? `${data.px_per_cm.toFixed(3)} px/cm.` : "not calibrated (pixels).");
      $("arena-status").dataset.saved = "1";
    } catch (err) {
      $("arena-status").textContent = "Not saved.";
      showErrors($("arena-errors"), err);
      highlight(err);
    } finally {
      saveBtn.disabled = false;
    }
  });

  $("zones-export").addEventListener("click", () => {
    const data = { frame_width: W, frame_height: H, ...body(), px_per_cm: pxPerCm() };
    const base = (root.dataset.videoName || "video").replace(/\.[^.]+$/, "").replace(/[^\w.-]+/g, "_");
    download(`${base}-ZONES.json`, JSON.stringify(data, null, 2));
  });

  $("zones-import").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try {
      const data = JSON.parse(await file.text());
      const zones = Array.isArray(data) ? data : data.zones;
      if (!Array.isArray(zones)) throw new Error("The file holds no zone list (a list, or {\"zones\": [...]}).");
      const note = !Array.isArray(data) && data.frame_width && (data.frame_width !== W || data.frame_height !== H)
        ? ` They were drawn on a ${data.frame_width}×${data.frame_height} frame; this video is ${W}×${H}.` : "";
      if (Array.isArray(data)) load({ ...body(), ruler: null, zones });
      else load({ ...body(), ...data, zones });
      state.dirty = true;
      $("arena-status").textContent = `Imported ${zones.length} zones from ${file.name}; save to keep them.${note}`;
    } catch (err) {
      showErrors($("arena-errors"), err);
    }
  });

  // --- templates ------------------------------------------------------------------------
  const templateSave = $("template-save");
  if (templateSave) templateSave.addEventListener("click", async () => {
    if (state.dirty) { $("template-status").textContent = "Save the arena first: the template copies the saved one."; return; }
    try {
      const t = await api.post(root.dataset.templatesUrl, { name: $("template-name").value, video: Number(root.dataset.videoId) });
      const option = el("option", { value: String(t.id), "data-apply-url": t.links.apply, text: t.name });
      $("template-select").append(option);
      $("template-status").textContent = `Template “${t.name}” saved.`;
    } catch (err) {
      $("template-status").textContent = err instanceof api.ApiError ? err.lines().join(" ") : String(err);
    }
  });
  const templateApply = $("template-apply");
  if (templateApply) templateApply.addEventListener("click", async () => {
    const option = $("template-select").selectedOptions[0];
    if (!option || !option.value) return;
    try {
      await api.post(option.dataset.applyUrl, { videos: [{ id: Number(root.dataset.videoId),
        dx: parseFloat($("nudge-dx").value) || 0, dy: parseFloat($("nudge-dy").value) || 0,
        scale: parseFloat($("nudge-scale").value) || 1 }] });
      load(await api.get(root.dataset.arenaUrl));
      $("template-status").textContent = `Template “${option.textContent}” applied and saved.`;
    } catch (err) {
      $("template-status").textContent = err instanceof api.ApiError ? err.lines().join(" ") : String(err);
    }
  });

  window.addEventListener("beforeunload", (e) => { if (state.dirty && canWrite) { e.preventDefault(); e.returnValue = ""; } });
  let resizeTimer = null;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(fit, 150); });

  setTool("select");
  fit();
  api.get(root.dataset.arenaUrl).then(load).catch((err) => showErrors($("arena-errors"), err));
}

initArena();
