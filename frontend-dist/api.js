// The API client. It mirrors the seed's `src/lib/api.ts` (apiRequest, sendChatMessage, login,
// register, exportData) and adds the calls the site needs: the session, logout, streamed replies,
// the conversation history, the account the user runs themselves (password, devices, mail links,
// their data) and the admin pages. Types: api.d.ts (generated from openapi.json).
//
// The API's base URL comes from config.js (`make site-config API_BASE_URL=…`); empty means the
// site's own origin. The session token lives in localStorage under `auth_token`, as in the seed,
// and goes out as `Authorization: Bearer <token>`. The transport (the token, ApiError, JSON
// requests) is in api-http.js; what it exports for everyone is exported here too.
import { ApiError, apiRequest, authHeaders, dispositionFilename, json, path, query, saveFile, send } from "./api-http.js";

export { API_BASE_URL, ApiError, TOKEN_KEY, apiRequest, dispositionFilename, getToken, onUnauthorized, setToken } from "./api-http.js";
// The constitution self-assessment's calls live in their own module.
export { deleteAssessment, getAssessment, getQuestionnaire, listAssessments, submitAssessment } from "./api-constitution.js";
// So do the pictures' (upload forms, the upload itself with its progress).
export { deleteAttachment, pictureUrl, requestUpload, uploadPicture } from "./api-pictures.js";

// ---------------------------------------------------------------------------------------- chat

/** The seed's `sendChatMessage`: the whole reply at once, `{reply, conversationId, messageId, userMessageId, usage?}`. */
export function sendChatMessage(data) {
  return apiRequest("/api/chat", json("POST", data));
}

/**
 * Reads a `text/event-stream` body and calls `onEvent({event, data})` for each event (`data` is
 * the raw text; several `data:` lines are joined with "\n"). Handles CRLF/CR line ends, events
 * split across chunks and comments (`: keep-alive`).
 */
export async function readEventStream(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data = [];
  const line = (text) => {
    if (text === "") {
      if (data.length) onEvent({ event: event || "message", data: data.join("\n") });
      event = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  };
  const drain = (final) => {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A lone "\r" at the end may be the first half of "\r\n": wait for the next chunk.
      if (!match || (!final && match[0] === "\r" && match.index === buffer.length - 1)) break;
      line(buffer.slice(0, match.index));
      buffer = buffer.slice(match.index + match[0].length);
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      drain(false);
    }
    buffer += decoder.decode();
    drain(true);
    if (buffer) line(buffer);
    line("");
  } finally {
    reader.releaseLock?.();
  }
}

/**
 * Sends a message and streams the reply (Server-Sent Events over fetch: EventSource can neither
 * POST nor send the token). `handlers`: `onStart({conversationId, userMessageId})`,
 * `onThinking(piece, thinkingSoFar)` (a reply thought through, `think: true`: what the model
 * thinks, before any `delta`), `onDelta(piece, textSoFar)`, `onDone({conversationId,
 * messageId, usage, finishReason, thinkingMs?})`,
 * `onRedFlag({rule, card, emergencyNumber, crisisHotline})` (an emergency sign in the message: a
 * card to show above the reply, before any `delta`),
 * `onTitle({conversationId, title})` (a model-written title, after `done` of a new
 * conversation's first reply), `onError(apiError)` (an `event: error` inside the stream). Pass an
 * AbortSignal (AbortController) as `signal` to stop listening; stopping the reply itself is
 * `stopReply`.
 *
 * Resolves to `{conversationId, messageId, usage, finishReason, content, thinking?}` at `done`: the reply
 * is saved, complete or (`finishReason: "stopped"`) as far as it got, or withheld by moderation
 * (`finishReason: "blocked"`: show a notice, not `content`). The stream may go on for a
 * `title` after that; it is read to its end in the background. Rejects with ApiError when the
 * API refuses the request (a normal JSON error: 401, 429 with `retryAfter`, 502, 503, 504…),
 * when the stream ends with `event: error`, or when it breaks off before `done`
 * (`stream_incomplete`); `error.conversationId` then names the conversation the message was
 * saved in. Rejects with an AbortError when aborted before `done`.
 */
