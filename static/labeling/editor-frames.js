// The editor's frame list, a page at a time.
//
// A lab's project holds 13,622 frames: loading every page before showing the first frame
// took dozens of requests. The editor holds one window of the (filtered) list instead:
// the first page at once, the next or previous page when navigation comes near an edge
// of it (by cursor: "the frames after this one", so a frame labeled meanwhile under a
// status filter makes nobody skip a frame), and a fresh window when the person jumps
// (the slider, a frame id in the URL, next unlabeled far away). Positions are 0-based
// places in the whole list; `total` is the API's count.

const PAGE_SIZE = 200;
const NEAR_EDGE = 50; // frames from an edge of the window at which the next page loads

export class FrameList {
  // url: the list endpoint; query: its filters ({status, video, split, proposals, ...}).
  constructor(url, query, api, describeError) {
    this.url = url;
    this.query = query;
    this.api = api;
    this.describeError = describeError;
    this.frames = []; // the loaded window, in list order
    this.start = 0; // position of frames[0]
    this.total = 0;
    this.generation = 0; // bumped when the window is replaced: late pages are dropped
    this.extending = { forward: null, backward: null };
    this.requests = 0; // list requests made (the page shows it for tests and curiosity)
    this.onChange = null; // called when the window or the total changed
  }

  changed() {
    if (this.onChange) this.onChange();
  }

  get end() {
    return this.start + this.frames.length;
  }

  at(position) {
    return position >= this.start && position < this.end
      ? this.frames[position - this.start] : null;
  }

  find(id) {
    return this.frames.find((f) => f.id === id) || null;
  }

  positionOf(id) {
    const i = this.frames.findIndex((f) => f.id === id);
    return i < 0 ? -1 : this.start + i;
  }

  async fetch(extra) {
    const params = new URLSearchParams(Object.assign({}, this.query, { limit: PAGE_SIZE },
      extra));
    this.requests += 1;
    const res = await this.api("GET", this.url + "?" + params);
    if (!res.ok) throw new Error(this.describeError(res));
    return res.data;
  }

  replace(data) {
    this.generation += 1;
    this.extending = { forward: null, backward: null };
    this.frames = data.results;
    this.start = data.offset || 0;
    this.total = Math.max(data.count, this.end);
    this.changed();
  }

  // The first page, or the page holding frame `id` (when it is in the list); the
  // position to show.
  async open(id) {
    const data = await this.fetch(id ? { around: id } : {});
    this.replace(data);
    const at = id ? this.positionOf(id) : -1;
    return at >= 0 ? at : this.start;
  }

  // The position of frame `id`, loading the page around it if it is not loaded; -1
  // when it is not in the list.
  async locate(id) {
    const loaded = this.positionOf(id);
    if (loaded >= 0) return loaded;
    const data = await this.fetch({ around: id });
    if (data.position === null || data.position === undefined) return -1;
    this.replace(data);
    return this.positionOf(id);
  }

  // Make `position` loaded: the next/previous page when it is just past an edge, else a
  // fresh window around it. False when it is past the list's end.
  async ensure(position) {
    if (this.at(position)) return true;
    if (position < 0 || position >= this.total) return false;
    if (position === this.end) await this.extend(true);
    else if (position === this.start - 1) await this.extend(false);
    if (this.at(position)) return true;
    const offset = Math.max(0, position - Math.floor(PAGE_SIZE / 4));
    const data = await this.fetch({ offset: offset });
    this.replace(data);
    return Boolean(this.at(position));
  }

  // Load the page after (forward) or before the window; one request at a time per side.
  extend(forward) {
    const side = forward ? "forward" : "backward";
    if (this.extending[side]) return this.extending[side];
    if (!this.frames.length || (forward ? this.end >= this.total : this.start <= 0)) {
      return Promise.resolve(false);
    }
    const generation = this.generation;
    const edge = forward ? this.frames[this.frames.length - 1] : this.frames[0];
    const promise = this.fetch(forward ? { after: edge.id } : { before: edge.id })
      .then((data) => {
        if (generation !== this.generation) return false;
        const held = new Set(this.frames.map((f) => f.id));
        const fresh = data.results.filter((f) => !held.has(f.id));
        if (forward) {
          this.frames.push(...fresh);
          // Frames that left a filtered list meanwhile are still held: never fewer.
          this.total = data.next ? Math.max(data.count, this.end) : this.end;
        } else {
          this.frames.unshift(...fresh);
          // Held positions count from the window's start: at the list's start it is 0.
          this.start = data.previous ? Math.max(0, this.start - fresh.length) : 0;
          this.total = Math.max(data.count, this.end);
        }
        this.changed();
        return fresh.length > 0;
      })
      .finally(() => {
        if (this.extending[side] === promise) this.extending[side] = null;
      });
    this.extending[side] = promise;
    return promise;
  }

  // Near an edge of the window: load the next page in the background.
  prefetch(position) {
    const quiet = () => {}; // a failed prefetch is tried again by the navigation itself
    if (this.end - position <= NEAR_EDGE && this.end < this.total) {
      this.extend(true).catch(quiet);
    }
    if (position - this.start < NEAR_EDGE && this.start > 0) this.extend(false).catch(quiet);
  }

  // The first frame with `status` after frame `afterId` (or from the list's start),
  // asked of the server: null when there is none. Filters other than status stay.
  async firstWithStatus(status, afterId) {
    const extra = { status: status, limit: 1 };
    if (afterId) extra.after = afterId;
    const data = await this.fetch(extra);
    return data.results.length ? data.results[0] : null;
  }
}

