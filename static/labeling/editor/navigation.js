// The frame list (a page at a time, editor-frames.js), moving between frames and loading
// a frame's image and annotation.
import { $ } from "../../webapp/dom.js";
import { FrameSaver, api, describeError, saverFromDraft } from "../editor-autosave.js";
import { FrameList } from "../editor-frames.js";
import { cfg, currentFrame, currentSaver, position, root, savers, state, toast } from "./context.js";
import { applyView, fitView, imageFrame, imageNode } from "./stage.js";
import { render } from "./rendering.js";
import { loadProposals } from "./proposals.js";
import { markListItem } from "./history.js";
import { saverEnv, updateFrameInfo, updateSaveUi } from "./panels.js";

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

export function filters() {
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
export async function reloadList(preferredId) {
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
export async function showFrame(at) {
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
export async function moveTo(at) {
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

export function go(delta) {
  const at = position();
  if (at < 0) return;
  if (at + delta < 0 || at + delta >= state.list.total) {
    toast(delta > 0 ? "This is the last frame in the list." : "This is the first frame.");
    return;
  }
  moveTo(at + delta);
}

// Show frame `id` wherever it is in the list; false when it is not in it.
export async function showFrameById(id) {
  const list = state.list;
  const at = await list.locate(id);
  if (at < 0 || list !== state.list) return false;
  await showFrame(at);
  return true;
}

// The next unlabeled frame after this one, wrapping around: first among the loaded
// frames (their status is this page's, saves included), then the server is asked for
// one past them, so nothing beyond the loaded pages needs loading.
export async function nextUnlabeled() {
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

