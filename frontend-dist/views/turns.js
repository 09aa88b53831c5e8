// The turns of a conversation: a message sent, a reply regenerated, a message edited. All three
// stream alike (start, deltas, done, maybe a title), into one reply of `store.messages`, and all
// three can be stopped. The turn is over at `done`: the composer is free at once, and the
// conversation is read again so the new messages carry their server ids and versions.
import * as api from "../api.js";
import { errorText, locale } from "../i18n.js";
import { store } from "./chat-store.js";
import { message } from "./messages.js";

export const MAX_HINT_CHARS = 500;
// After Stop, how long to wait for the stream's stopped `done` before no longer listening.
const STOP_WAIT_MS = 5000;
// How long a stream may stay open after `done` waiting for a title (the server waits at most 10 s).
const TITLE_WAIT_MS = 15_000;

/**
 * `view`: the chat view's `messages` (messages.js), `updateComposer()`, `renderMessages()`,
 * `scrollToBottom()`, `focusInput()`, `loadConversations()`, `showTitle(event, generation)`,
 * `reload(conversationId)`, `turnEnded()` (after every turn, however it ended: the quota) and
 * `gate(error, reply)` (a turn refused until the account does something first: accepts the
 * terms (403 terms_required) or consents to health information (403 consent_required); the
 * view asks, and sends the turn again once it has).
 */
export const GATES = ["terms_required", "consent_required"];

