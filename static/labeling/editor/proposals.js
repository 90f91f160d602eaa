// Assisted labeling: a frame's proposals drawn dashed, accept, reject, accept above a score.
import { $ } from "../../webapp/dom.js";
import { annOf, api, describeError } from "../editor-autosave.js";
import { cfg, classById, colorOf, currentFrame, currentSaver, proposalsOf, root, savers, toast } from "./context.js";
import { proposalGroup } from "./stage.js";
import { render } from "./rendering.js";
import { historyOf, markListItem } from "./history.js";
import { filters, reloadList } from "./navigation.js";
import { loadCounts, onSaved } from "./panels.js";

// --- proposals (assisted labeling) -----------------------------------------------------
export function pendingOf(frameId) {
  const info = proposalsOf.get(frameId);
  return info ? info.proposals : [];
}

export function drawProposals(frameId) {
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
export function drawTheirs(theirs) {
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

export async function loadProposals(frameId) {
  try {
    const res = await api("GET", cfg.proposalsUrl(frameId));
    if (res.ok) proposalsOf.set(frameId, res.data);
  } catch (err) {
    // Proposals are a help, not the labels: the frame still shows and saves without them.
  }
}

export function updateProposalPanel() {
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

export async function acceptProposals() {
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

export async function rejectProposals() {
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

export async function acceptAbove() {
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

