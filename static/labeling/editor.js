// The labeling editor: draw, edit and autosave boxes, one frame at a time.
//
// Boxes are kept in original-image pixels ({class_id, x, y, w, h}, top-left corner); the
// Konva stage's scale and offset map them to the screen, so zoom never changes the data.
// Every edit goes to the frame's FrameSaver (editor-autosave.js), which saves it within about
// a second; a 409 is shown to the user here, never overwritten.
(function () {
  "use strict";

  const root = document.getElementById("editor");
  if (!root || typeof Konva === "undefined" || !window.MouseTrackAutosave) return;
  if (!window.MouseTrackFrameList) return;
  const {
    round2, annOf, sameAnn, api, describeError, FrameSaver, saverFromDraft, recoverDrafts,
  } = window.MouseTrackAutosave;
  const FrameList = window.MouseTrackFrameList;

  // A drag shorter than this on screen, on either axis, is a slip of the mouse (or a click),
  // not a box: zoom in to draw a smaller one.
  const MIN_DRAW_SCREEN_PX = 12;
  const CLICK_SCREEN_PX = 3; // moved less than this: a click, no message
  const MIN_HANDLE_SCREEN_PX = 4; // resizing never collapses a box under the handles
  // Image pixels per side; the server refuses a new or changed box smaller than this.
  const MIN_BOX_PX = 4;
  const MAX_UNDO = 200;
  const COLOR_RE = /^#[0-9a-fA-F]{6}$/;

  const cfg = {
    projectId: root.dataset.projectId,
    canWrite: root.dataset.canWrite === "true",
    framesUrl: root.dataset.framesUrl,
    countsUrl: root.dataset.countsUrl,
    annotationUrl: (id) => root.dataset.annotationUrl.replace("{id}", String(id)),
    // Assisted labeling: a frame's proposals, accept/reject, the filtered list, accept-above.
    proposalsUrl: (id) => root.dataset.proposalsUrl.replace("{id}", String(id)),
    acceptUrl: (id) => root.dataset.proposalsAcceptUrl.replace("{id}", String(id)),
    rejectUrl: (id) => root.dataset.proposalsRejectUrl.replace("{id}", String(id)),
    proposalFramesUrl: root.dataset.proposalFramesUrl,
    acceptAboveUrl: root.dataset.acceptAboveUrl,
  };
  const DRAFT_PREFIX = "mousetrack.draft.p" + cfg.projectId + ".f";
  const classes = JSON.parse(document.getElementById("editor-classes").textContent);
  const classById = new Map(classes.map((c) => [c.id, c]));
  const $ = (id) => document.getElementById(id);

  const state = {
    list: null, // the filtered frame list, a page at a time (editor-frames.js)
    frame: null, // the shown frame (an API item of `list`)
    listToken: 0,
    image: null, // HTMLImageElement of the shown frame
    selected: -1, // index of the selected box in the shown frame's boxes
    activeClassId: classes.length ? classes[0].id : null,
    view: { scale: 1, x: 0, y: 0, fitted: true },
    loadToken: 0,
    gesture: null, // {kind: "draw"|"pan", ...} while the mouse is down
    spaceHeld: false,
  };
  const savers = new Map(); // frame id -> FrameSaver
  // How savers reach the page (see editor-autosave.js).
  const saverEnv = {
    url: cfg.annotationUrl, canWrite: cfg.canWrite, draftPrefix: DRAFT_PREFIX,
    onChange: () => updateSaveUi(), onSaved: (s) => onSaved(s), onConflict: (s) => onConflict(s),
  };
  const histories = new Map(); // frame id -> {undo, redo, lastKey, lastAt}
  // frame id -> {version, proposals: [{id, class_id, x, y, w, h, score, ...}], machine_label}
  const proposalsOf = new Map();

  // --- small helpers ---------------------------------------------------------------------

  function colorOf(classId) {
    const c = classById.get(classId);
    return c && COLOR_RE.test(c.color) ? c.color : "#adb5bd";
  }

  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  // Clip a box to the image and snap it to 0.01 px, as the server does; null if empty.
  function clampBox(box, width, height) {
    const x0 = Math.min(Math.max(box.x, 0), width);
    const y0 = Math.min(Math.max(box.y, 0), height);
    const x1 = Math.min(Math.max(box.x + box.w, 0), width);
    const y1 = Math.min(Math.max(box.y + box.h, 0), height);
    if (x1 - x0 < MIN_BOX_PX || y1 - y0 < MIN_BOX_PX) return null;
    return {
      class_id: box.class_id, x: round2(x0), y: round2(y0),
      w: round2(x1 - x0), h: round2(y1 - y0),
    };
  }

  // A box edit makes the frame "labeled" again (a review covers what was reviewed).
  function withDerivedStatus(ann) {
    const hasContent = ann.boxes.length > 0 || ann.is_negative;
    return Object.assign({}, ann, { status: hasContent ? "labeled" : "unlabeled" });
  }

  let toastTimer = null;
  function toast(text) {
    const el = $("editor-toast");
    el.textContent = text;
    el.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => el.classList.remove("show"), 2600);
  }

  function currentFrame() {
    return state.frame;
  }

  // The shown frame's place in the whole list (-1 while a jump replaces the window).
  function position() {
    return state.list && state.frame ? state.list.positionOf(state.frame.id) : -1;
  }

  const formatCount = (n) => n.toLocaleString("en-US");

  function currentSaver() {
    const frame = currentFrame();
    return frame ? savers.get(frame.id) || null : null;
  }

  function onSaved(saver) {
    const item = state.list ? state.list.find(saver.frameId) : null;
    if (item) {
      item.status = saver.server.status;
      item.is_negative = saver.server.is_negative;
      item.box_count = saver.server.boxes.length;
      item.version = saver.server.version;
    }
    if (saver === currentSaver()) render();
    scheduleCounts();
  }

  function onConflict(saver) {
    if (saver === currentSaver()) render();
  }

  // --- save status in the page -----------------------------------------------------------
  let countdownTimer = null;
  let conflictFocusKey = "";
  function updateSaveUi() {
    const all = Array.from(savers.values());
    const current = currentSaver();
    const conflicts = all.filter((s) => s.conflict);
    const refused = all.filter((s) => s.error);
    const failing = all.filter((s) => s.inflight && s.failures > 0);
    let kind = "saved";
    let icon = "bi-cloud-check";
    let text = "All changes saved";
    if (conflicts.length) {
      kind = "conflict"; icon = "bi-exclamation-triangle-fill"; text = "Conflict: not saved";
    } else if (refused.length) {
      kind = "error"; icon = "bi-x-octagon-fill"; text = "Not saved";
    } else if (failing.length) {
      kind = "retrying"; icon = "bi-cloud-slash"; text = "Not saved: retrying";
    } else if (all.some((s) => s.sending || s.inflight)) {
      kind = "saving"; icon = "bi-cloud-arrow-up"; text = "Saving…";
    } else if (all.some((s) => s.pending)) {
      kind = "pending"; icon = "bi-pencil"; text = "Unsaved changes";
    }
    root.dataset.saveState = kind;
    const indicator = $("save-indicator");
    indicator.className = "editor-save text-nowrap is-" + kind;
    indicator.querySelector("i").className = "bi " + icon;
    indicator.querySelector("span").textContent = text;

    // Conflict banner: the shown frame first, else a pointer to the frame that has one.
    const conflictSaver = current && current.conflict ? current : conflicts[0];
    const banner = $("conflict-banner");
    banner.classList.toggle("d-none", !conflictSaver);
    if (conflictSaver) {
      const theirs = conflictSaver.conflict;
      const who = theirs.annotated_by ? theirs.annotated_by : "another session";
      const onThis = conflictSaver === current;
      const where = onThis ? "This frame" : "Frame " + conflictSaver.frameId;
      $("conflict-text").textContent = conflictSaver.conflictReason
        ? where + ": " + conflictSaver.conflictReason + " Your last changes are kept here."
        : where + " was saved by " + who + " (now version " + theirs.version + ", "
          + theirs.boxes.length + " box" + (theirs.boxes.length === 1 ? "" : "es")
          + (onThis ? ", dotted" : "") + ") while you were editing. Your last changes are"
          + " kept here but were not saved: nothing is saved until you choose.";
      ["conflict-reload", "conflict-merge", "conflict-keep"].forEach(
        (id) => $(id).classList.toggle("d-none", !onThis));
      $("conflict-open").classList.toggle("d-none", onThis);
      banner.dataset.frameId = String(conflictSaver.frameId);
    }
    // A conflict on the shown frame takes the keyboard focus once, so the choice is one
    // Enter (keep theirs) or a Tab or two away.
    const focusKey = current && current.conflict
      ? current.frameId + ":" + current.conflict.version : "";
    if (focusKey && focusKey !== conflictFocusKey && !isTyping(document.activeElement)) {
      $("conflict-reload").focus();
    }
    conflictFocusKey = focusKey;

    // Failed-save banner with a live countdown until the next attempt.
    const errorBanner = $("save-error-banner");
    const shown = failing[0] || refused[0];
    errorBanner.classList.toggle("d-none", !shown);
    clearInterval(countdownTimer);
    if (shown && shown.error) {
      $("save-error-text").textContent = "The server refused the changes to "
        + (shown === current ? "this frame" : "frame " + shown.frameId) + ": " + shown.error
        + " Undo or fix the box and it is saved again.";
      $("save-retry").classList.add("d-none");
    } else if (shown) {
      const tick = () => {
        const secs = Math.max(0, Math.ceil((shown.retryAt - Date.now()) / 1000));
        $("save-error-text").textContent = "Couldn't save: " + shown.lastFailure + ". "
          + (shown.sending ? "Trying again now…" : "Retrying in " + secs + " s.")
          + " Your changes are kept in this browser until they are saved.";
      };
      tick();
      countdownTimer = setInterval(tick, 1000);
      $("save-retry").classList.remove("d-none");
    }
  }

  // --- the stage -------------------------------------------------------------------------
  const wrap = $("stage-wrap");
  const container = $("editor-canvas");
  const stage = new Konva.Stage({
    container: container, width: container.clientWidth || 800,
    height: container.clientHeight || 600,
  });
  const layer = new Konva.Layer();
  stage.add(layer);
  const imageNode = new Konva.Image({ x: 0, y: 0, listening: false });
  const imageFrame = new Konva.Rect({
    x: 0, y: 0, stroke: "rgba(255,255,255,0.35)", strokeWidth: 1,
    strokeScaleEnabled: false, listening: false,
  });
  const boxGroup = new Konva.Group();
  const labelGroup = new Konva.Group({ listening: false });
  const transformer = new Konva.Transformer({
    rotateEnabled: false, flipEnabled: false, keepRatio: false, ignoreStroke: true,
    anchorSize: 9, anchorCornerRadius: 2, anchorStroke: "#0d6efd", anchorFill: "#ffffff",
    borderStroke: "#ffffff", borderDash: [4, 3], borderStrokeWidth: 1,
    enabledAnchors: cfg.canWrite
      ? ["top-left", "top-center", "top-right", "middle-right", "middle-left",
        "bottom-left", "bottom-center", "bottom-right"]
      : [],
    resizeEnabled: cfg.canWrite,
  });
  const drawRect = new Konva.Rect({
    visible: false, stroke: "#ffffff", strokeWidth: 1.5, dash: [6, 4],
    strokeScaleEnabled: false, listening: false,
  });
  const guides = new Konva.Group({ listening: false, visible: false });
  const guideH = new Konva.Line({ stroke: "rgba(255,255,255,0.55)", strokeWidth: 1,
    strokeScaleEnabled: false, dash: [4, 4] });
  const guideV = guideH.clone();
  guides.add(guideH, guideV);
  // Proposals: dashed, not interactive (they become boxes only when accepted).
  const proposalGroup = new Konva.Group({ listening: false });
  layer.add(imageNode, imageFrame, proposalGroup, boxGroup, labelGroup, drawRect, transformer,
    guides);

  function applyView() {
    const v = state.view;
    stage.scale({ x: v.scale, y: v.scale });
    stage.position({ x: v.x, y: v.y });
    // Pixels stay crisp when zoomed in far enough to place edges on them.
    layer.imageSmoothingEnabled(v.scale < 2);
    root.dataset.viewScale = String(v.scale);
    root.dataset.viewX = String(v.x);
    root.dataset.viewY = String(v.y);
    $("btn-fit").textContent = Math.round(v.scale * 100) + "%";
    updateLabels();
    layer.batchDraw();
  }

  function fitView() {
    const frame = currentFrame();
    if (!frame) return;
    const margin = 16;
    const w = stage.width();
    const h = stage.height();
    const scale = Math.max(0.01, Math.min((w - 2 * margin) / frame.width,
      (h - 2 * margin) / frame.height));
    state.view = {
      scale: scale, x: Math.round((w - frame.width * scale) / 2),
      y: Math.round((h - frame.height * scale) / 2), fitted: true,
    };
    applyView();
  }

  function zoomAt(point, factor) {
    const v = state.view;
    const scale = Math.min(40, Math.max(0.05, v.scale * factor));
    const ix = (point.x - v.x) / v.scale;
    const iy = (point.y - v.y) / v.scale;
    state.view = { scale: scale, x: point.x - ix * scale, y: point.y - iy * scale, fitted: false };
    applyView();
  }

  function toImage(p) {
    return { x: (p.x - state.view.x) / state.view.scale, y: (p.y - state.view.y) / state.view.scale };
  }

  function pointerOf(event) {
    const rect = container.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  new ResizeObserver(() => {
    stage.size({ width: container.clientWidth, height: container.clientHeight });
    if (state.view.fitted) fitView();
    else applyView();
  }).observe(container);

  // --- drawing the boxes -----------------------------------------------------------------
  function makeBox(box, index) {
    const color = colorOf(box.class_id);
    const rect = new Konva.Rect({
      x: box.x, y: box.y, width: box.w, height: box.h,
      stroke: color, strokeWidth: 2, strokeScaleEnabled: false, fill: rgba(color, 0.12),
      draggable: cfg.canWrite, name: "box",
    });
    rect.setAttr("boxIndex", index);
    rect.on("mousedown touchstart", () => select(index));
    rect.on("mouseenter", () => {
      if (!state.gesture) wrap.classList.add("over-box");
    });
    rect.on("mouseleave", () => wrap.classList.remove("over-box"));
    rect.dragBoundFunc((pos) => {
      const frame = currentFrame();
      const v = state.view;
      const ix = Math.min(Math.max((pos.x - v.x) / v.scale, 0), frame.width - rect.width());
      const iy = Math.min(Math.max((pos.y - v.y) / v.scale, 0), frame.height - rect.height());
      return { x: ix * v.scale + v.x, y: iy * v.scale + v.y };
    });
    rect.on("dragmove transform", updateLabels);
    rect.on("dragend", () => commitRect(rect));
    rect.on("transformend", () => commitRect(rect));
    return rect;
  }

  function updateLabels() {
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

  function render() {
    if (Konva.isDragging() || transformer.isTransforming()) {
      // Never rebuild the shape being dragged; its dragend/transformend commits and redraws.
      updatePanels();
      return;
    }
    const saver = currentSaver();
    const frame = currentFrame();
    boxGroup.destroyChildren();
    labelGroup.destroyChildren();
    proposalGroup.destroyChildren();
    transformer.nodes([]);
    if (frame) drawProposals(frame.id);
    if (!saver || !frame) {
      layer.batchDraw();
      updatePanels();
      return;
    }
    drawTheirs(saver.conflict);
    const boxes = saver.local.boxes;
    if (state.selected >= boxes.length) state.selected = -1;
    boxes.forEach((box, i) => {
      boxGroup.add(makeBox(box, i));
      const cls = classById.get(box.class_id);
      const label = new Konva.Label({ listening: false });
      label.setAttr("boxIndex", i);
      label.add(new Konva.Tag({ fill: colorOf(box.class_id), cornerRadius: 2 }));
      label.add(new Konva.Text({
        text: (cls ? cls.name : "?"), fontSize: 12, padding: 3, fill: "#ffffff",
        fontFamily: "system-ui, sans-serif",
      }));
      labelGroup.add(label);
    });
    highlightSelection();
    updateLabels();
    layer.batchDraw();
    updatePanels();
  }

  function highlightSelection() {
    const rects = boxGroup.getChildren();
    rects.forEach((rect, i) => rect.strokeWidth(i === state.selected ? 3 : 2));
    const chosen = rects[state.selected];
    transformer.nodes(chosen ? [chosen] : []);
    transformer.moveToTop();
    document.querySelectorAll("#box-list [data-box-index]").forEach((li) => {
      li.classList.toggle("active", Number(li.dataset.boxIndex) === state.selected);
    });
    root.dataset.selected = String(state.selected);
    layer.batchDraw();
  }

  function select(index) {
    state.selected = index;
    const saver = currentSaver();
    const box = saver && saver.local.boxes[index];
    if (box) state.activeClassId = box.class_id;
    highlightSelection();
    updateClassPanel();
  }

  transformer.boundBoxFunc((oldBox, newBox) => {
    const frame = currentFrame();
    const v = state.view;
    const left = Math.max(newBox.x, v.x);
    const top = Math.max(newBox.y, v.y);
    const right = Math.min(newBox.x + newBox.width, v.x + frame.width * v.scale);
    const bottom = Math.min(newBox.y + newBox.height, v.y + frame.height * v.scale);
    // Never below the minimum, but a box already smaller (an import) may still grow.
    const least = Math.max(MIN_HANDLE_SCREEN_PX, MIN_BOX_PX * v.scale);
    const tooNarrow = right - left < least && right - left < oldBox.width;
    const tooLow = bottom - top < least && bottom - top < oldBox.height;
    if (tooNarrow || tooLow) return oldBox;
    return { x: left, y: top, width: right - left, height: bottom - top, rotation: 0 };
  });

  function commitRect(rect) {
    const saver = currentSaver();
    const frame = currentFrame();
    const index = rect.getAttr("boxIndex");
    const old = saver.local.boxes[index];
    const moved = clampBox({
      class_id: old.class_id, x: rect.x(), y: rect.y(),
      w: rect.width() * rect.scaleX(), h: rect.height() * rect.scaleY(),
    }, frame.width, frame.height);
    rect.scale({ x: 1, y: 1 });
    if (!moved) {
      toast("A box needs at least " + MIN_BOX_PX + " px of the image on each side.");
      render();
      return;
    }
    const boxes = saver.local.boxes.slice();
    boxes[index] = moved;
    commit(Object.assign({}, saver.local, { boxes: boxes }), { selected: index });
  }

  // --- proposals (assisted labeling) -----------------------------------------------------
  function pendingOf(frameId) {
    const info = proposalsOf.get(frameId);
    return info ? info.proposals : [];
  }

  function drawProposals(frameId) {
    pendingOf(frameId).forEach((p) => {
      const color = colorOf(p.class_id);
      proposalGroup.add(new Konva.Rect({
        x: p.x, y: p.y, width: p.w, height: p.h, stroke: color, strokeWidth: 2,
        dash: [7, 5], strokeScaleEnabled: false, name: "proposal",
      }));
      const label = new Konva.Label({ x: p.x, y: p.y + p.h, opacity: 0.9 });
      label.add(new Konva.Tag({ fill: "#212529", cornerRadius: 2 }));
      label.add(new Konva.Text({
        text: "proposal " + p.score.toFixed(2), fontSize: 11, padding: 2, fill: color,
        fontFamily: "system-ui, sans-serif",
      }));
      proposalGroup.add(label);
    });
  }

  // In a conflict, the other writer's boxes show as dotted outlines under mine, so the
  // choice (keep theirs / merge / keep mine) is made seeing both.
  function drawTheirs(theirs) {
    const boxes = theirs ? theirs.boxes : [];
    root.dataset.theirBoxes = String(boxes.length);
    boxes.forEach((b) => {
      proposalGroup.add(new Konva.Rect({
        x: b.x, y: b.y, width: b.w, height: b.h, stroke: "#ffc107", strokeWidth: 2,
        dash: [2, 4], strokeScaleEnabled: false, name: "theirs",
      }));
      const label = new Konva.Label({ x: b.x, y: b.y + b.h, opacity: 0.9 });
      label.add(new Konva.Tag({ fill: "#ffc107", cornerRadius: 2 }));
      label.add(new Konva.Text({
        text: "theirs", fontSize: 11, padding: 2, fill: "#212529",
        fontFamily: "system-ui, sans-serif",
      }));
      proposalGroup.add(label);
    });
  }

  async function loadProposals(frameId) {
    try {
      const res = await api("GET", cfg.proposalsUrl(frameId));
      if (res.ok) proposalsOf.set(frameId, res.data);
    } catch (err) {
      // Proposals are a help, not the labels: the frame still shows and saves without them.
    }
  }

  function updateProposalPanel() {
    const frame = currentFrame();
    const saver = currentSaver();
    const info = frame ? proposalsOf.get(frame.id) : null;
    const pending = info ? info.proposals : [];
    $("proposal-count").textContent = String(pending.length);
    root.dataset.proposalCount = String(pending.length);
    const list = $("proposal-list");
    list.replaceChildren();
    pending.forEach((p) => {
      const li = document.createElement("li");
      li.className = "list-group-item d-flex align-items-center gap-2 px-1 py-1";
      const swatch = document.createElement("span");
      swatch.className = "editor-swatch";
      swatch.style.backgroundColor = colorOf(p.class_id);
      const name = document.createElement("span");
      name.className = "flex-grow-1 text-truncate";
      const cls = classById.get(p.class_id);
      name.textContent = (cls ? cls.name : "?") + " · " + p.score.toFixed(2);
      name.title = p.model_ref || p.source;
      const source = document.createElement("span");
      source.className = "badge text-bg-light border";
      source.textContent = p.source;
      li.append(swatch, name, source);
      list.append(li);
    });
    $("proposal-hint").classList.toggle("d-none", !pending.length);
    // Machine-made while the frame is still at the version its proposals were accepted at.
    const machine = Boolean(info && info.machine_label && saver
      && saver.server.version === info.version && !saver.pending);
    $("frame-machine").classList.toggle("d-none", !machine);
    root.dataset.machineMade = String(machine);
  }

  async function acceptProposals() {
    const saver = currentSaver();
    const frame = currentFrame();
    if (!saver || !frame) return;
    const pending = pendingOf(frame.id);
    if (!pending.length) {
      toast("This frame has no proposals to accept.");
      return;
    }
    if (saver.conflict) {
      toast("Resolve the conflict first (banner above).");
      return;
    }
    if (saver.pending) {
      saver.flush();
      toast("Saving your changes first: press Enter again in a moment.");
      return;
    }
    const before = annOf(saver.local);
    let res;
    try {
      res = await api("POST", cfg.acceptUrl(frame.id), { version: saver.server.version });
    } catch (err) {
      toast("Couldn't accept: the server cannot be reached.");
      return;
    }
    if (res.status === 409) {
      saver.resolve(res.data.current, "theirs");
      toast("The frame changed meanwhile: reloaded it, check the proposals again.");
      await loadProposals(frame.id);
      render();
      return;
    }
    if (!res.ok) {
      toast("Couldn't accept: " + describeError(res));
      return;
    }
    const history = historyOf(saver.frameId);
    history.undo.push(before);
    history.redo = [];
    history.lastKey = null;
    saver.resolve(res.data, "theirs");
    proposalsOf.set(frame.id, {
      version: res.data.version, proposals: [],
      machine_label: { source: pending[0].source },
    });
    markListItem(saver);
    onSaved(saver);
    toast("Accepted " + pending.length + " proposal" + (pending.length === 1 ? "" : "s")
      + ": edit them as usual, R marks the frame reviewed.");
  }

  async function rejectProposals() {
    const frame = currentFrame();
    if (!frame || !pendingOf(frame.id).length) return false;
    let res;
    try {
      res = await api("POST", cfg.rejectUrl(frame.id), {}); // a body: it carries the CSRF token
    } catch (err) {
      toast("Couldn't reject: the server cannot be reached.");
      return true;
    }
    if (!res.ok) {
      toast("Couldn't reject: " + describeError(res));
      return true;
    }
    const info = proposalsOf.get(frame.id);
    proposalsOf.set(frame.id, Object.assign({}, info, { proposals: [] }));
    render();
    toast("Rejected " + res.data.rejected + " proposal" + (res.data.rejected === 1 ? "" : "s")
      + ".");
    return true;
  }

  async function acceptAbove() {
    const input = $("accept-above-score");
    input.blur(); // the editor's keys (Enter, D...) must work again right after
    const score = Number(input.value);
    if (!input.value || !Number.isFinite(score) || score < 0 || score > 1) {
      toast("The score must be a number from 0 to 1.");
      return;
    }
    const f = filters();
    const body = { score: score };
    if (f.status) body.status = f.status;
    if (f.video) body.video = Number(f.video);
    if (f.split) body.split = f.split;
    savers.forEach((s) => s.pending && s.flush());
    let res;
    try {
      res = await api("POST", cfg.acceptAboveUrl, body);
    } catch (err) {
      toast("Couldn't accept: the server cannot be reached.");
      return;
    }
    if (!res.ok) {
      toast("Couldn't accept: " + describeError(res));
      return;
    }
    const d = res.data;
    root.dataset.acceptedAbove = String(d.accepted);
    toast("Accepted " + d.accepted + " frame" + (d.accepted === 1 ? "" : "s") + " ("
      + d.boxes + " boxes); " + d.skipped + " left to decide.");
    proposalsOf.clear();
    const frame = currentFrame();
    if (frame) savers.delete(frame.id);
    loadCounts();
    await reloadList(frame ? frame.id : null);
  }

  // --- edits, undo and redo --------------------------------------------------------------
  function historyOf(frameId) {
    if (!histories.has(frameId)) {
      histories.set(frameId, { undo: [], redo: [], lastKey: null, lastAt: 0 });
    }
    return histories.get(frameId);
  }

  // Every edit comes through here: it records undo, autosaves and redraws.
  function commit(ann, options) {
    const opts = options || {};
    const saver = currentSaver();
    if (!saver || !cfg.canWrite) return;
    if (saver.conflict) {
      toast("Resolve the conflict first (banner above).");
      render();
      return;
    }
    const next = opts.keepStatus ? ann : withDerivedStatus(ann);
    if (sameAnn(next, saver.local)) {
      render();
      return;
    }
    const history = historyOf(saver.frameId);
    const now = Date.now();
    const coalesce = opts.coalesce && history.lastKey === opts.coalesce
      && now - history.lastAt < 1000;
    if (!coalesce) {
      history.undo.push(annOf(saver.local));
      if (history.undo.length > MAX_UNDO) history.undo.shift();
    }
    history.lastKey = opts.coalesce || null;
    history.lastAt = now;
    history.redo = [];
    saver.edit(next);
    if (opts.selected !== undefined) state.selected = opts.selected;
    markListItem(saver);
    render();
  }

  function undoRedo(fromKey, toKey) {
    const saver = currentSaver();
    if (!saver || !cfg.canWrite || saver.conflict) return;
    const history = historyOf(saver.frameId);
    if (!history[fromKey].length) {
      toast(fromKey === "undo" ? "Nothing to undo." : "Nothing to redo.");
      return;
    }
    history[toKey].push(annOf(saver.local));
    history.lastKey = null;
    saver.edit(history[fromKey].pop());
    state.selected = -1;
    markListItem(saver);
    render();
  }

  // Optimistic status in the list, so "next unlabeled" skips what was just labeled.
  function markListItem(saver) {
    const item = state.list ? state.list.find(saver.frameId) : null;
    if (item) {
      item.status = saver.local.status;
      item.box_count = saver.local.boxes.length;
    }
  }

  function addBox(box) {
    const saver = currentSaver();
    const boxes = saver.local.boxes.concat([box]);
    commit({ boxes: boxes, is_negative: false, status: saver.local.status },
      { selected: boxes.length - 1 });
  }

  function deleteSelected() {
    const saver = currentSaver();
    if (!saver || state.selected < 0) return;
    const boxes = saver.local.boxes.filter((_, i) => i !== state.selected);
    commit(Object.assign({}, saver.local, { boxes: boxes }), { selected: -1 });
  }

  function setClass(classId) {
    state.activeClassId = classId;
    const saver = currentSaver();
    if (saver && state.selected >= 0 && cfg.canWrite) {
      const boxes = saver.local.boxes.slice();
      boxes[state.selected] = Object.assign({}, boxes[state.selected], { class_id: classId });
      commit(Object.assign({}, saver.local, { boxes: boxes }), { keepStatus: false });
    }
    updateClassPanel();
  }

  function nudge(dx, dy) {
    const saver = currentSaver();
    const frame = currentFrame();
    const box = saver.local.boxes[state.selected];
    if (!box) return;
    const x = Math.min(Math.max(box.x + dx, 0), frame.width - box.w);
    const y = Math.min(Math.max(box.y + dy, 0), frame.height - box.h);
    const boxes = saver.local.boxes.slice();
    boxes[state.selected] = Object.assign({}, box, { x: round2(x), y: round2(y) });
    commit(Object.assign({}, saver.local, { boxes: boxes }), { coalesce: "nudge" });
  }

  function toggleNegative() {
    const saver = currentSaver();
    if (!saver) return;
    if (saver.local.is_negative) {
      commit({ boxes: [], is_negative: false, status: "unlabeled" });
      return;
    }
    const hadBoxes = saver.local.boxes.length;
    commit({ boxes: [], is_negative: true, status: "labeled" }, { selected: -1 });
    toast(hadBoxes ? "Marked “no animal”: boxes removed (Ctrl+Z undoes)." : "Marked “no animal”.");
  }

  function toggleReviewed() {
    const saver = currentSaver();
    if (!saver) return;
    const ann = saver.local;
    if (!ann.boxes.length && !ann.is_negative) {
      toast("Draw the boxes or mark “no animal” before reviewing.");
      return;
    }
    const status = ann.status === "reviewed" ? "labeled" : "reviewed";
    commit(Object.assign({}, ann, { status: status }), { keepStatus: true });
  }

  async function copyPrevious() {
    const saver = currentSaver();
    const frame = currentFrame();
    const list = state.list;
    if (!saver || position() <= 0) {
      toast("There is no previous frame in this list.");
      return;
    }
    let prev;
    try {
      await list.ensure(position() - 1); // the page before may not be loaded yet
      prev = list.at(position() - 1);
    } catch (err) {
      toast("Couldn't read the previous frame: " + err.message);
      return;
    }
    if (!prev || currentSaver() !== saver) return;
    let source = savers.get(prev.id) ? savers.get(prev.id).local : null;
    if (!source) {
      try {
        const res = await api("GET", cfg.annotationUrl(prev.id));
        if (!res.ok) throw new Error(describeError(res));
        source = annOf(res.data);
      } catch (err) {
        toast("Couldn't read the previous frame: " + err.message);
        return;
      }
    }
    if (currentSaver() !== saver) return; // the user moved on meanwhile
    const boxes = source.boxes.map((b) => clampBox(b, frame.width, frame.height))
      .filter(Boolean);
    // Boxes under the minimum size (imports may have them) are not copied: new ones that
    // small are refused.
    const skipped = source.boxes.length - boxes.length;
    const skippedText = skipped ? " (" + skipped + " under " + MIN_BOX_PX + " px left out)" : "";
    if (!boxes.length && !source.is_negative) {
      toast("The previous frame has no boxes to copy" + skippedText + ".");
      return;
    }
    commit({ boxes: boxes, is_negative: boxes.length ? false : source.is_negative, status: "" },
      { selected: -1 });
    toast("Copied " + boxes.length + " box" + (boxes.length === 1 ? "" : "es")
      + " from the previous frame" + skippedText + ".");
  }

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
      state.view = {
        scale: g.view.scale, x: g.view.x + p.x - g.start.x, y: g.view.y + p.y - g.start.y,
        fitted: false,
      };
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
  container.addEventListener("wheel", (event) => {
    if (!state.image) return;
    event.preventDefault();
    zoomAt(pointerOf(event), Math.exp(-event.deltaY * 0.0015));
  }, { passive: false });

  // --- frames: list, navigation, loading -------------------------------------------------
  const imageCache = new Map(); // url -> Promise<HTMLImageElement>

  function loadImage(url) {
    if (!imageCache.has(url)) {
      imageCache.set(url, new Promise((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = () => {
          imageCache.delete(url);
          reject(new Error("the image could not be loaded"));
        };
        img.src = url;
      }));
      if (imageCache.size > 12) imageCache.delete(imageCache.keys().next().value);
    }
    return imageCache.get(url);
  }

  function showEmpty(text, options) {
    const opts = options || {};
    $("editor-empty").classList.toggle("d-none", !text);
    if (!text) return;
    $("editor-empty-text").textContent = text;
    $("editor-empty-videos").classList.toggle("d-none", !opts.videos);
    $("editor-empty-retry").classList.toggle("d-none", !opts.retry);
  }

  function filters() {
    return {
      status: $("filter-status").value, video: $("filter-video").value,
      split: $("filter-split").value, proposals: $("filter-proposals").value,
    };
  }

  // The list endpoint and its query for the current filters.
  function listSource() {
    const f = filters();
    const base = f.proposals ? cfg.proposalFramesUrl : cfg.framesUrl;
    const query = Object.fromEntries(Object.entries(f).filter(([, v]) => v));
    if (f.proposals === "hard") query.hard_job = state.hardJob;
    return [base, query];
  }

  // Load the list's first page (or the page holding `preferredId`) and show a frame.
  async function reloadList(preferredId) {
    showEmpty("Loading frames…");
    root.dataset.ready = "0";
    const token = ++state.listToken;
    const [base, query] = listSource();
    const list = new FrameList(base, query, api, describeError);
    list.onChange = () => {
      if (list === state.list) updateFrameInfo();
    };
    let at;
    try {
      at = await list.open(preferredId);
    } catch (err) {
      if (token !== state.listToken) return;
      showEmpty("Couldn't load the frame list (" + err.message + ").", { retry: true });
      return;
    }
    if (token !== state.listToken) return; // the filters changed again meanwhile
    state.list = list;
    if (!list.frames.length) {
      state.frame = null;
      state.image = null;
      imageNode.image(null);
      render();
      const f = filters();
      const filtered = f.status || f.video || f.split || f.proposals;
      showEmpty(filtered ? "No frames match these filters."
        : "No frames yet: add a video and sample frames from it.", { videos: !filtered });
      updateFrameInfo();
      syncUrl();
      return;
    }
    await showFrame(at);
  }

  // Show the frame at `at` (a position in the whole list; it must be loaded).
  async function showFrame(at) {
    const list = state.list;
    const frame = list ? list.at(at) : null;
    if (!frame) return;
    const leaving = currentSaver();
    if (leaving) leaving.flush();
    const token = ++state.loadToken;
    const previous = currentFrame();
    state.frame = frame;
    list.prefetch(at);
    state.selected = -1;
    root.dataset.ready = "0";
    root.dataset.frameId = String(frame.id);
    updateFrameInfo();
    syncUrl();
    let saver = savers.get(frame.id);
    // A frame seen before with nothing unsaved is re-read: someone may have changed it since.
    const clean = (s) => s && !s.offlineDraft && !s.pending && !s.conflict && !s.error;
    const readState = async () => {
      if (saver && !saver.offlineDraft && !clean(saver)) return null; // local work wins
      try {
        return await api("GET", cfg.annotationUrl(frame.id));
      } catch (err) {
        if (clean(saver)) return null; // offline: show what we have
        throw err;
      }
    };
    try {
      const [res, img] = await Promise.all([
        readState(), loadImage(frame.image_url), loadProposals(frame.id),
      ]);
      if (token !== state.loadToken) return;
      if (res && !res.ok) throw new Error(describeError(res));
      if (res) {
        saver = savers.get(frame.id);
        if (saver && saver.offlineDraft) {
          saver = saverFromDraft(frame.id, saver.draftOffline(), res.data, saverEnv);
          saver.persist();
          if (!saver.conflict) saver.flush();
        } else if (!saver) {
          saver = new FrameSaver(frame.id, res.data, saverEnv);
        } else if (clean(saver) && res.data.version !== saver.server.version) {
          saver.adopt(res.data);
        }
        savers.set(frame.id, saver);
        markListItem(saver);
      }
      state.image = img;
    } catch (err) {
      if (token !== state.loadToken) return;
      state.image = null;
      imageNode.image(null);
      render();
      showEmpty("Couldn't load this frame: " + err.message + ".", { retry: true });
      return;
    }
    showEmpty(null);
    imageNode.image(state.image);
    imageNode.size({ width: frame.width, height: frame.height });
    imageFrame.size({ width: frame.width, height: frame.height });
    const sameSize = previous && previous.width === frame.width
      && previous.height === frame.height;
    if (state.view.fitted || !sameSize) fitView();
    else applyView();
    render();
    updateSaveUi();
    root.dataset.ready = "1";
    const next = list.at(list.positionOf(frame.id) + 1);
    if (next) loadImage(next.image_url).catch(() => {});
  }

  // Show the frame at position `at`, loading its page first when needed.
  async function moveTo(at) {
    const list = state.list;
    let loaded;
    try {
      loaded = await list.ensure(at);
    } catch (err) {
      toast("Couldn't load the frame list: " + err.message);
      return;
    }
    if (list !== state.list) return; // the filters changed meanwhile
    if (!loaded) {
      toast("This is the last frame in the list.");
      return;
    }
    await showFrame(at);
  }

  function go(delta) {
    const at = position();
    if (at < 0) return;
    if (at + delta < 0 || at + delta >= state.list.total) {
      toast(delta > 0 ? "This is the last frame in the list." : "This is the first frame.");
      return;
    }
    moveTo(at + delta);
  }

  // Show frame `id` wherever it is in the list; false when it is not in it.
  async function showFrameById(id) {
    const list = state.list;
    const at = await list.locate(id);
    if (at < 0 || list !== state.list) return false;
    await showFrame(at);
    return true;
  }

  // The next unlabeled frame after this one, wrapping around: first among the loaded
  // frames (their status is this page's, saves included), then the server is asked for
  // one past them, so nothing beyond the loaded pages needs loading.
  async function nextUnlabeled() {
    const list = state.list;
    const here = position();
    if (!list || here < 0) return;
    const unlabeledAt = (p) => list.at(p) && list.at(p).status === "unlabeled";
    for (let p = here + 1; p < list.end; p++) {
      if (unlabeledAt(p)) return showFrame(p);
    }
    // Under a labeled/reviewed filter the server holds no unlabeled frame of the list.
    const status = filters().status;
    const askServer = !status || status === "unlabeled";
    try {
      if (askServer && list.end < list.total) {
        const last = list.frames[list.frames.length - 1];
        const found = await list.firstWithStatus("unlabeled", last.id);
        if (found && await showFrameById(found.id)) return;
      }
      if (askServer && list.start > 0) {
        const found = await list.firstWithStatus("unlabeled", null);
        if (found && !list.find(found.id) && await showFrameById(found.id)) return;
      }
    } catch (err) {
      toast("Couldn't look for unlabeled frames: " + err.message);
      return;
    }
    if (list !== state.list) return;
    for (let p = list.start; p < here; p++) {
      if (unlabeledAt(p)) return showFrame(p);
    }
    toast("No other unlabeled frame in this list.");
  }

  function syncUrl() {
    const params = new URLSearchParams();
    const frame = currentFrame();
    if (frame) params.set("frame", String(frame.id));
    Object.entries(filters()).forEach(([k, v]) => v && params.set(k, v));
    if (filters().proposals === "hard") params.set("hard_job", state.hardJob);
    const query = params.toString();
    history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  // --- side panels -----------------------------------------------------------------------
  const STATUS_BADGE = {
    unlabeled: ["Unlabeled", "text-bg-secondary"],
    labeled: ["Labeled", "text-bg-primary"],
    reviewed: ["Reviewed", "text-bg-success"],
  };
  const SPLIT_LABEL = { train: "Train", val: "Validation", test: "Test" };

  function updateFrameInfo() {
    const frame = currentFrame();
    const list = state.list;
    const at = position();
    const total = list ? list.total : 0;
    $("frame-position").textContent = frame && at >= 0
      ? "Frame " + formatCount(at + 1) + " / " + formatCount(total) : frame ? "" : "No frame";
    const slider = $("frame-slider");
    slider.max = String(Math.max(0, total - 1));
    slider.disabled = total < 2;
    if (!state.sliding) slider.value = String(Math.max(0, at));
    root.dataset.position = String(at);
    root.dataset.total = String(total);
    root.dataset.loaded = list ? list.start + "-" + list.end : "";
    root.dataset.listRequests = list ? String(list.requests) : "0";
    $("frame-video").textContent = frame ? frame.video_name : "";
    // Image-set frames show the file's own name; video frames their time.
    const where = frame && frame.source_name
      ? frame.source_name : frame ? frame.timestamp_s.toFixed(2) + " s" : "";
    $("frame-meta").textContent = frame
      ? "#" + frame.frame_index + " · " + where + " · " + frame.width + "×" + frame.height : "";
    const split = $("frame-split");
    split.classList.toggle("d-none", !(frame && frame.split));
    split.textContent = frame && frame.split ? SPLIT_LABEL[frame.split] || frame.split : "";
  }

  function updatePanels() {
    const saver = currentSaver();
    const ann = saver ? saver.local : { boxes: [], is_negative: false, status: "unlabeled" };
    const [statusText, statusClass] = STATUS_BADGE[ann.status] || STATUS_BADGE.unlabeled;
    const badge = $("frame-status");
    badge.className = "badge " + statusClass;
    badge.textContent = saver ? statusText : "";
    const server = saver ? saver.server : null;
    $("frame-version").textContent = server
      ? "v" + server.version + (server.annotated_by ? " · " + server.annotated_by : "") : "";
    $("negative-badge").classList.toggle("d-none", !ann.is_negative);
    root.dataset.boxCount = String(ann.boxes.length);
    root.dataset.status = ann.status;

    const negativeBtn = $("btn-negative");
    negativeBtn.classList.toggle("active", ann.is_negative);
    negativeBtn.setAttribute("aria-pressed", String(ann.is_negative));
    const reviewedBtn = $("btn-reviewed");
    reviewedBtn.classList.toggle("active", ann.status === "reviewed");
    reviewedBtn.setAttribute("aria-pressed", String(ann.status === "reviewed"));
    const history = saver ? historyOf(saver.frameId) : { undo: [], redo: [] };
    $("btn-undo").disabled = !cfg.canWrite || !history.undo.length;
    $("btn-redo").disabled = !cfg.canWrite || !history.redo.length;
    $("btn-delete").disabled = !cfg.canWrite || state.selected < 0;
    const at = position();
    $("btn-prev").disabled = at <= 0;
    $("btn-next").disabled = !state.list || at < 0 || at >= state.list.total - 1;

    const list = $("box-list");
    list.replaceChildren();
    ann.boxes.forEach((box, i) => {
      const li = document.createElement("li");
      li.className = "list-group-item list-group-item-action d-flex align-items-center gap-2 px-1 py-1";
      li.dataset.boxIndex = String(i);
      const swatch = document.createElement("span");
      swatch.className = "editor-swatch";
      swatch.style.backgroundColor = colorOf(box.class_id); // CSSOM: allowed by the CSP
      const name = document.createElement("span");
      name.className = "flex-grow-1 text-truncate";
      const cls = classById.get(box.class_id);
      name.textContent = cls ? cls.name : "unknown class";
      const coords = document.createElement("span");
      coords.className = "text-body-secondary font-monospace editor-coords";
      coords.textContent = Math.round(box.x) + "," + Math.round(box.y) + " "
        + Math.round(box.w) + "×" + Math.round(box.h);
      li.append(swatch, name, coords);
      li.addEventListener("click", () => select(i));
      list.append(li);
    });
    $("box-count").textContent = String(ann.boxes.length);
    $("box-hint").classList.toggle("d-none", ann.boxes.length > 0);
    highlightSelection();
    updateClassPanel();
    updateProposalPanel();
  }

  function updateClassPanel() {
    const saver = currentSaver();
    const boxes = saver ? saver.local.boxes : [];
    document.querySelectorAll("#class-list [data-class-id]").forEach((item) => {
      const id = Number(item.dataset.classId);
      item.classList.toggle("active", id === state.activeClassId);
      item.querySelector("[data-class-count]").textContent =
        String(boxes.filter((b) => b.class_id === id).length);
    });
  }

  let countsTimer = null;
  function scheduleCounts() {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(loadCounts, 800);
  }

  function fillCounts(id, rows) {
    const dl = $(id);
    dl.replaceChildren();
    rows.forEach(([label, value, color]) => {
      const dt = document.createElement("dt");
      if (color) {
        const swatch = document.createElement("span");
        swatch.className = "editor-swatch me-1";
        swatch.style.backgroundColor = color;
        dt.append(swatch);
      }
      dt.append(document.createTextNode(label));
      dt.title = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dl.append(dt, dd);
    });
  }

  async function loadCounts() {
    let res;
    try {
      res = await api("GET", cfg.countsUrl);
    } catch (err) {
      return; // counts are informative; the next save refreshes them
    }
    if (!res.ok) return;
    const c = res.data;
    const pct = (n) => (c.total ? (100 * n) / c.total : 0);
    $("progress-reviewed").parentElement.style.width = pct(c.status.reviewed) + "%";
    $("progress-labeled").parentElement.style.width = pct(c.status.labeled) + "%";
    fillCounts("counts-status", [
      ["Reviewed", c.status.reviewed, "#198754"], ["Labeled", c.status.labeled, "#0d6efd"],
      ["Unlabeled", c.status.unlabeled, "#adb5bd"], ["Total frames", c.total],
    ]);
    fillCounts("counts-split", [
      ["Train", c.split.train], ["Validation", c.split.val], ["Test", c.split.test],
      ["Unassigned", c.split.none],
    ]);
    const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
    fillCounts("counts-classes", c.classes.map((k) => [
      k.name, plural(k.boxes, "box", "boxes") + " · " + plural(k.frames, "frame", "frames"),
      COLOR_RE.test(k.color) ? k.color : null,
    ]));
    fillCounts("counts-videos", c.videos.map((v) => [v.name, v.labeled + " / " + v.frames]));
  }

  // --- help ------------------------------------------------------------------------------
  const helpModal = window.bootstrap ? bootstrap.Modal.getOrCreateInstance($("help-modal")) : null;
  const helpOpen = () => $("help-modal").classList.contains("show");
  function toggleHelp() {
    if (helpModal) helpModal.toggle();
  }

  // --- keyboard --------------------------------------------------------------------------
  function isTyping(target) {
    return target && (target.isContentEditable
      || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName));
  }

  const WRITE_KEYS = new Set(["c", "n", "r", "delete", "backspace", "enter"]);

  document.addEventListener("keydown", (event) => {
    if (isTyping(event.target)) return;
    // The conflict choice is plain buttons: Tab, Enter and Space work on them as anywhere.
    if (event.target.closest && event.target.closest("#conflict-banner")) return;
    const key = event.key;
    const lower = key.length === 1 ? key.toLowerCase() : key.toLowerCase();
    if (helpOpen()) {
      if (key === "?" || key === "Escape") {
        event.preventDefault();
        helpModal.hide();
      }
      return;
    }
    const mod = event.ctrlKey || event.metaKey;
    if (mod && lower === "z") {
      event.preventDefault();
      if (event.shiftKey) undoRedo("redo", "undo");
      else undoRedo("undo", "redo");
      return;
    }
    if (mod && lower === "y") {
      event.preventDefault();
      undoRedo("redo", "undo");
      return;
    }
    if (mod || event.altKey) return;
    if (!cfg.canWrite && WRITE_KEYS.has(lower)) {
      toast("Read-only: your role cannot change labels.");
      return;
    }
    const saver = currentSaver();
    const selected = saver && state.selected >= 0 && saver.local.boxes[state.selected];
    const step = event.shiftKey ? 10 : 1;
    let handled = true;
    switch (lower) {
      case "?": toggleHelp(); break;
      case "d": case "pagedown": go(1); break;
      case "a": case "pageup": go(-1); break;
      case "arrowright":
        if (selected && cfg.canWrite) nudge(step, 0); else go(1);
        break;
      case "arrowleft":
        if (selected && cfg.canWrite) nudge(-step, 0); else go(-1);
        break;
      case "arrowup":
        if (selected && cfg.canWrite) nudge(0, -step); else handled = false;
        break;
      case "arrowdown":
        if (selected && cfg.canWrite) nudge(0, step); else handled = false;
        break;
      case "u": nextUnlabeled(); break;
      case "c": copyPrevious(); break;
      case "n": toggleNegative(); break;
      case "r": toggleReviewed(); break;
      case "delete": deleteSelected(); break;
      case "backspace":
        // With no box selected, Backspace rejects the frame's proposals.
        if (state.selected < 0 && saver && pendingOf(saver.frameId).length) rejectProposals();
        else deleteSelected();
        break;
      case "enter": acceptProposals(); break;
      case "escape":
        if (state.gesture && state.gesture.kind === "draw") {
          state.gesture = null;
          drawRect.visible(false);
          layer.batchDraw();
        } else {
          select(-1);
        }
        break;
      case "f": case "0": fitView(); break;
      case "+": case "=": zoomAt({ x: stage.width() / 2, y: stage.height() / 2 }, 1.25); break;
      case "-": case "_": zoomAt({ x: stage.width() / 2, y: stage.height() / 2 }, 0.8); break;
      case "tab": {
        if (saver && saver.conflict) { // boxes cannot change until the choice is made
          $("conflict-reload").focus();
          break;
        }
        const n = saver ? saver.local.boxes.length : 0;
        if (!n) { handled = false; break; }
        select(((state.selected < 0 ? (event.shiftKey ? 0 : -1) : state.selected)
          + (event.shiftKey ? n - 1 : 1)) % n);
        break;
      }
      case " ":
        state.spaceHeld = true;
        wrap.classList.add("can-pan");
        guides.visible(false);
        layer.batchDraw();
        break;
      default:
        if (/^[1-9]$/.test(key)) {
          const cls = classes[Number(key) - 1];
          if (cls) setClass(cls.id);
          else toast("There is no class " + key + ".");
        } else {
          handled = false;
        }
    }
    if (handled) event.preventDefault();
  });

  document.addEventListener("keyup", (event) => {
    if (event.key === " ") {
      state.spaceHeld = false;
      wrap.classList.remove("can-pan");
    }
  });

  // --- buttons and filters ---------------------------------------------------------------
  function onClick(id, handler) {
    const button = $(id);
    // Buttons must not keep the focus: Space and Enter belong to the editor's shortcuts.
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", (event) => {
      event.preventDefault();
      handler();
    });
  }

  onClick("btn-prev", () => go(-1));
  onClick("btn-next", () => go(1));
  onClick("btn-next-unlabeled", nextUnlabeled);
  onClick("btn-copy-prev", copyPrevious);
  onClick("btn-negative", toggleNegative);
  onClick("btn-reviewed", toggleReviewed);
  onClick("btn-delete", deleteSelected);
  onClick("btn-undo", () => undoRedo("undo", "redo"));
  onClick("btn-redo", () => undoRedo("redo", "undo"));
  onClick("btn-fit", fitView);
  onClick("btn-zoom-in", () => zoomAt({ x: stage.width() / 2, y: stage.height() / 2 }, 1.25));
  onClick("btn-zoom-out", () => zoomAt({ x: stage.width() / 2, y: stage.height() / 2 }, 0.8));
  onClick("btn-help", toggleHelp);
  onClick("save-retry", () => savers.forEach((s) => s.inflight && s.flush()));
  onClick("editor-empty-retry", () => {
    const frame = currentFrame();
    if (frame && position() >= 0) showFrame(position());
    else reloadList(frame ? frame.id : null);
  });
  // The conflict choice. "Theirs" and "merge" start from the frame as it is now;
  // "mine" overwrites the version the banner names (a still newer save conflicts again).
  async function resolveConflict(choice) {
    const saver = currentSaver();
    if (!saver || !saver.conflict) return;
    let server = saver.conflict;
    if (choice !== "mine") {
      try {
        const res = await api("GET", cfg.annotationUrl(saver.frameId));
        if (!res.ok) throw new Error(describeError(res));
        server = res.data;
      } catch (err) {
        toast("Couldn't load their version: " + err.message);
        return;
      }
      if (saver !== currentSaver() || !saver.conflict) return;
    }
    saver.resolve(server, choice);
    if (choice === "theirs") histories.delete(saver.frameId);
    state.selected = -1;
    markListItem(saver);
    render();
    if (document.activeElement) document.activeElement.blur(); // the editor's keys again
    toast({ theirs: "Kept their version of this frame.", mine: "Saving your version…",
      merge: "Merged: their boxes and yours (duplicates of theirs dropped)." }[choice]);
  }
  onClick("conflict-reload", () => resolveConflict("theirs"));
  onClick("conflict-keep", () => resolveConflict("mine"));
  onClick("conflict-merge", () => resolveConflict("merge"));
  onClick("conflict-open", () => {
    const id = Number($("conflict-banner").dataset.frameId);
    showFrameById(id).then((shown) => {
      if (!shown) toast("That frame is not in the current list: clear the filters.");
    }).catch((err) => toast("Couldn't open that frame: " + err.message));
  });

  document.querySelectorAll("#class-list [data-class-id]").forEach((item) => {
    const swatch = item.querySelector(".editor-swatch");
    if (COLOR_RE.test(swatch.dataset.color)) swatch.style.backgroundColor = swatch.dataset.color;
    item.addEventListener("mousedown", (event) => event.preventDefault());
    item.addEventListener("click", () => setClass(Number(item.dataset.classId)));
  });

  if ($("btn-accept-above")) onClick("btn-accept-above", acceptAbove);

  ["filter-status", "filter-video", "filter-split", "filter-proposals"].forEach((id) => {
    $(id).addEventListener("change", (event) => {
      event.target.blur();
      const frame = currentFrame();
      reloadList(frame ? frame.id : null);
    });
  });

  // Dragging the slider shows loaded frames at once; for others it waits until the
  // slider rests a moment, so a drag across 13,622 frames asks for one page, not dozens.
  let slideTimer = null;
  $("frame-slider").addEventListener("input", (event) => {
    const at = Number(event.target.value);
    if (!state.list) return;
    clearTimeout(slideTimer);
    if (state.list.at(at)) {
      state.sliding = false;
      showFrame(at);
      return;
    }
    state.sliding = true;
    $("frame-position").textContent = "Frame " + formatCount(at + 1) + " / "
      + formatCount(state.list.total) + "…";
    slideTimer = setTimeout(() => {
      state.sliding = false;
      moveTo(at);
    }, 200);
  });
  $("frame-slider").addEventListener("change", (event) => event.target.blur());

  // --- never lose work -------------------------------------------------------------------
  window.addEventListener("beforeunload", (event) => {
    let unsaved = false;
    savers.forEach((s) => {
      if (s.pending || s.conflict) {
        unsaved = true;
        s.flush();
      }
    });
    if (unsaved) {
      event.preventDefault();
      event.returnValue = ""; // older browsers need it to show the prompt
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") savers.forEach((s) => s.pending && s.flush());
  });
  window.addEventListener("online", () => savers.forEach((s) => s.inflight && s.flush()));

  // --- start -----------------------------------------------------------------------------
  async function start() {
    const params = new URLSearchParams(window.location.search);
    const setIfValid = (id, value) => {
      const select = $(id);
      if (value && Array.from(select.options).some((o) => o.value === value)) {
        select.value = value;
      }
    };
    setIfValid("filter-status", params.get("status"));
    setIfValid("filter-video", params.get("video"));
    setIfValid("filter-split", params.get("split"));
    const hardJob = params.get("hard_job");
    if (hardJob && /^[0-9]{1,12}$/.test(hardJob)) {
      // Opened from a hard-frame job's page: its frames, as one more list to choose.
      state.hardJob = hardJob;
      const option = document.createElement("option");
      option.value = "hard";
      option.textContent = "Hard frames (job #" + hardJob + ")";
      $("filter-proposals").append(option);
    }
    setIfValid("filter-proposals", params.get("proposals"));
    document.querySelectorAll("[data-write]").forEach((b) => { b.disabled = !cfg.canWrite; });
    if (cfg.canWrite) await recoverDrafts(saverEnv, savers);
    loadCounts();
    await reloadList(Number(params.get("frame")) || null);
  }

  start();
})();