export function turns(view) {
  /** The reply preference, the language and "think deeply" (where offered) that go with every turn. */
  function turnOptions() {
    const hint = store.hint.trim();
    const think = store.about?.thinking === "offered" && store.think;
    return { locale: locale(), ...(hint ? { systemHint: hint.slice(0, MAX_HINT_CHARS) } : {}), ...(think ? { think: true } : {}) };
  }

  /** A new message of the user's (already shown), answered into `reply`. */
  function send(text, reply, extra = {}) {
    const request = {
      type: store.kind,
      messages: [{ role: "user", content: text }],
      ...(store.conversationId ? { conversationId: store.conversationId } : {}),
      ...turnOptions(),
      ...extra, // {readingId}: the turn asks the oracle about a reading
    };
    // A reply that failed once the message was saved is asked for again, not the message resent.
    run(reply, (handlers, signal) => api.streamChatMessage(request, handlers, signal),
      (userMessageId) => (userMessageId ? answer(reply, userMessageId) : send(text, reply, extra)));
  }

  /** A new reply in place of the last one; the old one stays as a version. */
  function regenerate(item) {
    if (store.streaming || !item.id) return;
    restart(item);
    answer(item, item.id);
  }

  /** Streams into `reply` a new reply beside the reply `messageId`, or to the user message `messageId`. */
  function answer(reply, messageId) {
    const id = store.conversationId;
    run(reply, (handlers, signal) => api.regenerateReply(id, messageId, turnOptions(), handlers, signal),
      () => answer(reply, messageId));
  }

  /** A new version of a message of the user's: the branch after it gives way to the new reply. */
  function edit(item, text) {
    if (store.streaming || !item.id || !text) return;
    const id = store.conversationId;
    const messageId = item.id;
    store.messages = store.messages.slice(0, store.messages.indexOf(item) + 1);
    Object.assign(item, { id: null, content: text, editing: null, versions: 1, version: 1, versionIds: [] });
    const reply = message("assistant", "", { status: "streaming" });
    store.messages.push(reply);
    view.renderMessages();
    view.scrollToBottom();
    view.focusInput();
    const request = (handlers, signal) => api.editMessage(id, messageId, { content: text, ...turnOptions() }, handlers, signal);
    const again = (userMessageId) => (userMessageId ? answer(reply, userMessageId) : run(reply, request, again));
    run(reply, request, again);
  }

  function retry(reply) {
    if (store.streaming || !reply.retry) return;
    const again = reply.retry;
    restart(reply);
    again();
  }

  /** A reply about to be written (again): empty, streaming. */
  function restart(reply) {
    Object.assign(reply, { status: "streaming", error: null, errorCode: null, retry: null, detached: false, content: "", thinking: null, thinkingMs: null, thinkingSince: null });
    view.messages.paint(reply);
  }

  /** The conversation a turn created: in the address and the list. */
  function adopt(id, generation) {
    if (!id || generation !== store.generation || id === store.conversationId) return;
    store.conversationId = id;
    history.replaceState(null, "", `#/chat/${encodeURIComponent(id)}`);
    view.loadConversations();
  }

  /**
   * Streams one turn into `reply`. `request(handlers, signal)` sends it; `retry(userMessageId)`
   * asks again after a failure (`userMessageId`: the saved message, when the stream had begun).
   */
  async function run(reply, request, retry) {
    const generation = store.generation;
    const controller = new AbortController();
    const streaming = { controller, reply, conversationId: store.conversationId, stopRequested: false, done: false, timer: 0 };
    store.streaming = streaming;
    view.updateComposer();
    let userMessageId = null;
    let finished = null;
    let gated = null;
    // The card belongs to the message that raised it, just above the reply.
    const showCard = (card) => {
      if (generation !== store.generation) return;
      const asked = store.messages[store.messages.indexOf(reply) - 1];
      if (asked?.role !== "user") return;
      asked.redFlag = card;
      view.messages.paint(asked);
    };
    try {
      const done = await request({
        onStart: (start) => {
          userMessageId = start.userMessageId ?? null;
          streaming.conversationId = start.conversationId ?? streaming.conversationId;
          adopt(start.conversationId, generation);
          if (streaming.stopRequested) askToStop(streaming); // Stop came before the id was known
        },
        onThinking: (_piece, soFar) => {
          if (generation !== store.generation) return;
          reply.thinkingSince ??= Date.now();
          reply.thinking = soFar;
          view.messages.schedule(reply);
        },
        onDelta: (_piece, soFar) => {
          if (generation !== store.generation) return;
          // The answer begins: the thinking is over (its section folds).
          if (reply.thinking && reply.thinkingMs == null) reply.thinkingMs = Date.now() - (reply.thinkingSince ?? Date.now());
          reply.content = soFar;
          view.messages.schedule(reply);
        },
        onTitle: (event) => view.showTitle(event, generation),
        onRedFlag: (card) => showCard(card),
      }, controller.signal);
      if (generation !== store.generation) return;
      // Still reading for a title: logging out stops that too.
      store.listeners.add(controller);
      setTimeout(() => store.listeners.delete(controller), TITLE_WAIT_MS);
      const status = { stopped: "stopped", blocked: "blocked" }[done.finishReason] ?? null;
      // A blocked reply keeps nothing of what streamed before the block (all of it was checked,
      // but the reply as a whole is withdrawn).
      Object.assign(reply, { id: done.messageId, content: status === "blocked" ? "" : done.content, status });
      // The server's measure of the thinking, and none of it for a blocked reply.
      if (status === "blocked") Object.assign(reply, { thinking: null, thinkingMs: null });
      else if (done.thinkingMs != null) reply.thinkingMs = done.thinkingMs;
      adopt(done.conversationId, generation);
      view.loadConversations();
      finished = done.conversationId;
    } catch (error) {
      if (generation !== store.generation) return;
      if (error?.name === "AbortError") {
        // Stop could not reach the server, or the view moved on: the reply goes on there.
        Object.assign(reply, { status: "stopped", detached: true });
      } else if (error?.status === 401) {
        return; // the app has already ended the session
      } else {
        Object.assign(reply, { status: "error", error: errorText(error, "chat"), errorCode: error?.code ?? null, retry: () => retry(userMessageId) });
        // A refused turn (terms, consent, a restriction, the quota, moderation) still shows its
        // emergency card: whatever stops the turn, a person in crisis sees the numbers to call.
        if (error?.body?.error?.redFlag) showCard(error.body.error.redFlag);
        adopt(error?.conversationId, generation);
        if (GATES.includes(error?.code)) gated = error;
        // Moderation kept the message from the assistant: sending it again would be refused
        // again. The conversation as stored shows the message marked, to edit.
        if (error?.code === "content_blocked") finished = error.conversationId ?? null;
      }
    } finally {
      streaming.done = true;
      clearTimeout(streaming.timer);
      if (store.streaming === streaming) store.streaming = null;
      if (generation === store.generation) {
        view.messages.paint(reply);
        view.updateComposer();
        view.turnEnded?.();
      }
    }
    if (finished && finished === store.conversationId) view.reload(finished);
    if (gated && generation === store.generation) view.gate?.(gated, reply);
  }

  /** Stop: the server ends the reply (saved as far as it got) and the stream with `done`. */
  function stop() {
    const streaming = store.streaming;
    if (!streaming || streaming.stopRequested) return;
    streaming.stopRequested = true;
    view.updateComposer();
    streaming.timer = setTimeout(() => streaming.controller.abort(), STOP_WAIT_MS);
    askToStop(streaming);
  }

  async function askToStop(streaming, attempt = 0) {
    if (streaming.done || !streaming.conversationId) return; // no id yet: asked again at `start`
    try {
      const { requested } = await api.stopReply(streaming.conversationId);
      // Nothing streaming yet (the server has not begun the reply): ask again shortly.
      if (!requested && !streaming.done && attempt < 10) setTimeout(() => askToStop(streaming, attempt + 1), 250);
    } catch {
      streaming.controller.abort(); // the server could not be asked: at least stop listening
    }
  }

  /** Stops listening (the reply is finished and saved on the server all the same). */
  function leave() {
    store.streaming?.controller.abort();
  }

  return { send, regenerate, edit, retry, stop, leave };
}