export function streamChatMessage(data, handlers = {}, signal = handlers.signal) {
  return streamTurn("/api/chat", data, handlers, signal);
}

/**
 * Asks for another reply beside the reply `messageId` (or a reply to the user message
 * `messageId` whose reply failed); the earlier one stays as a version. `data`: `{locale,
 * systemHint}`. Streams and resolves like `streamChatMessage`.
 */
export function regenerateReply(conversationId, messageId, data = {}, handlers = {}, signal = handlers.signal) {
  const endpoint = `/api/chat/conversations/${path(conversationId)}/messages/${path(messageId)}/regenerate`;
  return streamTurn(endpoint, data, handlers, signal);
}

/**
 * Sends the user message `messageId` again with new text (`data`: `{content, locale,
 * systemHint}`): a new version beside the original, with a reply of its own. Streams and
 * resolves like `streamChatMessage`.
 */
export function editMessage(conversationId, messageId, data, handlers = {}, signal = handlers.signal) {
  const endpoint = `/api/chat/conversations/${path(conversationId)}/messages/${path(messageId)}/edit`;
  return streamTurn(endpoint, data, handlers, signal);
}

/**
 * Stops the reply streaming in a conversation, on whichever server instance streams it: the
 * stream then ends with `done` (`finishReason: "stopped"`) and the partial reply is saved.
 * `{requested, ended}` (`requested` 0: nothing was streaming).
 */
export function stopReply(conversationId) {
  return apiRequest(`/api/chat/conversations/${path(conversationId)}/stop`, { method: "POST" });
}

/** Shows another version (`messageId`, one of a message's `versionIds`): the conversation detail. */
export function switchVersion(conversationId, messageId) {
  return apiRequest(`/api/chat/conversations/${path(conversationId)}/switch`, json("POST", { messageId }));
}

/** One streamed turn: POST `data` with `stream: true` to `endpoint` (all turns answer alike). */
async function streamTurn(endpoint, data, handlers, signal) {
  const response = await send(endpoint, {
    method: "POST",
    headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ ...data, stream: true }),
    signal,
  });
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("text/event-stream")) return wholeReply(await response.json(), handlers);
  let content = "";
  let thinking = "";
  let conversationId = data.conversationId ?? null;
  return new Promise((resolve, reject) => {
    // Settles at `done` or `error`; reading goes on for a `title`, and whatever happens after
    // the promise has settled (the end, a break, an abort) changes nothing.
    const finished = readEventStream(response.body, ({ event, data: raw }) => {
      let payload;
      try {
        payload = JSON.parse(raw);
      } catch {
        return; // not ours
      }
      if (event === "start") {
        conversationId = payload.conversationId ?? conversationId;
        handlers.onStart?.(payload);
      } else if (event === "thinking") {
        const piece = String(payload.content ?? "");
        thinking += piece;
        handlers.onThinking?.(piece, thinking);
      } else if (event === "delta") {
        const piece = String(payload.content ?? "");
        content += piece;
        handlers.onDelta?.(piece, content);
      } else if (event === "done") {
        const done = { ...payload, conversationId: payload.conversationId ?? conversationId, finishReason: payload.finishReason ?? "completed" };
        handlers.onDone?.(done);
        resolve({ ...done, content, ...(thinking ? { thinking } : {}) });
      } else if (event === "title") {
        handlers.onTitle?.(payload);
      } else if (event === "redFlag") {
        handlers.onRedFlag?.(payload);
      } else if (event === "error") {
        const error = new ApiError({ status: 200, body: payload, conversationId });
        handlers.onError?.(error);
        reject(error);
      }
    });
    finished.then(
      () => reject(new ApiError({
        status: 200,
        code: "stream_incomplete",
        message: "the reply stream ended before it was complete",
        conversationId,
      })),
      reject,
    );
  });
}

