// Autosave for the labeling editor, one FrameSaver per frame.
//
// A saver PUTs the frame's whole annotation ({version, boxes, is_negative, status,
// request_id}; boxes in original-image pixels) with the version it was based on. A failed
// request is retried unchanged, same request_id, with exponential backoff, so a save that did
// land is answered from the stored result; a 409 is kept as a conflict for the user to
// resolve. Until the server acknowledges it, the work is mirrored in localStorage.
window.MouseTrackAutosave = (function () {
  "use strict";

  const AUTOSAVE_DELAY_MS = 400;
  const MAX_RETRY_DELAY_MS = 30000;

  const round2 = (v) => Math.round(v * 100) / 100;

  function newRequestId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function annOf(source) {
    return {
      boxes: (source.boxes || []).map((b) => ({
        class_id: b.class_id, x: b.x, y: b.y, w: b.w, h: b.h,
      })),
      is_negative: Boolean(source.is_negative),
      status: source.status || "unlabeled",
    };
  }

  function annKey(ann) {
    return JSON.stringify([
      ann.is_negative, ann.status,
      ann.boxes.map((b) => [b.class_id, round2(b.x), round2(b.y), round2(b.w), round2(b.h)]),
    ]);
  }

  const sameAnn = (a, b) => annKey(a) === annKey(b);

  async function api(method, url, body) {
    const options = {
      method: method, credentials: "same-origin", headers: { Accept: "application/json" },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = window.mousetrackCsrfToken();
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
      const body = Object.assign({ version: this.server.version }, annOf(this.local));
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

    resolve(server, keepMine) {
      this.conflict = null;
      this.conflictReason = null;
      this.error = null;
      this.server = server;
      if (!keepMine) this.local = annOf(server);
      this.persist();
      if (keepMine) this.flush(); // an explicit overwrite, based on their version
      this.env.onChange(this);
    }

    persist() {
      const key = this.env.draftPrefix + this.frameId;
      try {
        if (!this.pending && !this.conflict) {
          localStorage.removeItem(key);
        } else {
          localStorage.setItem(key, JSON.stringify({
            baseVersion: this.server.version, local: this.local, inflight: this.inflight,
            savedAt: Date.now(),
          }));
        }
      } catch (err) {
        // Storage full or disabled: saving still works, only the offline copy is missing.
      }
    }
  }

  // Build a saver from a draft left in localStorage by an earlier page (or a crash).
  function saverFromDraft(frameId, draft, server, env) {
    const saver = new FrameSaver(frameId, server, env);
    saver.local = draft.local;
    const sent = draft.inflight && draft.inflight.body;
    if (sent && server.request_id === sent.request_id) {
      // The save went through; only edits made after it remain to send.
    } else if (sent && server.version === sent.version) {
      saver.inflight = draft.inflight; // never arrived: resend it unchanged
    } else if (!sent && server.version === draft.baseVersion) {
      // Unsent edits on top of what the server still has.
    } else if (!sameAnn(draft.local, annOf(server))) {
      saver.conflict = server;
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
        localStorage.removeItem(key);
        continue;
      }
      let res;
      try {
        res = await api("GET", env.url(frameId));
      } catch (err) {
        // Offline: keep the draft; it is picked up when the frame is opened.
        savers.set(frameId, Object.assign(new FrameSaver(frameId, {
          version: draft.baseVersion, boxes: [], is_negative: false, status: "unlabeled",
        }, env), { local: draft.local, offlineDraft: draft }));
        continue;
      }
      if (res.status === 404 || res.status === 403) {
        localStorage.removeItem(key);
        continue;
      }
      if (!res.ok || !draft || !draft.local) continue;
      const saver = saverFromDraft(frameId, draft, res.data, env);
      savers.set(frameId, saver);
      saver.persist();
      if (!saver.conflict) saver.flush();
    }
    env.onChange(null);
  }

  return {
    AUTOSAVE_DELAY_MS, round2, annOf, sameAnn, api, describeError, FrameSaver, saverFromDraft,
    recoverDrafts,
  };
})();
