// The labeling editor: draw, edit and autosave boxes, one frame at a time.
//
// Boxes are kept in original-image pixels ({class_id, x, y, w, h}, top-left corner); the
// Konva stage's scale and offset map them to the screen, so zoom never changes the data.
// Every edit goes to the frame's FrameSaver (editor-autosave.js), which saves it within about
// a second; a 409 is shown to the user here, never overwritten.
//
// The modules under editor/, by concern: context (config, state, savers), geometry (pure box
// math), stage (Konva nodes and the view), rendering (boxes and labels), pointer (draw, pan,
// zoom with the mouse), history (edits, undo, redo), proposals (assisted labeling),
// navigation (the frame list and loading), panels (save status, side panels), keyboard
// (shortcuts, help) and controls (buttons, conflict choices, start).
//
// Imported first, in this order: context and stage build the page's state and Konva nodes
// at load, which the other modules' listeners use.
import "./editor/context.js";
import "./editor/stage.js";
import "./editor/keypoints.js"; // before pointer.js: in keypoint mode a click places a point
import "./editor/pointer.js";
import "./editor/keyboard.js";
import { startEditor } from "./editor/controls.js";

startEditor();