/** A server that ignored the Accept header answered the whole reply as JSON: told as events. */
function wholeReply(whole, handlers) {
  handlers.onStart?.({ conversationId: whole.conversationId, userMessageId: whole.userMessageId });
  if (whole.redFlag) handlers.onRedFlag?.(whole.redFlag);
  if (whole.thinking) handlers.onThinking?.(whole.thinking.content, whole.thinking.content);
  handlers.onDelta?.(whole.reply, whole.reply);
  const done = {
    conversationId: whole.conversationId,
    messageId: whole.messageId,
    usage: whole.usage ?? null,
    finishReason: whole.finishReason ?? "completed",
    ...(whole.thinking ? { thinkingMs: whole.thinking.ms } : {}),
  };
  handlers.onDone?.(done);
  return { ...done, content: whole.reply, ...(whole.thinking ? { thinking: whole.thinking.content } : {}) };
}

/** `{conversations:[{id,type,title,createdAt,updatedAt}], nextCursor}`, newest first. */
export function listConversations({ limit, cursor } = {}) {
  return apiRequest(`/api/chat/conversations${query({ limit, cursor })}`);
}

/**
 * `{conversation, messages (oldest first), nextCursor}` (the cursor pages to older messages).
 * The messages are the branch shown; each says its `parentId`, whether it was `stopped`, and
 * its place among its versions (`version` of `versions`, `versionIds` oldest first).
 */
export function getConversation(id, { limit, cursor } = {}) {
  return apiRequest(`/api/chat/conversations/${path(id)}${query({ limit, cursor })}`);
}

export function renameConversation(id, title) {
  return apiRequest(`/api/chat/conversations/${path(id)}`, json("PATCH", { title }));
}

export function deleteConversation(id) {
  return apiRequest(`/api/chat/conversations/${path(id)}`, { method: "DELETE" });
}

/**
 * The caller's quota: `{messages: {used, limit, remaining, windowSeconds, nextFreeAt} | null,
 * streams: {inUse, limit} | null}` (`messages` null: no message quota; `nextFreeAt` null when
 * nothing is used).
 */
export function getQuota() {
  return apiRequest("/api/chat/quota");
}

/**
 * `{model, disclosure, termsVersion, healthConsent, reportResponseDays}`: which model writes the
 * replies, the operator's disclosure (filing), the version of the terms an account must accept
 * (null: none), whether the TCM adviser needs consent to process health information
 * ("required"|"off"), and within how many days a report is answered. Public.
 */
export function getAbout() {
  return apiRequest("/api/chat/about");
}

/** The current solar term and the next (public): `{current, next}`, each `{name, english, longitude, startsAt}`. */
export function getSeason() {
  return apiRequest("/api/chat/season");
}

/**
 * Reports the reply `messageId` (one the model wrote here, shown) to the administrators:
 * `reason` "illegal"|"harmful"|"wrong"|"privacy"|"other", `comment` optional (at most 1000
 * characters): `{report}` (the OwnReport, 201). 409 already_reported, 422 not_a_reply /
 * comment_too_long, 404 not_found.
 */
export function reportReply(conversationId, messageId, { reason, comment } = {}) {
  const body = { reason, ...(comment ? { comment } : {}) };
  return apiRequest(`/api/chat/conversations/${path(conversationId)}/messages/${path(messageId)}/report`, json("POST", body));
}

/**
 * Thumbs up or down on the reply `messageId` (`rating` "up"|"down", `comment` optional, at most
 * 500 characters); sending again changes it: `{feedback: {rating, comment, updatedAt}}`. 404
 * not_found, 422 not_a_reply / comment_too_long.
 */
export function setFeedback(conversationId, messageId, { rating, comment } = {}) {
  const body = { rating, ...(comment ? { comment } : {}) };
  return apiRequest(`/api/chat/conversations/${path(conversationId)}/messages/${path(messageId)}/feedback`, json("PUT", body));
}

