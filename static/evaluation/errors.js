// Error browser: frames of an evaluation, worst first, boxes drawn as an SVG overlay.
// Boxes are original-image pixels (x, y top-left, w, h); the SVG viewBox is the image size.
(function () {
  "use strict";
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
      t.dataset.x = box.x;
      t.dataset.y = box.y;
      svg.appendChild(t);
    }
  }

  // The SVG's user units are image pixels, scaled to the card's width: labels are sized
  // and placed in screen pixels (12 px text) once the card is laid out.
  function placeLabels(svg, imageWidth) {
    const shown = svg.getBoundingClientRect().width;
    if (!shown) return;
    const k = imageWidth / shown; // image pixels per screen pixel
    svg.style.fontSize = `${12 * k}px`;
    svg.style.strokeWidth = `${3 * k}px`;
    svg.querySelectorAll("text").forEach((t) => {
      const x = Number(t.dataset.x);
      const y = Number(t.dataset.y);
      t.setAttribute("x", x + 2 * k);
      // Above the box when there is room, else just inside its top edge.
      t.setAttribute("y", y >= 14 * k ? y - 3 * k : y + 13 * k);
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
    const response = await fetch(`${root.dataset.predictionsUrl}?${params}`, {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    if (!response.ok || mine !== generation) return;
    const data = await response.json();
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
})();
