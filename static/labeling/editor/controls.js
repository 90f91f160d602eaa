// Buttons, filters, the conflict choices, never losing work on leave, and the start.
import { $ } from "../../webapp/dom.js";
import { api, describeError, recoverDrafts } from "../editor-autosave.js";
import { COLOR_RE, cfg, currentFrame, currentSaver, formatCount, histories, position, savers,
   state, toast } from "./context.js";
import { fitView, stage, zoomAt } from "./stage.js";
import { render } from "./rendering.js";
import { acceptAbove } from "./proposals.js";
import { copyPrevious, deleteSelected, markListItem, setClass, toggleNegative, toggleReviewed,
   undoRedo } from "./history.js";
import { go, moveTo, nextUnlabeled, reloadList, showFrame, showFrameById } from "./navigation.js";
import { loadCounts, saverEnv } from "./panels.js";
import { toggleHelp } from "./keyboard.js";

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
export async function startEditor() {
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
