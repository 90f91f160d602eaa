// Small DOM helpers shared by the page scripts (no inline styles: the CSP forbids them, so
// widths are set from data attributes here).

export const $ = (id) => document.getElementById(id);

// el("a", {class: "x", text: "hi", href: "/"}, child, ...)
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  });
  children.forEach((c) => node.append(c));
  return node;
}

// A number for a table cell; "—" for none.
export function fmt(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  return value.toFixed(digits);
}

// An error as <li> lines: an ApiError's every field message, else its text.
export function showErrors(list, error) {
  list.replaceChildren();
  const lines = typeof error?.lines === "function" ? error.lines() : [String(error?.message || error)];
  lines.forEach((line) => list.appendChild(el("li", { text: line })));
}

// Save text as a file from the browser.
export function download(filename, text, type) {
  const blob = new Blob([text], { type: type || "application/json" });
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// Elements with data-width="42" get width 42% (bars drawn by the server's templates).
export function applyWidths(root) {
  (root || document).querySelectorAll("[data-width]").forEach((node) => {
    node.style.width = `${Math.max(0, Math.min(100, Number(node.dataset.width) || 0))}%`;
  });
}

export function humanSize(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