/** Withdraws the feedback on a reply (null; also when there was none). */
export function deleteFeedback(conversationId, messageId) {
  return apiRequest(`/api/chat/conversations/${path(conversationId)}/messages/${path(messageId)}/feedback`, { method: "DELETE" });
}

/**
 * The caller's conversations whose title or any message contains `q` (Chinese as substrings,
 * Latin letters case-insensitively), newest first: `{hits: [{conversation, titleMatch, matches,
 * message: {id, role, createdAt, before, match, after} | null}], nextCursor}`. 422
 * invalid_query (empty, or over 100 characters).
 */
export function searchConversations(q, { limit, cursor, signal } = {}) {
  return apiRequest(`/api/chat/search${query({ q, limit, cursor })}`, { signal });
}

// ---------------------------------------------------------------------------------------- auth

/** `{user:{id,email,role,emailVerified}, token, expires}`. */
export function login(credentials) {
  return apiRequest("/api/auth/login", json("POST", credentials));
}

/**
 * `data`: `{email, password, locale?, acceptTerms?}` (`locale` "zh" or "en": the language of the
 * account's mail; `acceptTerms` the `termsVersion` of GET /api/chat/about the person accepted,
 * needed while the server has one: 403 terms_required otherwise).
 */
export function register(data) {
  return apiRequest("/api/auth/register", json("POST", data));
}

/** The signed-in user: `{user, expires}` (401 once the token is no longer valid). */
export function session() {
  return apiRequest("/api/auth/session");
}

/** Ends this session, or every session of the account with `{all: true}`: `{revoked}`. */
export function logout({ all = false } = {}) {
  return apiRequest(`/api/auth/logout${all ? "?all=true" : ""}`, { method: "POST" });
}

// ------------------------------------------------------------------------------------- account

/**
 * Asks for a password-reset link by mail: `{accepted: true}`, the same whether or not the
 * address has an account (and slow on purpose). 422 invalid_email, 429 rate_limited, 503
 * mail_unavailable (the server cannot send mail).
 */
export function forgotPassword(email) {
  return apiRequest("/api/account/password/forgot", json("POST", { email }));
}

/**
 * Sets a new password with the token of a reset link (`#/reset/<token>`): an AuthResponse, as a
 * login (every other session of the account has ended). 400 invalid_link (unknown, used,
 * expired or replaced), 422 password_too_short/password_too_long, 403 account_banned.
 */
export function resetPassword({ token, password }) {
  return apiRequest("/api/account/password/reset", json("POST", { token, password }));
}

/** Proves the address with the token of a verification link (`#/verify/<token>`): the AccountView. 400 invalid_link. */
export function verifyEmail(token) {
  return apiRequest("/api/account/email/verify", json("POST", { token }));
}

/**
 * The signed-in account: `{id, email, role, locale, emailVerified, emailVerifiedAt, createdAt,
 * emailVerification ("off"|"optional"|"required"), mailEnabled}`.
 */
export function getAccount() {
  return apiRequest("/api/account");
}

/** `{locale: "zh"|"en"}`, the language of the account's mail: the AccountView. */
export function updateAccount(changes) {
  return apiRequest("/api/account", json("PATCH", changes));
}

/** Mails a new verification link: `{accepted: true}`. 409 already_verified, 503 mail_unavailable, 429 rate_limited. */
export function sendVerification() {
  return apiRequest("/api/account/email/verification", { method: "POST" });
}

/**
 * `{currentPassword, newPassword}`: `{revoked}`, the other sessions ended (this one stays). 403
 * wrong_password, 422 password_too_short/password_too_long, 429 rate_limited.
 */
export function changePassword(passwords) {
  return apiRequest("/api/account/password", json("POST", passwords));
}

/** `{sessions:[{id, ip, userAgent, createdAt, lastUsedAt, expires, current}]}`, newest first. */
export function listSessions() {
  return apiRequest("/api/account/sessions");
}

