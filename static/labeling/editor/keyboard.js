// Keyboard shortcuts and the help dialog.
import { $ } from "../../webapp/dom.js";
import { cfg, classes, currentSaver, state, toast } from "./context.js";
import { drawRect, fitView, guides, layer, stage, wrap, zoomAt } from "./stage.js";
import { select } from "./rendering.js";
import { acceptProposals, pendingOf, rejectProposals } from "./proposals.js";
import { copyPrevious, deleteSelected, nudge, setClass, toggleNegative, toggleReviewed, undoRedo } from "./history.js";
import { go, nextUnlabeled } from "./navigation.js";

// --- help ------------------------------------------------------------------------------
const helpModal = window.bootstrap ? bootstrap.Modal.getOrCreateInstance($("help-modal")) : null;
const helpOpen = () => $("help-modal").classList.contains("show");
export function toggleHelp() {
  if (helpModal) helpModal.toggle();
}

// --- keyboard --------------------------------------------------------------------------
export function isTyping(target) {
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

