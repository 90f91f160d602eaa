// Autosave for the labeling editor, one FrameSaver per frame.
//
// A saver PUTs the frame's whole annotation ({version, boxes, is_negative, status,
// request_id}; boxes in original-image pixels) with the version it was based on. A failed
// request is retried unchanged, same request_id, with exponential backoff, so a save that did
// land is answered from the stored result; a 409 is kept as a conflict for the user to
// resolve. Until the server acknowledges it, the work is mirrored in localStorage as a draft
// that records the version it was made on (`baseVersion`) and whether it is in conflict: a
// draft is only ever sent on top of that version, and a conflict waits for the user's choice
// (keep theirs / keep mine / merge) however often the page is closed and reopened.
import { csrfToken } from "../webapp/api.js";
import { annOf, mergeAnnotations, round2, sameAnn } from "./editor/geometry.js";


const AUTOSAVE_DELAY_MS = 400;
const MAX_RETRY_DELAY_MS = 30000;
// Drafts written before base versions were kept reliably have no format: their
// baseVersion may be the newer server version a conflict was shown against.
const DRAFT_FORMAT = 2;

function newRequestId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

async function api(method, url, body) {
  const options = {
    method: method, credentials: "same-origin", headers: { Accept: "application/json" },
  };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRFToken"] = csrfToken();
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options); // rejects on a network failure
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null; // an HTML error page from a proxy, or an empty body
  }
  return { status: response.status, ok: response.ok, data: data };
}

function describeError(res) {
  if (!res.data) return "the server answered " + res.status + ".";
  if (typeof res.data.detail === "string") return res.data.detail;
  return Object.entries(res.data)
    .map(([field, msgs]) => field + ": " + [].concat(msgs).join(" "))
    .join("; ");
}

class FrameSaver {
  constructor(frameId, server, env) {
    this.env = env; // {url(id), canWrite, draftPrefix, onChange, onSaved, onConflict}
    this.frameId = frameId;
    this.server = server; // the last state the server acknowledged (with its version)
    this.local = annOf(server); // what the user sees and edits
    // The version `local` was made on: every PUT carries it, so an edit made on an old
    // version can never replace a newer one. It only moves forward when the server
    // acknowledges a save or the user resolves a conflict.
    this.baseVersion = server.version;
    this.inflight = null; // {body}: the PUT being sent; retried unchanged (same request_id)
    this.sending = false;
    this.conflict = null; // the server's state from a 409
    this.conflictReason = null; // the server's explanation when it is not another writer
    this.error = null; // a refusal (400/404): not retried until the next edit
    this.failures = 0;
    this.retryAt = 0;
    this.lastFailure = "";
    this.timer = null;
  }

  get pending() {
    return Boolean(this.inflight) || !sameAnn(this.local, annOf(this.server));
  }

  edit(ann) {
    this.local = ann;
    this.error = null;
    this.persist();
    this.schedule(AUTOSAVE_DELAY_MS);
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), ms);
    this.env.onChange(this);
  }

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight) {
      if (!this.sending) this.send(); // a retry waiting for its backoff: go now
      return;
    }
    // An offline draft waits for the frame's real server state (see showFrame).
    if (this.conflict || this.error || this.offlineDraft || !this.env.canWrite || !this.pending) {
      this.persist();
      this.env.onChange(this);
      return;
    }
    const body = Object.assign({ version: this.baseVersion }, annOf(this.local));
    body.request_id = newRequestId();
    this.inflight = { body: body };
    this.persist();
    this.send();
  }

  async send() {
    if (this.sending || !this.inflight) return;
    this.sending = true;
    clearTimeout(this.timer);
    this.env.onChange(this);
    const body = this.inflight.body;
    let res = null;
    try {
      res = await api("PUT", this.env.url(this.frameId), body);
    } catch (err) {
      res = null;
    }
    this.sending = false;
    if (res && res.status === 200) {
      this.server = res.data;
      this.baseVersion = res.data.version;
      this.inflight = null;
      this.failures = 0;
      // Adopt the server's clipping/snapping unless the user has edited since.
      if (sameAnn(this.local, annOf(body))) this.local = annOf(res.data);
      this.persist();
      this.env.onSaved(this);
      if (this.pending) this.schedule(0); // edits made while this save was in flight
    } else if (res && res.status === 409) {
      this.inflight = null;
      this.failures = 0;
      this.conflict = res.data.current;
      // A reused request id (not another writer) gets the server's own explanation.
      this.conflictReason = res.data.code === "request_id_reused" ? res.data.detail : null;
      this.persist();
      this.env.onConflict(this);
    } else if (res && (res.status === 400 || res.status === 404)) {
      this.inflight = null;
      this.failures = 0;
      this.error = describeError(res);
      this.persist();
    } else {
      // Network down, server restarting (5xx), session trouble (401/403): same body, same
      // request_id, so a save that did land is answered from the stored result.
      this.failures += 1;
      const delay = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** (this.failures - 1));
      this.retryAt = Date.now() + delay;
      this.lastFailure = res
        ? "the server answered " + res.status + (res.status === 403 ? " (logged out?)" : "")
        : "the server cannot be reached";
      this.timer = setTimeout(() => this.send(), delay);
    }
    this.env.onChange(this);
  }

  // The user's answer to a conflict, with the server's current state: "theirs" takes
  // it, "mine" overwrites it with my boxes, "merge" saves the union (mergeAnnotations).
  // Either write is based on their version, so a still newer save is one more conflict.
  resolve(server, choice) {
    this.conflict = null;
    this.conflictReason = null;
    this.error = null;
    this.server = server;
    this.baseVersion = server.version;
    if (choice === "merge") this.local = mergeAnnotations(server, this.local);
    else if (choice !== "mine") this.local = annOf(server);
    this.persist();
    this.flush(); // sends nothing when the result is their annotation
    this.env.onChange(this);
  }

  // The frame was re-read and nothing here is unsaved: show the server's state.
  adopt(server) {
    this.server = server;
    this.baseVersion = server.version;
    this.local = annOf(server);
  }

  // An offline draft with the edits made since it was loaded.
  draftOffline() {
    return Object.assign({}, this.offlineDraft, { local: this.local, savedAt: Date.now() });
  }

  persist() {
    const key = this.env.draftPrefix + this.frameId;
    try {
      if (this.offlineDraft) {
        // Not yet compared with the server: keep what the draft said about its base.
        localStorage.setItem(key, JSON.stringify(this.draftOffline()));
      } else if (!this.pending && !this.conflict) {
        localStorage.removeItem(key);
      } else {
        localStorage.setItem(key, JSON.stringify({
          format: DRAFT_FORMAT, baseVersion: this.baseVersion, conflict: Boolean(this.conflict),
          local: this.local, inflight: this.inflight, savedAt: Date.now(),
        }));
      }
    } catch (err) {
      // Storage full or disabled: saving still works, only the offline copy is missing.
    }
  }
}

