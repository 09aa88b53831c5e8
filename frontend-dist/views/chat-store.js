// The chat's state, outside the DOM and outside any one view: the chat view can be rebuilt at
// any time (a language switch does) without losing a reply that is still streaming in. The
// view (chat.js) and the turns it streams (turns.js) share it through the live `store` binding,
// which logout replaces.

export const KINDS = ["oracle", "tcm"];
const HINT_KEY = "chat_hint";
const KIND_KEY = "chat_kind";
const THINK_KEY = "chat_think";

function storedHint() {
  try {
    return localStorage.getItem(HINT_KEY) ?? "";
  } catch {
    return "";
  }
}

function storedThink() {
  try {
    return localStorage.getItem(THINK_KEY) === "1";
  } catch {
    return false;
  }
}

function storedKind() {
  try {
    const kind = localStorage.getItem(KIND_KEY);
    return KINDS.includes(kind) ? kind : "oracle";
  } catch {
    return "oracle";
  }
}

function freshStore() {
  return {
    generation: 0, // bumped by logout: work begun before then is dropped when it answers
    kind: storedKind(),
    conversationId: null,
    messages: [],
    olderCursor: null,
    opening: null,
    conversations: [],
    listCursor: null,
    listState: "idle", // idle | loading | loaded | error
    streaming: null, // {controller, reply, conversationId, stopRequested, done, timer}
    switching: false, // a version is being fetched
    listeners: new Set(), // streams still open for a title after their reply was done
    quota: null, // GET /api/chat/quota: the line above the message box (quota.js)
    about: null, // GET /api/chat/about: the model and the disclosure beside the AI label
    search: { q: "", hits: [], cursor: null, state: "idle", error: "" }, // the sidebar's search (search.js)
    hint: storedHint(),
    hintOpen: false,
    think: storedThink(), // "think deeply" switched on (sent where the server offers it)
    draft: "",
    pictures: [], // the next message's pictures (picker.js): each uploading, ready or failed
    observing: false, // the turn under way sends a tongue photo: its observations are read after it
    // The oracle's readings (views/oracle.js): those asked about in conversations, as far as this
    // session knows them (each with its conversationId, or `asking` while its turn is new), and
    // the one cast but not asked about yet.
    readings: [],
    pendingReading: null,
  };
}

export let store = freshStore();

export function rememberThink(think) {
  store.think = think;
  try {
    localStorage.setItem(THINK_KEY, think ? "1" : "0");
  } catch {
    // private mode: kept for this page only
  }
}

export function rememberHint(hint) {
  store.hint = hint;
  try {
    localStorage.setItem(HINT_KEY, hint);
  } catch {
    // not remembered
  }
}

export function rememberKind(kind) {
  store.kind = kind;
  try {
    localStorage.setItem(KIND_KEY, kind);
  } catch {
    // not remembered
  }
}

/** Forgets everything (logout): the next chat view starts empty. */
export function resetChat() {
  store.streaming?.controller.abort();
  store.pictures.forEach((picture) => picture.controller.abort());
  store.listeners.forEach((controller) => controller.abort());
  try {
    localStorage.removeItem(HINT_KEY); // the next person at this browser starts without it
  } catch {
    // nothing stored
  }
  const generation = store.generation + 1;
  store = freshStore();
  store.generation = generation;
}

/**
 * Conversations of `kind` were deleted elsewhere (the account page deletes the TCM ones): the
 * list is read again, and one of them shown is left.
 */
export function forgetConversations(kind) {
  store.listState = "idle";
  store.conversations = store.conversations.filter((conversation) => conversation.type !== kind);
  if (store.kind === kind && !store.streaming) {
    store.conversationId = null;
    store.messages = [];
    store.olderCursor = null;
    store.opening = null;
  }
}
