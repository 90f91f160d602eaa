// Error browser: frames of an evaluation, worst first, boxes drawn as an SVG overlay.
// Boxes are original-image pixels (x, y top-left, w, h); the SVG viewBox is the image size.
import { get } from "../webapp/api.js";

function initErrorBrowser() {
  const root = document.getElementById("error-browser");
  if (!root) return;
  const grid = document.getElementById("error-grid");
  const more = document.getElementById("error-more");
  const empty = document.getElementById("error-empty");
  const order = document.getElementById("error-order");
  const only = document.getElementById("error-only");
  const template = document.getElementById("error-card");
  const lowIou = Number(root.dataset.lowIou);
  const SVG = "http://www.w3.org/2000/svg";
  const PAGE = 24;
  let offset = 0;
  let generation = 0;

  function rect(svg, box, cls, label) {
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("x", box.x);
    r.setAttribute("y", box.y);
    r.setAttribute("width", box.w);
    r.setAttribute("height", box.h);
    r.setAttribute("class", cls);
    svg.appendChild(r);
    if (label) {
      const t = document.createElementNS(SVG, "text");
      t.textContent = label;
      Object.assign(t.dataset, { x: box.x, y: box.y, w: box.w, h: box.h });
      svg.appendChild(t);
    }
  }

  function intersects(a, b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  }

  // The SVG's user units are image pixels, scaled to the card's width: labels are sized in
  // screen pixels (12 px text) once the card is laid out, then placed one by one where they
  // hide no label already placed. A miss and the false positive beside it, or two stacked
  // detections, want the same corner: each tries above its box, inside its top, below it,
  // inside its bottom, then the nearest free line; all within the image.
  function placeLabels(svg, imageWidth) {
    const shown = svg.getBoundingClientRect().width;
    if (!shown) return;
    const k = imageWidth / shown; // image pixels per screen pixel
    const imageHeight = svg.viewBox.baseVal.height || imageWidth;
    svg.style.fontSize = `${12 * k}px`;
    svg.style.strokeWidth = `${3 * k}px`;
    const lineHeight = 15 * k;
    const placed = [];
    svg.querySelectorAll("text").forEach((t) => {
      const box = { x: Number(t.dataset.x), y: Number(t.dataset.y),
                    w: Number(t.dataset.w), h: Number(t.dataset.h) };
      const width = Math.min(imageWidth, t.getComputedTextLength() + 4 * k);
      const at = (y) => ({
        x: Math.max(0, Math.min(box.x + 2 * k, imageWidth - width)),
        y: Math.max(0, Math.min(y, imageHeight - lineHeight)),
        w: width,
        h: lineHeight,
      });
      const free = (spot) => !placed.some((p) => intersects(p, spot));
      const wanted = [box.y - lineHeight, box.y, box.y + box.h, box.y + box.h - lineHeight];
      let spot = wanted.map(at).find(free);
      if (!spot) {
        // The nearest line up or down from the first wish that is free.
        const lines = Math.ceil(imageHeight / lineHeight);
        for (let step = 1; step <= lines && !spot; step += 1) {
          spot = [at(wanted[0] + step * lineHeight), at(wanted[0] - step * lineHeight)].find(free);
        }
      }
      spot = spot || at(wanted[0]);
      placed.push(spot);
      t.setAttribute("x", spot.x + k);
      t.setAttribute("y", spot.y + 11.5 * k); // the baseline of 12 px text in a 15 px line
    });
  }

  function card(p) {
    const node = template.content.firstElementChild.cloneNode(true);
    node.dataset.frame = p.frame;
    const img = node.querySelector("img");
    img.src = p.image_url;
    img.alt = `Frame ${p.frame}`;
    img.width = p.width;
    img.height = p.height;
    const svg = node.querySelector("svg");
    svg.setAttribute("viewBox", `0 0 ${p.width} ${p.height}`);
    svg.dataset.imageWidth = p.width;
    p.ground_truth.forEach((g) => rect(svg, g, g.matched ? "gt" : "gt missed", g.matched ? "" : "missed"));
    p.boxes.forEach((b) => {
      const cls = b.match < 0 ? "fp" : (b.iou < lowIou ? "tp low" : "tp");
      const label = b.match < 0 ? `FP ${b.score.toFixed(2)}` : `${b.score.toFixed(2)} · IoU ${b.iou.toFixed(2)}`;
      rect(svg, b, cls, label);
    });
    node.querySelector(".frame-title").textContent = `Frame ${p.frame_index}`;
    const badge = (sel, n, text) => {
      const el = node.querySelector(sel);
      if (n) el.textContent = text; else el.remove();
    };
    badge(".fp-badge", p.false_positives, `${p.false_positives} FP`);
    badge(".miss-badge", p.misses, `${p.misses} missed`);
    badge(".iou-badge", p.min_iou !== null && p.min_iou < lowIou, `IoU ${p.min_iou === null ? "" : p.min_iou.toFixed(2)}`);
    node.querySelector(".time-note").textContent = `${p.inference_ms.toFixed(1)} ms`;
    node.querySelector(".fix-link").href = p.editor_url;
    return node;
  }

  async function load(reset) {
    if (reset) { offset = 0; grid.replaceChildren(); generation += 1; }
    const mine = generation;
    const params = new URLSearchParams({
      order: order.value, errors: only.checked ? "true" : "false", limit: PAGE, offset,
    });
    let data;
    try {
      data = await get(`${root.dataset.predictionsUrl}?${params}`);
    } catch {
      return;
    }
    if (mine !== generation) return;
    data.results.forEach((p) => {
      const node = card(p);
      grid.appendChild(node);
      placeLabels(node.querySelector("svg"), p.width);
    });
    offset = data.next_offset || offset + data.results.length;
    more.classList.toggle("d-none", data.next_offset === null);
    empty.classList.toggle("d-none", data.count > 0);
    root.dataset.loaded = String(grid.children.length);
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      grid.querySelectorAll("svg").forEach((svg) => placeLabels(svg, Number(svg.dataset.imageWidth)));
    }, 150);
  });
  more.addEventListener("click", () => load(false));
  order.addEventListener("change", () => load(true));
  only.addEventListener("change", () => load(true));
  load(true);
}

initErrorBrowser();