/** Ends one session (the current one too: this device is then logged out): `{revoked: 1}`. 404 session_not_found. */
export function revokeSession(id) {
  return apiRequest(`/api/account/sessions/${path(id)}`, { method: "DELETE" });
}

/** Ends every session but this one: `{revoked}`. */
export function revokeOtherSessions() {
  return apiRequest("/api/account/sessions/revoke-others", { method: "POST" });
}

/** The account's own data (account, conversations, every version of every message) as `{blob, filename}`. */
export async function fetchAccountExport({ format = "json" } = {}) {
  const response = await send(`/api/account/export${query({ format })}`, {
    headers: authHeaders({ Accept: format === "ndjson" ? "application/x-ndjson" : "application/json" }),
  });
  const filename = dispositionFilename(response.headers.get("Content-Disposition")) || `my-data.${format}`;
  return { blob: await response.blob(), filename };
}

/** The account's own data, handed to the browser to save. Resolves to `{blob, filename}`. */
export async function downloadAccountExport(options = {}) {
  return saveFile(await fetchAccountExport(options));
}

/** Deletes the account and everything in it, for good: `{deleted: true}`. 403 wrong_password. */
export function deleteAccount({ password }) {
  return apiRequest("/api/account/delete", json("POST", { password }));
}

/** Accepts the terms of service and privacy policy of `version` (the current one): `{account}`. 409 terms_outdated / no_terms. */
export function acceptTerms(version) {
  return apiRequest("/api/account/terms", json("POST", { version }));
}

/** Consents to the processing of health information (the TCM adviser): `{account}`; again keeps the first time. */
export function giveHealthConsent() {
  return apiRequest("/api/account/health-consent", { method: "POST" });
}

/**
 * Withdraws the consent to the processing of health information: `{account,
 * deletedConversations, deletedAssessments}`. With `deleteConversations: true` every TCM
 * conversation of the account is deleted too, with `deleteAssessments: true` every constitution
 * self-assessment (sent only when asked for). Withdrawing twice is fine.
 */
export function withdrawHealthConsent({ deleteConversations = false, deleteAssessments = false } = {}) {
  const params = { deleteConversations: String(Boolean(deleteConversations)), deleteAssessments: deleteAssessments ? "true" : undefined };
  return apiRequest(`/api/account/health-consent${query(params)}`, { method: "DELETE" });
}

/**
 * The reports the account filed, newest first, a page at a time: `{reports: [{id,
 * conversationId, messageId, assistant, reason, comment, excerpt, createdAt, dueAt, status
 * ("open"|"actioned"|"dismissed"), decidedAt, replyHidden, userAction
 * ("none"|"warn"|"restrict"|"ban"), restrictedUntil, note}], total, page, pageSize}`.
 */
export function listMyReports({ page, pageSize } = {}) {
  return apiRequest(`/api/account/reports${query({ page, pageSize })}`);
}

// -------------------------------------------------------------------------------------- oracle

/**
 * Casts a reading for `question` (issue 25): `method` "coins" or "yarrow" draws the lines on the
 * server; "manual" records `lines`, six values 6–9 bottom first, cast by hand; `locale` ("zh" or
 * "en") is the language of a refusal's message (moderation's `content_blocked`). `{reading}` (201).
 * Ask the oracle about it with `readingId` in a chat turn.
 */
export function castReading({ question, method, lines, locale }) {
  return apiRequest("/api/oracle/readings", json("POST", { question, method, ...(method === "manual" ? { lines } : {}), ...(locale ? { locale } : {}) }));
}

/** The journal, newest first, searched by `q` (the question or a hexagram's name): `{readings, total, page, pageSize}`. */
export function listReadings({ q, page, pageSize } = {}) {
  return apiRequest(`/api/oracle/readings${query({ q, page, pageSize })}`);
}

