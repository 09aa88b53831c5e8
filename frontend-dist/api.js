// The API client: the seed's `src/lib/api.ts` (apiRequest, sendChatMessage, login, register,
// exportData) plus the calls the site needs. Types: api.d.ts, generated from openapi.json.
import { config } from "./config.js";

const API_BASE_URL = (config.apiBaseUrl || "").replace(/\/+$/, "");
const TOKEN_KEY = "auth_token";

export function getToken() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the API: `{"error":{"code","message"}}` plus the status. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = (body && body.error) || {};
    super(error.message || `API Error: ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = error.code || "http_" + status;
    this.body = body;
    this.conversationId = error.conversationId || null;
    this.retryAfter = retryAfter;
  }
}

function headers(extra = {}, json = true) {
  const token = getToken();
  return {
    ...(json ? { "Content-Type": "application/json" } : {}),
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
    ...extra,
  };
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const retry = Number(response.headers.get("Retry-After"));
  return new ApiError(response.status, body, Number.isFinite(retry) && retry > 0 ? retry : null);
}

/** The seed's `apiRequest`: JSON in, JSON out, `ApiError` on failure. */
export async function apiRequest(endpoint, options = {}) {
  const response = await fetch(`${API_BASE_URL}${endpoint}`, {
    ...options,
    headers: headers(options.headers, options.body !== undefined),
  });
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

// Chat
export function sendChatMessage(data) {
  return apiRequest("/api/chat", { method: "POST", body: JSON.stringify(data) });
}

/**
 * Streams a reply (Server-Sent Events over fetch). `handlers`: onStart({conversationId}),
 * onDelta(text), onDone({conversationId, messageId, usage}), onError(ApiError). Resolves when the
 * stream ends; pass `signal` (AbortController) to stop. Errors before the stream starts reject.
 */
export async function streamChatMessage(data, handlers = {}, signal) {
  const response = await fetch(`${API_BASE_URL}/api/chat`, {
    method: "POST",
    headers: headers({ Accept: "text/event-stream" }),
    body: JSON.stringify(data),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      dispatch(block, handlers);
    }
  }
  if (buffer.trim()) dispatch(buffer, handlers);
}

function dispatch(block, handlers) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return; // keep-alive comments
  const payload = JSON.parse(data.join("\n"));
  if (event === "start") handlers.onStart?.(payload);
  else if (event === "delta") handlers.onDelta?.(payload.content);
  else if (event === "done") handlers.onDone?.(payload);
  else if (event === "error") handlers.onError?.(new ApiError(200, payload, null));
}

export function listConversations({ limit, cursor } = {}) {
  return apiRequest(`/api/chat/conversations${query({ limit, cursor })}`);
}

export function getConversation(id, { limit, cursor } = {}) {
  return apiRequest(`/api/chat/conversations/${encodeURIComponent(id)}${query({ limit, cursor })}`);
}

export function renameConversation(id, title) {
  return apiRequest(`/api/chat/conversations/${encodeURIComponent(id)}`, {
    method: "PATCH",
    body: JSON.stringify({ title }),
  });
}

export function deleteConversation(id) {
  return apiRequest(`/api/chat/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
}

// Auth
export function login(credentials) {
  return apiRequest("/api/auth/login", { method: "POST", body: JSON.stringify(credentials) });
}

export function register(data) {
  return apiRequest("/api/auth/register", { method: "POST", body: JSON.stringify(data) });
}

export function session() {
  return apiRequest("/api/auth/session");
}

export function logout({ all = false } = {}) {
  return apiRequest(`/api/auth/logout${all ? "?all=true" : ""}`, { method: "POST" });
}

// Admin
/** The seed's `exportData`: the JSON export `{data:{users,conversations,messages,auditLogs}}`. */
export function exportData({ since, until } = {}) {
  return apiRequest(`/api/admin/export${query({ since, until })}`);
}

/** The export as a file: `{blob, filename}` (`format`: "json" or "ndjson"). */
export async function downloadExport({ format = "json", since, until } = {}) {
  const response = await fetch(`${API_BASE_URL}/api/admin/export${query({ format, since, until })}`, {
    headers: headers({}, false),
  });
  if (!response.ok) throw await failure(response);
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return { blob: await response.blob(), filename: match ? match[1] : `export.${format}` };
}

export function listUsers({ q, page, pageSize } = {}) {
  return apiRequest(`/api/admin/users${query({ q, page, pageSize })}`);
}

export function banUser(id) {
  return apiRequest(`/api/admin/users/${encodeURIComponent(id)}/ban`, { method: "POST" });
}

export function unbanUser(id) {
  return apiRequest(`/api/admin/users/${encodeURIComponent(id)}/unban`, { method: "POST" });
}

export function listAuditLogs({ action, actorId, page, pageSize } = {}) {
  return apiRequest(`/api/admin/audit-logs${query({ action, actorId, page, pageSize })}`);
}

function query(params) {
  const entries = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}
