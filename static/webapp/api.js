// JSON calls to the app's API: the CSRF token on writes, JSON in and out, and a failure
// as an ApiError carrying the server's reason (DRF's {"field": ["msg"]} or {"detail": msg}).

// The CSRF token for fetch()/XHR writes (cookie first, the form field where a page has one).
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

// The first message of a DRF error body: {"field": ["msg"]}, {"detail": "msg"} or
// {"detail": ["msg"]}, nested serializers included; `fallback` when there is none.
export function firstError(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  for (const value of Object.values(body)) {
    const text = Array.isArray(value) ? value[0] : value;
    if (typeof text === "string" && text) return text;
    if (text && typeof text === "object") return firstError(text, fallback);
  }
  return fallback;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(firstError(body, `The server answered ${status}.`));
    this.status = status;
    this.body = body;
  }

  // Every message with its field: ["zones[1].points: not a simple polygon", ...]
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

// One call; resolves to the parsed JSON (null for 204 or an empty body), rejects with an
// ApiError (HTTP error) or the fetch's TypeError (network). `body` is JSON unless it is a
// FormData, which goes as multipart.
export async function request(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    if (body instanceof FormData) {
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
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (url) => request("GET", url);
export const post = (url, body) => request("POST", url, body);
export const put = (url, body) => request("PUT", url, body);
export const patch = (url, body) => request("PATCH", url, body);
export const del = (url) => request("DELETE", url);

// A POST whose every answer the caller reads: resolves to {status, body} (body {} when not
// JSON), rejects only on a network failure. For pages that treat 202/201/4xx differently.
export async function postJson(url, payload) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json",
      "X-CSRFToken": csrfToken() },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}
