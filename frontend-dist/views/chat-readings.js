// The oracle's readings in the chat (issue 25): the casting dialog's reading shown last until it
// is asked about, "ask the oracle about it" (its question sent with the reading's id), the cards
// of a conversation's readings above the messages that asked about them, the readings read back
// when a conversation opens, and the journal. Split from chat.js, which hands it what it needs
// (`view`): its message list and message box, the composer's casting button, and its actions.
import * as api from "../api.js";
import { message } from "./messages.js";
import { castDialog, journalDialog, readingCard } from "./oracle.js";
import { store } from "./chat-store.js";

/**
 * `view`: `inner()` the messages' element, `input()` the message box, `castButton()`,
 * `draftChanged()` (the box was emptied), `renderMessages()`, `scrollToBottom()`,
 * `send(text, reply, extra)` (a turn), `open(id)` (a conversation).
 */
export function chatReadings(view) {
  /** The readings of the conversation shown, for this view. */
  function shownReadings() {
    settleReadings();
    if (store.kind !== "oracle") return [];
    return store.readings.filter((reading) => (reading.asking ? reading.asking === store.generation && !store.opening && store.messages.some((m) => m.readingId === reading.id)
      : reading.conversationId && reading.conversationId === store.conversationId));
  }

  /**
   * Each reading of the conversation goes just above the message that asked about it (the one
   * sent with it, or after a reload the first one with its question as text), else at the top;
   * the reading cast but not asked about yet goes last.
   */
  function paintReadings() {
    view.inner().querySelectorAll(".reading-card").forEach((card) => card.remove());
    for (const reading of shownReadings()) {
      const asked = store.messages.find((m) => m.role === "user" && m.readingId === reading.id)
        ?? store.messages.find((m) => m.role === "user" && m.content.trim() === reading.question.trim());
      const before = asked && view.inner().querySelector(`.message[data-key="${asked.key}"]`);
      const card = readingCard(reading, { animate: reading.animate });
      reading.animate = false;
      if (before) before.before(card);
      else view.inner().prepend(card);
    }
    const pending = store.pendingReading;
    if (pending && store.kind === "oracle" && pending.conversationId === (store.conversationId ?? null) && !store.opening) {
      view.inner().append(readingCard(pending.reading, { ask: askAbout, animate: pending.animate }));
      pending.animate = false;
    }
  }

  /** Opens the casting dialog with the question typed so far; the reading's card comes last. */
  async function cast() {
    const reading = await castDialog({ question: view.input().value.trim() });
    if (!reading) {
      view.castButton().focus();
      return;
    }
    if (view.input().value.trim() === reading.question) {
      view.input().value = "";
      store.draft = "";
      view.draftChanged();
    }
    store.pendingReading = { reading, conversationId: store.conversationId ?? null, animate: true };
    view.renderMessages();
    const card = view.inner().querySelector(`.reading-card[data-reading-id="${CSS.escape(reading.id)}"]`);
    card?.scrollIntoView({ block: "nearest" });
    card?.querySelector(".ask-oracle")?.focus({ preventScroll: true });
  }

  /** "Ask the oracle about it": the question goes as the message, with the reading's id. */
  function askAbout(reading) {
    if (store.streaming) return;
    store.pendingReading = null;
    store.readings = store.readings.filter((r) => r.id !== reading.id);
    store.readings.push({ ...reading, conversationId: store.conversationId ?? null, asking: store.generation });
    for (const item of store.messages) item.editing = null;
    const user = message("user", reading.question);
    user.readingId = reading.id;
    const reply = message("assistant", "", { status: "streaming" });
    store.messages.push(user, reply);
    view.renderMessages();
    view.scrollToBottom();
    view.send(reading.question, reply, { readingId: reading.id });
    view.input().focus();
  }

  /** The conversation's id is known (the turn's start): its readings asked about now belong to it. */
  function settleReadings() {
    if (!store.conversationId) return;
    for (const reading of store.readings) {
      if (reading.asking === store.generation && store.messages.some((m) => m.readingId === reading.id)) {
        reading.conversationId = store.conversationId;
        delete reading.asking;
      }
    }
  }

  /**
   * A conversation opened: its readings are read from the journal (the first hundred, newest
   * first, filtered here by conversation) and shown above the messages that asked about them.
   */
  async function loadReadings(id) {
    const generation = store.generation;
    try {
      const page = await api.listReadings({ page: 1, pageSize: 100 });
      if (generation !== store.generation) return;
      const known = new Set(store.readings.map((r) => r.id));
      store.readings.push(...page.readings.filter((r) => r.conversationId && !known.has(r.id)));
      if (id === store.conversationId && !store.opening) paintReadings();
    } catch {
      // the conversation stands without its cards
    }
  }

  function openJournal() {
    journalDialog({
      openConversation: (id) => {
        const hash = `#/chat/${encodeURIComponent(id)}`;
        if (location.hash !== hash) history.pushState(null, "", hash);
        if (id !== store.conversationId || !store.messages.length) view.open(id);
      },
      deleted: (id) => {
        store.readings = store.readings.filter((r) => r.id !== id);
        if (store.pendingReading?.reading.id === id) store.pendingReading = null;
        if (!store.opening) paintReadings();
      },
    });
  }

  return { paintReadings, settleReadings, loadReadings, cast, openJournal };
}
