import { csrfToken, firstError } from "../webapp/api.js";
import { applyWidths, humanSize } from "../webapp/dom.js";
import { isFinished, untilFinished } from "../webapp/jobs.js";

// The video list: drag-and-drop upload with a progress bar per file, registration of
// files on shared storage, and bar widths (inline styles are forbidden by the CSP).
function initVideoList() {
  applyWidths();

  const IMAGE_EXT = /\.(jpe?g|png|bmp|tiff?|webp)$/i;

  // Replace the list with a fresh copy of it (keeps the upload messages on screen). While
  // a video is being sampled the fresh copy says so (data-sampling) and the list polls
  // itself every 2 s, as the job pages do, until sampling ends.
  const POLL_MS = 2000;
  let pollTimer = null;
  function refreshList() {
    succeeded = 0;
    clearTimeout(pollTimer);
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("video-list-card");
        const card = document.getElementById("video-list-card");
        if (fresh && card) {
          card.replaceWith(fresh);
          applyWidths(fresh);
        }
        schedulePoll();
      })
      .catch(function () { schedulePoll(3 * POLL_MS); });
  }
  function schedulePoll(delay) {
    const card = document.getElementById("video-list-card");
    if (card && card.dataset.sampling) pollTimer = setTimeout(refreshList, delay || POLL_MS);
  }
  let succeeded = 0;
  schedulePoll();

  const zone = document.getElementById("drop-zone");
  if (!zone) return;
  const input = document.getElementById("video-files");
  const list = document.getElementById("upload-list");
  const sampleAfter = document.getElementById("sample-after");
  const sampleEvery = document.getElementById("sample-every");
  const uploadUrl = zone.dataset.uploadUrl;
  const chunkedUrl = zone.dataset.chunkedUrl;
  const maxBytes = Number(zone.dataset.maxBytes) || Infinity;
  const maxFiles = Number(zone.dataset.maxFiles) || 500;
  const queue = [];
  let running = false;

  // --- drop zone ------------------------------------------------------------------------
  zone.addEventListener("click", function (event) {
    if (event.target !== input) input.click();
  });
  zone.addEventListener("keydown", function (event) {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("is-dragover");
    });
  });
  ["dragleave", "dragend", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("is-dragover"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files) addFiles(event.dataTransfer.files);
  });
  input.addEventListener("change", function () {
    addFiles(input.files);
    input.value = "";
  });

  // Videos and zips go one per request; loose images together become one image set.
  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length) return;
    const images = files.filter(function (f) {
      return (f.type || "").indexOf("image/") === 0 || IMAGE_EXT.test(f.name);
    });
    const others = files.filter(function (f) { return images.indexOf(f) < 0; });
    // Videos and zips go in resumable chunks (a dropped connection resumes where it stopped).
    others.forEach(function (f) { enqueue([f], f.name, Boolean(chunkedUrl)); });
    for (let i = 0; i < images.length; i += maxFiles) {
      const batch = images.slice(i, i + maxFiles);
      enqueue(batch, batch.length === 1 ? batch[0].name : batch.length + " images (image set)");
    }
    pump();
  }

  function enqueue(files, label, chunked) {
    const total = files.reduce(function (n, f) { return n + f.size; }, 0);
    const item = document.createElement("div");
    item.className = "upload-item";
    item.innerHTML =
      '<div class="d-flex justify-content-between gap-2 small">' +
      '<span class="name fw-semibold"></span><span class="size text-body-secondary text-nowrap"></span></div>' +
      '<div class="progress my-1" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0">' +
      '<div class="progress-bar"></div></div>' +
      '<div class="state small text-body-secondary">Waiting…</div>';
    item.querySelector(".name").textContent = label; // never innerHTML: names are user text
    item.querySelector(".name").title = label;
    item.querySelector(".size").textContent = humanSize(total);
    list.prepend(item);
    const job = { files: files, total: total, item: item, chunked: Boolean(chunked) };
    if (total > maxBytes) {
      fail(job, "Too large: the limit is " + humanSize(maxBytes) + ".");
      return;
    }
    queue.push(job);
  }

  function setBar(job, percent, variant) {
    const bar = job.item.querySelector(".progress-bar");
    bar.style.width = percent + "%";
    job.item.querySelector(".progress").setAttribute("aria-valuenow", String(Math.round(percent)));
    bar.className = "progress-bar" + (variant ? " " + variant : "");
  }

  function setState(job, text, cls) {
    const state = job.item.querySelector(".state");
    state.className = "state small " + (cls || "text-body-secondary");
    state.textContent = text;
    return state;
  }

  function fail(job, message) {
    job.item.classList.add("is-failed");
    setBar(job, 100, "bg-danger");
    setState(job, message, "text-danger");
  }

  function pump() {
    if (running) return;
    const job = queue.shift();
    if (!job) {
      if (succeeded) refreshList();
      return;
    }
    running = true;
    const next = function () { running = false; pump(); };
    if (job.chunked) chunkedUpload(job).finally(next);
    else upload(job, next);
  }

  function showAdded(job, body) {
    succeeded += 1;
    job.item.classList.add("is-done");
    setBar(job, 100, "bg-success");
    const state = setState(job, "", "text-success");
    const link = document.createElement("a");
    link.href = body.page_url;
    link.textContent = body.kind === "imageset"
      ? "Image set added: " + body.frames_sampled + " frames"
      : "Added (" + body.width + "×" + body.height + ", " + body.frame_count + " frames)";
    state.append(link);
    if (body.sampling_job) state.append(" · sampling started");
    if (body.sampling_error) {
      const warn = document.createElement("div");
      warn.className = "text-warning-emphasis";
      warn.textContent = body.sampling_error;
      state.append(warn);
    }
  }

  // A job checks the file (a zip image by image, a video by decoding it): follow it to
  // its end. Resolves with the job's last state.
  // `steps`: the job's progress is a few steps, not a measure (a video's probe says
  // nothing until it is done): a full striped bar and the step's message, no percentage.
  function followJob(job, body, waiting, steps) {
    const show = function (state) {
      if (isFinished(state)) return;
      const percent = Math.round(100 * (state.progress || 0));
      setBar(job, steps ? 100 : Math.max(percent, 5), "progress-bar-striped progress-bar-animated");
      setState(job, (state.message || waiting) + (steps ? "" : " " + percent + "%"));
    };
    show(body);
    return untilFinished(body, { onUpdate: show, intervalMs: 800 });
  }

  function failedJob(job, state) {
    fail(job, (state.error || state.message || state.status).split("\n")[0]);
  }

  async function followImageSetJob(job, body) {
    const state = await followJob(job, body, "Queued: checking every image…");
    if (state.status === "succeeded") {
      showAdded(job, {
        kind: "imageset", page_url: state.page_url, frames_sampled: state.frame_count,
      });
    } else {
      failedJob(job, state);
      if (state.retry_url) offerRetry(job, state);
    }
  }

  // A job whose worker died still holds the received zip: it can run again without a
  // second upload.
  function offerRetry(job, state) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-outline-primary btn-sm py-0 ms-2 job-retry";
    button.textContent = "Retry";
    button.addEventListener("click", async function () {
      button.disabled = true;
      let res;
      try {
        res = await request("POST", state.retry_url);
      } catch (err) {
        button.disabled = false;
        return;
      }
      if (res.status !== 202 || !res.response) {
        fail(job, firstError(res.response, "The server answered " + res.status + "."));
        return;
      }
      job.item.classList.remove("is-failed");
      await followImageSetJob(job, res.response);
    });
    job.item.querySelector(".state").append(button);
  }

  // A video uploaded in chunks is checked (decoded) by a job, not in the request, so a
  // multi-GB recording cannot outlive the server's request timeout.
  async function followVideoJob(job, body) {
    job.item.dataset.phase = "checking";
    const state = await followJob(job, body, "Checking the video…", true);
    job.item.dataset.phase = state.status;
    if (state.status === "succeeded" && state.video_detail) {
      showAdded(job, Object.assign({}, state.video_detail, {
        page_url: state.page_url, sampling_job: state.sampling_job,
        sampling_error: state.sampling_error,
      }));
    } else {
      failedJob(job, state);
    }
    return state;
  }

  // --- resumable upload in chunks (tus-style offsets) ------------------------------------
  // The upload's url is remembered per file (name, size, date) in localStorage, so a
  // closed tab or a dropped connection resumes from the offset the server reports.
  const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];

  function uploadKey(file) {
    return "mousetrack-upload:" + zone.dataset.project + ":" + file.name + ":" + file.size
      + ":" + file.lastModified;
  }

  function sleep(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  function request(method, url, options) {
    const opts = options || {};
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      Object.entries(opts.headers || {}).forEach(function (kv) { xhr.setRequestHeader(kv[0], kv[1]); });
      xhr.responseType = "json";
      if (opts.onProgress) {
        xhr.upload.addEventListener("progress", function (e) { opts.onProgress(e.loaded); });
      }
      xhr.addEventListener("load", function () { resolve(xhr); });
      xhr.addEventListener("error", function () { reject(new Error("network")); });
      xhr.addEventListener("abort", function () { reject(new Error("aborted")); });
      xhr.send(opts.body === undefined ? null : opts.body);
    });
  }

  async function resumeOrStart(job, file) {
    const key = uploadKey(file);
    const saved = window.localStorage.getItem(key);
    if (saved) {
      // Receiving: send the rest. Checking or complete: all bytes are in, completing
      // again follows the job that checks them (or shows the video).
      const res = await request("GET", saved);
      if (res.status === 200 && res.response) return res.response;
      window.localStorage.removeItem(key);
    }
    const payload = { file_name: file.name, size: file.size };
    const seconds = Number(sampleEvery && sampleEvery.value);
    if (sampleAfter && sampleAfter.checked && seconds > 0) payload.sample_every = seconds;
    const res = await request("POST", chunkedUrl, {
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
    });
    if (res.status !== 201) throw new Error(firstError(res.response, "The server answered " + res.status + "."));
    window.localStorage.setItem(key, res.response.url);
    return res.response;
  }

  function showChunkProgress(job, offset, resumedAt) {
    const percent = (100 * offset) / job.total;
    setBar(job, percent);
    setState(job, "Uploading… " + Math.floor(percent) + "% of " + humanSize(job.total)
      + (resumedAt ? " (resumed at " + humanSize(resumedAt) + ")" : ""));
  }

  async function chunkedUpload(job) {
    const file = job.files[0];
    const key = uploadKey(file);
    let info;
    try {
      info = await resumeOrStart(job, file);
    } catch (err) {
      fail(job, err.message === "network" ? "Network error: the upload did not start." : err.message);
      return;
    }
    let offset = info.offset;
    const resumedAt = offset;
    job.item.dataset.resumedAt = String(resumedAt);
    const size = info.chunk_bytes || 8 * 1024 * 1024;
    let failures = 0;
    showChunkProgress(job, offset, resumedAt);
    while (offset < file.size) {
      let res;
      try {
        const start = offset;
        res = await request("PATCH", info.url, {
          headers: { "Upload-Offset": String(start), "Content-Type": "application/offset+octet-stream" },
          body: file.slice(start, start + size),
          onProgress: function (loaded) { showChunkProgress(job, start + loaded, resumedAt); },
        });
      } catch (err) {
        res = null;
      }
      if (res && (res.status === 204 || res.status === 409) && res.getResponseHeader("Upload-Offset") !== null) {
        offset = Number(res.getResponseHeader("Upload-Offset"));
        failures = res.status === 204 ? 0 : failures;
        if (res.status === 409) await sleep(300);
        showChunkProgress(job, offset, resumedAt);
        continue;
      }
      if (res && res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        window.localStorage.removeItem(key);
        fail(job, firstError(res.response, "The server answered " + res.status + "."));
        return;
      }
      // The connection dropped (or the server is restarting): wait, ask where we are, go on.
      if (failures >= RETRY_DELAYS_MS.length) {
        fail(job, "Network error: the upload stopped at " + Math.floor((100 * offset) / file.size)
          + "%. Add the same file again to resume it.");
        return;
      }
      setState(job, "Connection lost at " + Math.floor((100 * offset) / file.size) + "%; retrying…", "text-warning-emphasis");
      await sleep(RETRY_DELAYS_MS[failures]);
      failures += 1;
      try {
        const head = await request("HEAD", info.url);
        if (head.status === 200) offset = Number(head.getResponseHeader("Upload-Offset"));
      } catch (err) { /* still offline: the next PATCH attempt tells */ }
    }
    setBar(job, 100, "progress-bar-striped progress-bar-animated");
    setState(job, "Checking the file…");
    let done;
    try {
      done = await request("POST", info.complete_url);
    } catch (err) {
      fail(job, "Network error while checking the file; add it again to finish.");
      return;
    }
    if (done.status === 201 && done.response) {
      window.localStorage.removeItem(key);
      showAdded(job, done.response);
    } else if (done.status === 202 && done.response && done.response.kind === "imageset_job") {
      window.localStorage.removeItem(key);
      await followImageSetJob(job, done.response);
    } else if (done.status === 202 && done.response && done.response.kind === "video_upload_job") {
      // Kept until the check ends: a closed tab finds the same job when the file is added.
      await followVideoJob(job, done.response);
      window.localStorage.removeItem(key);
    } else {
      if (done.status === 400 || done.status === 404) window.localStorage.removeItem(key);
      fail(job, firstError(done.response, "The server answered " + done.status + "."));
    }
  }

  // --- one request with real upload progress (fetch() cannot report it) --------------
  function upload(job, done) {
    const form = new FormData();
    job.files.forEach(function (f) { form.append("file", f, f.name); });
    const seconds = Number(sampleEvery && sampleEvery.value);
    if (sampleAfter && sampleAfter.checked && seconds > 0) form.append("sample_every", String(seconds));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", uploadUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    setState(job, "Uploading… 0%");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      const percent = (100 * event.loaded) / event.total;
      setBar(job, percent);
      setState(job, "Uploading… " + Math.floor(percent) + "% of " + humanSize(job.total));
    });
    xhr.upload.addEventListener("load", function () {
      setBar(job, 100, "progress-bar-striped progress-bar-animated");
      setState(job, "Checking the file (decoding it)…");
    });
    xhr.addEventListener("load", function () {
      const body = xhr.response;
      if (xhr.status === 201 && body) {
        showAdded(job, body);
      } else if (xhr.status === 202 && body && body.kind === "imageset_job") {
        followImageSetJob(job, body).finally(done);
        return;
      } else if (xhr.status === 413) {
        fail(job, firstError(body, "Too large for this server."));
      } else {
        fail(job, firstError(body, "The server answered " + xhr.status + "."));
      }
      done();
    });
    xhr.addEventListener("error", function () { fail(job, "Network error: the upload did not finish."); done(); });
    xhr.addEventListener("abort", function () { fail(job, "Upload cancelled."); done(); });
    xhr.send(form);
  }

  // --- registration of a file on shared storage ---------------------------------------
  const register = document.getElementById("register-form");
  if (register) {
    register.addEventListener("submit", function (event) {
      event.preventDefault();
      const error = document.getElementById("register-error");
      error.textContent = "";
      const button = register.querySelector("button");
      button.disabled = true;
      const payload = { path: register.elements.path.value };
      const seconds = Number(sampleEvery && sampleEvery.value);
      if (sampleAfter && sampleAfter.checked && seconds > 0) payload.sample_every = seconds;
      fetch(register.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json",
                   "X-CSRFToken": csrfToken() },
        body: JSON.stringify(payload),
      })
        .then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
        .then(function (result) {
          if (result[0] === 201) { window.location.href = result[1].page_url; return; }
          error.textContent = firstError(result[1], "The server answered " + result[0] + ".");
        })
        .catch(function () { error.textContent = "Network error."; })
        .finally(function () { button.disabled = false; });
    });
  }
}

initVideoList();