// The version a draft's edits were made on, or null when the draft cannot say.
function draftBase(draft) {
  const sent = draft.inflight && draft.inflight.body;
  if (sent) return Number.isInteger(sent.version) ? sent.version : null;
  if (draft.format !== DRAFT_FORMAT || draft.conflict) return null;
  return Number.isInteger(draft.baseVersion) ? draft.baseVersion : null;
}

// Build a saver from a draft left in localStorage by an earlier page (or a crash). A draft
// is sent only on top of the version it was made on; one made on an older version (or one
// that cannot say, or one already in conflict) becomes a conflict for the user to resolve,
// and nothing is written until they choose.
function saverFromDraft(frameId, draft, server, env) {
  const saver = new FrameSaver(frameId, server, env);
  saver.local = annOf(draft.local);
  const sent = draft.inflight && draft.inflight.body;
  const base = draftBase(draft);
  if (sent && server.request_id === sent.request_id) {
    // The save went through; only edits made after it (on that version) remain to send.
  } else if (sameAnn(saver.local, annOf(server))) {
    // The server already holds exactly this: nothing to send, nothing to choose.
  } else if (base !== null && base === server.version) {
    // Never-acknowledged edits on top of what the server still has: resend them.
    if (sent) saver.inflight = draft.inflight; // unchanged, so a landed save is recognised
  } else {
    saver.conflict = server;
    // Keep the draft's own base: reopening again must offer the choice again.
    saver.baseVersion = Number.isInteger(draft.baseVersion) ? draft.baseVersion : -1;
  }
  return saver;
}

// Resume (or flag as conflicting) every draft this project left in localStorage.
async function recoverDrafts(env, savers) {
  const found = [];
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key && key.startsWith(env.draftPrefix)) found.push(key);
  }
  for (const key of found) {
    const frameId = Number(key.slice(env.draftPrefix.length));
    let draft;
    try {
      draft = JSON.parse(localStorage.getItem(key));
    } catch (err) {
      draft = null;
    }
    if (!draft || typeof draft !== "object" || !draft.local) {
      localStorage.removeItem(key); // unreadable: nothing in it can be saved
      continue;
    }
    let res;
    try {
      res = await api("GET", env.url(frameId));
    } catch (err) {
      // Offline: keep the draft; it is picked up when the frame is opened.
      savers.set(frameId, Object.assign(new FrameSaver(frameId, {
        version: draft.baseVersion, boxes: [], is_negative: false, status: "unlabeled",
      }, env), { local: annOf(draft.local), offlineDraft: draft }));
      continue;
    }
    if (res.status === 404 || res.status === 403) {
      localStorage.removeItem(key);
      continue;
    }
    if (!res.ok) continue;
    const saver = saverFromDraft(frameId, draft, res.data, env);
    savers.set(frameId, saver);
    saver.persist();
    if (!saver.conflict) saver.flush();
  }
  env.onChange(null);
}

export {
AUTOSAVE_DELAY_MS, round2, annOf, sameAnn, mergeAnnotations, api, describeError,
FrameSaver, saverFromDraft, recoverDrafts,
};
