// The video list: drag-and-drop upload with a progress bar per file, registration of
// files on shared storage, and bar widths (inline styles are forbidden by the CSP).
(function () {
  "use strict";

  function applyWidths(root) {
    (root || document).querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, Number(el.dataset.width) || 0)) + "%";
    });
  }
  applyWidths();
  window.mousetrackApplyWidths = applyWidths;

  function firstError(body, fallback) {
    // DRF error shapes: {"field": ["msg"]}, {"detail": "msg"} or {"detail": ["msg"]}.
    if (!body || typeof body !== "object") return fallback;
    const keys = Object.keys(body);
    for (let i = 0; i < keys.length; i += 1) {
      const value = body[keys[i]];
      const text = Array.isArray(value) ? value[0] : value;
      if (typeof text === "string" && text) return text;
      if (text && typeof text === "object") return firstError(text, fallback);
    }
    return fallback;
  }
  window.mousetrackFirstError = firstError;

  function humanSize(bytes) {
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let n = bytes;
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

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
    others.forEach(function (f) { enqueue([f], f.name); });
    for (let i = 0; i < images.length; i += maxFiles) {
      const batch = images.slice(i, i + maxFiles);
      enqueue(batch, batch.length === 1 ? batch[0].name : batch.length + " images (image set)");
    }
    pump();
  }

  function enqueue(files, label) {
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
    const job = { files: files, total: total, item: item };
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
    upload(job, function () { running = false; pump(); });
  }

  // --- one request with real upload progress (fetch() cannot report it) --------------
  function upload(job, done) {
    const form = new FormData();
    job.files.forEach(function (f) { form.append("file", f, f.name); });
    const seconds = Number(sampleEvery && sampleEvery.value);
    if (sampleAfter && sampleAfter.checked && seconds > 0) form.append("sample_every", String(seconds));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", uploadUrl);
    xhr.setRequestHeader("X-CSRFToken", window.mousetrackCsrfToken());
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
                   "X-CSRFToken": window.mousetrackCsrfToken() },
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
})();
