// The API's transport, shared by api.js (which re-exports the public part): the base URL, the
// stored token, ApiError, JSON requests that turn failures into ApiErrors (and tell the 401
// listeners), and the small helpers the calls are built from. No DOM at import time, so the
// unit tests can load it in Node.
import { config } from "./config.js";

export const API_BASE_URL = String(config?.apiBaseUrl ?? "").replace(/\/+$/, "");
export const TOKEN_KEY = "auth_token";

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/**
 * A failed call. `status` is the HTTP status (0 when the request never got an answer), `code`
 * the API's snake_case code, `message` its human text, `retryAfter` the seconds of a
 * `Retry-After` header (429), `body` the parsed error JSON, and `conversationId` the
 * conversation of a chat turn that was saved before it failed.
 */
export class ApiError extends Error {
  constructor({ status = 0, code, message, body = null, retryAfter = null, conversationId = null } = {}) {
    const detail = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : {};
    super(message || detail.message || (status ? `API Error: ${status}` : "Network error"));
    this.name = "ApiError";
    this.status = status;
    this.code = code || detail.code || (status ? `http_${status}` : "network_error");
    this.body = body;
    this.retryAfter = retryAfter;
    this.conversationId = conversationId || detail.conversationId || null;
  }
}

// Told about every 401 to a request that carried a token: the session is over (logged out
// elsewhere, expired, or the account was banned, which ends its sessions).
const unauthorizedListeners = new Set();

/** Calls `listener(error)` whenever the API rejects the stored token. Returns an unsubscribe. */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function authHeaders(extra) {
  const token = getToken();
  return { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...extra };
}

function retryAfterSeconds(response) {
  const raw = response.headers.get("Retry-After");
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(raw); // the HTTP-date form
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Turns a non-2xx response into an ApiError (and tells the 401 listeners). */
async function failure(response, sentToken) {
  let body = null;
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null; // not JSON: a proxy's error page, say
  }
  const error = new ApiError({ status: response.status, body, retryAfter: retryAfterSeconds(response) });
  if (response.status === 401 && sentToken) unauthorizedListeners.forEach((listener) => listener(error));
  return error;
}

/** The longest wait before trying a `503 overloaded` call again, in seconds. */
export const OVERLOADED_WAIT_MAX = 10;

/**
 * Sends a request; rejects with an ApiError. A `503 overloaded` (an instance whose password
 * checks are all taken: a burst of logins or registrations, while Function Compute starts more
 * instances) is sent once more after its `Retry-After` (at most OVERLOADED_WAIT_MAX seconds).
 */
export async function send(endpoint, init, { again = true } = {}) {
  const sentToken = Boolean(init.headers?.Authorization);
  let response;
  try {
    response = await fetch(`${API_BASE_URL}${endpoint}`, init);
  } catch (cause) {
    if (cause?.name === "AbortError") throw cause;
    throw new ApiError({ status: 0, code: "network_error", message: cause?.message || "Network error" });
  }
  if (!response.ok) {
    const error = await failure(response, sentToken);
    if (again && error.status === 503 && error.code === "overloaded" && !init.signal?.aborted) {
      const seconds = Math.min(error.retryAfter ?? 1, OVERLOADED_WAIT_MAX);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      return send(endpoint, init, { again: false });
    }
    throw error;
  }
  return response;
}

/**
 * The seed's `apiRequest`: `endpoint` is a path such as `/api/chat`; JSON in, JSON out (null
 * for 204). Rejects with ApiError.
 */
export async function apiRequest(endpoint, options = {}) {
  const response = await send(endpoint, {
    ...options,
    headers: authHeaders({
      ...(options.body !== undefined ? { "Content-Type": "application/json" } : {}),
      Accept: "application/json",
      ...options.headers,
    }),
  });
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export function json(method, body) {
  return { method, body: body === undefined ? undefined : JSON.stringify(body) };
}

export function query(params) {
  const entries = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== "");
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : "";
}

export const path = (value) => encodeURIComponent(value);

/** The filename of a `Content-Disposition` header (RFC 6266: `filename*` wins over `filename`). */
export function dispositionFilename(header) {
  if (!header) return null;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/.exec(header);
  return plain ? (plain[1] ?? plain[2]).replace(/\\(.)/g, "$1") : null;
}

/** Hands `{blob, filename}` to the browser to save; resolves to the same. */
export function saveFile(file) {
  const url = URL.createObjectURL(file.blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = file.filename;
  link.rel = "noopener";
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
  return file;
}
