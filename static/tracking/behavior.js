// Shared helpers of the behaviour pages (arena, analysis, experiment): JSON calls with the
// CSRF token, errors that name their field, number formatting. Exposes window.MTBehavior.
(function () {
  "use strict";

  class ApiError extends Error {
    constructor(status, body) {
      super(`HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
    // ["zones[1].points: not a simple polygon", ...]
    lines() {
      const body = this.body;
      if (!body || typeof body !== "object") return [`The server answered ${this.status}.`];
      if (body.detail && Object.keys(body).length === 1) return [String(body.detail)];
      const out = [];
      Object.entries(body).forEach(([field, messages]) => {
        const list = Array.isArray(messages) ? messages : [messages];
        list.forEach((m) => out.push(`${field}: ${typeof m === "string" ? m : JSON.stringify(m)}`));
      });
      return out.length ? out : [`The server answered ${this.status}.`];
    }
  }

  async function request(method, url, body, isForm) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") headers["X-CSRFToken"] = window.mousetrackCsrfToken();
    if (body !== undefined) {
      if (isForm) {
        init.body = body;
      } else {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    const response = await fetch(url, init);
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = { detail: text.slice(0, 200) };
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function fmt(value, digits = 2) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    if (typeof value !== "number") return String(value);
    return value.toFixed(digits);
  }

  function showErrors(list, error) {
    list.replaceChildren();
    const lines = error instanceof ApiError ? error.lines() : [String(error.message || error)];
    lines.forEach((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      list.appendChild(li);
    });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    });
    children.forEach((c) => node.append(c));
    return node;
  }

  function download(filename, text, type) {
    const blob = new Blob([text], { type: type || "application/json" });
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: filename });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  window.MTBehavior = {
    ApiError,
    get: (url) => request("GET", url),
    put: (url, body) => request("PUT", url, body),
    post: (url, body) => request("POST", url, body),
    postForm: (url, form) => request("POST", url, form, true),
    fmt,
    showErrors,
    el,
    download,
  };
})();