/** One reading of the journal: `{reading}`. */
export function getReading(id) {
  return apiRequest(`/api/oracle/readings/${path(id)}`);
}

/** Deletes a reading from the journal (its conversation stays). */
export function deleteReading(id) {
  return apiRequest(`/api/oracle/readings/${path(id)}`, { method: "DELETE" });
}

// --------------------------------------------------------------------------------------- admin

/** The seed's `exportData`: the JSON export, `{data:{users,conversations,messages,auditLogs}}`. */
export function exportData({ since, until } = {}) {
  return apiRequest(`/api/admin/export${query({ since, until })}`);
}

/** The export as a file, without saving it: `{blob, filename}` (`format`: "json" or "ndjson"). */
export async function fetchExport({ format = "json", since, until } = {}) {
  const response = await send(`/api/admin/export${query({ format, since, until })}`, {
    headers: authHeaders({ Accept: format === "ndjson" ? "application/x-ndjson" : "application/json" }),
  });
  const filename = dispositionFilename(response.headers.get("Content-Disposition")) || `export.${format}`;
  return { blob: await response.blob(), filename };
}

/**
 * Downloads the export and hands it to the browser to save (a Blob behind an object URL, since
 * a plain link could not send the token). Resolves to `{blob, filename}`.
 */
export async function downloadExport(options = {}) {
  return saveFile(await fetchExport(options));
}

/** `{users:[{id,email,role,bannedAt,createdAt,updatedAt}], total, page, pageSize}`. */
export function listUsers({ q, page, pageSize } = {}) {
  return apiRequest(`/api/admin/users${query({ q, page, pageSize })}`);
}

export function banUser(id) {
  return apiRequest(`/api/admin/users/${path(id)}/ban`, { method: "POST" });
}

export function unbanUser(id) {
  return apiRequest(`/api/admin/users/${path(id)}/unban`, { method: "POST" });
}

/** Ends an account's chat restriction now: `{user}`. */
export function liftRestriction(id) {
  return apiRequest(`/api/admin/users/${path(id)}/lift-restriction`, { method: "POST" });
}

/**
 * The usage dashboard's numbers: `{from, to, bucket, utcOffsetMinutes, periods, byAssistant,
 * feedback, topUsers, totals}`. Every parameter is optional (`from`/`to` "YYYY-MM-DD", `bucket`
 * "day"|"week", `utcOffsetMinutes` whole hours); 422 invalid_range.
 */
export function getUsage({ from, to, bucket, utcOffsetMinutes } = {}) {
  return apiRequest(`/api/admin/usage${query({ from, to, bucket, utcOffsetMinutes })}`);
}

/**
 * The reports queue: `{reports, total, page, pageSize, open, overdue}` (`status` "open" (by
 * deadline, oldest first), "actioned" or "dismissed" (newest decision first); `open`/`overdue`
 * count every open report). A report is the OwnReport and `{reporterId, reporterEmail, reply,
 * replyWithheld (null|"blocked"|"hidden"), context: [{role, content}], overdue, decidedByEmail}`.
 */
export function listReports({ status, page, pageSize } = {}) {
  return apiRequest(`/api/admin/reports${query({ status, page, pageSize })}`);
}

/**
 * Decides an open report: `{outcome: "actioned"|"dismissed", hideReply?, userAction?:
 * "none"|"warn"|"restrict"|"ban", restrictDays? (1–365), note? (at most 1000 characters)}`:
 * `{report}`. 409 already_decided; 422 invalid_decision, cannot_ban_self.
 */
export function decideReport(id, decision) {
  return apiRequest(`/api/admin/reports/${path(id)}/decision`, json("POST", decision));
}

/** `{auditLogs:[{id,actorId,action,message,ip,userAgent,createdAt}], total, page, pageSize}`. */
export function listAuditLogs({ action, actorId, subject, page, pageSize } = {}) {
  return apiRequest(`/api/admin/audit-logs${query({ action, actorId, subject, page, pageSize })}`);
}
