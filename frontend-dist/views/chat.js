// #/chat and #/chat/<id>: the conversation list (sidebar) and its search (search.js), the
// assistant switch, the messages (their bubbles and controls: messages.js) with replies streamed
// in as they are written (the turns: turns.js), and the composer (hint, send, stop) with the
// quota line above it (quota.js). Its state is in chat-store.js.
import * as api from "../api.js";
import { h, icon, toast } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { KINDS, rememberHint, rememberKind, rememberThink, store } from "./chat-store.js";
import { conversationList } from "./conversation-list.js";
import { MAX_MESSAGE_CHARS, fromServer, message, messageView } from "./messages.js";
import { quotaLine } from "./quota.js";
import { searchPanel } from "./search.js";
import { consentDialog, consentNeeded, currentAbout, legalLinks, loadAbout, termsDialog } from "./trust.js";
import { showConstitutionEntry } from "./constitution-result.js";
import { MAX_HINT_CHARS, turns } from "./turns.js";
import { picker } from "./picker.js";
import { chatReadings } from "./chat-readings.js";
import { tongueEntry } from "./tongue.js";
import { loadSeason, seasonLine } from "../season.js";
import { resendButton } from "./verify-notice.js";

export { resetChat } from "./chat-store.js";
export { MAX_HINT_CHARS, MAX_MESSAGE_CHARS };
const PAGE = 50; // messages per page of a conversation

export function chatView(app) {
  const els = {};
  let listRequest = 0; // only the newest list request is shown
  let shownBusy = false; // whether the message controls were last painted as off
  const messages = messageView({
    messages: () => store.messages,
    kind: () => store.kind,
    busy: () => Boolean(store.streaming || store.switching),
    scroll: { nearBottom, toBottom: scrollToBottom },
    retry: (item) => turn.retry(item),
    regenerate: (item) => {
      turn.regenerate(item);
      // The button is gone with the old reply: the keyboard's focus goes to Stop.
      if (document.activeElement === document.body && !els.stop.hidden) els.stop.focus();
    },
    edit: (item, text) => turn.edit(item, text),
    switchTo,
    conversationId: () => store.conversationId,
    model: () => store.about?.model ?? null,
    // A server that wants a confirmed address first: the way to get one, beside the error.
    errorAction: (item) => (item.errorCode === "email_unverified" ? resendButton(app) : null),
  });
  const turn = turns({
    messages, updateComposer, renderMessages, scrollToBottom, loadConversations, showTitle, reload,
    focusInput: () => els.input.focus(),
    turnEnded: () => {
      quota.refresh();
      // What the vision model saw in a tongue photo comes with the conversation: read it again.
      if (store.observing && store.conversationId) reload(store.conversationId);
      store.observing = false;
    },
    gate,
  });
  const quota = quotaLine();
  const pictures = picker({ changed: () => updateComposer() });
  const { paintReadings, settleReadings, loadReadings, cast, openJournal } = chatReadings({
    inner: () => els.inner,
    input: () => els.input,
    castButton: () => els.cast,
    draftChanged: () => {
      autosize();
      updateComposer();
    },
    renderMessages: () => renderMessages(),
    scrollToBottom: () => scrollToBottom(),
    send: (text, reply, extra) => turn.send(text, reply, extra),
    open: (id) => open(id),
  });
  const list = conversationList({ app, loadConversations, renderList, startNew, searching: () => search.active() });
  const search = searchPanel({
    openHit,
    showing: (active) => {
      if (!els.list) return;
      els.list.hidden = active;
      els.listMore.hidden = active || !store.listCursor;
      els.sidebarTitle.textContent = t(active ? "searchResults" : "conversations");
    },
  });

  // ------------------------------------------------------------------ rendering

  function render() {
    els.list = h("ul.conversation-list", { "aria-label": t("conversations") });
    els.listMore = h("button.button.ghost.small.load-more", { type: "button", hidden: true, onclick: () => loadConversations(true) }, t("loadMore"));
    els.sidebarTitle = h("h2.sidebar-title", {}, t("conversations"));
    const found = search.render();
    els.sidebar = h("aside.sidebar", { id: "sidebar", "aria-label": t("conversations") },
      h("div.sidebar-head", {},
        h("a.button.new-chat", { href: "#/chat", onclick: (event) => { event.preventDefault(); startNew(store.kind); app.closeDrawer(); } },
          icon("plus", 16), h("span", {}, t("newChat"))),
        h("button.button.ghost.small.journal-button", { type: "button", id: "journal-button", onclick: () => { app.closeDrawer(); openJournal(); } },
          h("span.trigram", { "aria-hidden": "true" }, "☷"), h("span", {}, t("journal"))),
        found.field),
      els.sidebarTitle,
      h("div.sidebar-scroll", {}, els.list, els.listMore, found.results),
      h("div.sidebar-foot", {},
        h("p", {}, h("span.trigram", { "aria-hidden": "true" }, "☯"), " ", t("footnote")),
        legalLinks()));

    els.season = h("div.season-slot", { "aria-live": "polite" });
    els.constitution = h("div.constitution-slot"); // the TCM adviser's: the self-assessment (constitution-result.js)
    els.tongue = h("div.tongue-slot"); // …and the tongue photo (tongue.js)
    els.personas = h("div.persona-switch", { role: "group", "aria-label": `${t("oracle")} / ${t("tcm")}` },
      KINDS.map((kind) => h(`button.persona.${kind}`, {
        type: "button", dataset: { kind }, "aria-pressed": String(kind === store.kind),
        onclick: () => choosePersona(kind),
      },
        h("span.persona-glyph", { "aria-hidden": "true" }, t(`${kind}Glyph`)),
        h("span.persona-text", {}, h("strong", {}, t(kind)), h("small", {}, t(`${kind}Desc`))))));

    els.inner = h("div.messages-inner");
    els.messages = h("div.messages", { "aria-live": "polite", "aria-busy": "false" }, els.inner);
    els.messages.addEventListener("scroll", () => {
      els.messages.classList.toggle("scrolled", els.messages.scrollTop > 4);
    });

    els.input = h("textarea", {
      name: "message", rows: 1, "aria-label": t("composerLabel"), enterkeyhint: "send",
      placeholder: t(store.kind === "oracle" ? "placeholderOracle" : "placeholderTcm"),
    });
    els.input.value = store.draft;
    els.input.addEventListener("input", () => {
      store.draft = els.input.value;
      autosize();
      updateComposer();
    });
    els.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        els.form.requestSubmit();
      }
    });
    els.hintInput = h("input.hint-input", {
      type: "text", name: "systemHint", maxlength: MAX_HINT_CHARS, value: store.hint,
      placeholder: t("hintPlaceholder"), "aria-label": t("hintLabel"),
    });
    els.hintInput.addEventListener("input", () => {
      rememberHint(els.hintInput.value);
      updateHintToggle();
    });
    els.hintToggle = h("button.hint-toggle", { type: "button", "aria-expanded": String(store.hintOpen), "aria-controls": "hint-panel", onclick: toggleHint });
    els.hintPanel = h("div.hint-panel", { id: "hint-panel", hidden: !store.hintOpen },
      h("label", { class: "hint-label" }, h("span", {}, t("hintLabel")), els.hintInput));
    els.counter = h("span.counter", { "aria-live": "polite" });
    // "Think deeply": shown where the server offers thinking per message (GET /api/chat/about).
    els.think = h("button.think-toggle", { type: "button", title: t("thinkDeeplyTitle"), "aria-pressed": String(store.think), onclick: toggleThink },
      h("span.think-glyph", { "aria-hidden": "true" }, "◎"), h("span.think-label", {}, t("thinkDeeply")));
    // The oracle's casting (views/oracle.js): shown while the Oracle is the assistant.
    els.cast = h("button.cast-button", { type: "button", id: "cast-button", title: t("castReading"), "aria-label": t("castReading"), onclick: cast },
      h("span.cast-glyph", { "aria-hidden": "true" }, "☯"), h("span", {}, t("castReading")));
    els.send = h("button.send", { type: "submit", "aria-label": t("send"), title: t("send") }, h("span", {}, t("send")), icon("send", 18));
    els.stopLabel = h("span", {}, t("stop"));
    els.stop = h("button.stop", { type: "button", hidden: true, "aria-label": t("stop"), title: t("stop"), onclick: () => turn.stop() }, icon("stop", 16), els.stopLabel);
    // The AI label of the page: replies are generated, by which model, and the service's filing.
    els.disclosure = h("p.ai-disclosure", {}, disclosureText());
    const attach = pictures.render();
    els.form = h("form.composer", { onsubmit: submit },
      els.hintPanel,
      quota.render(),
      h("div.composer-box", {},
        attach.tray,
        els.input,
        h("div.composer-row", {}, els.hintToggle, attach.button, els.think, els.cast, h("span.keys", {}, t("enterToSend")), els.counter, els.send, els.stop)),
      h("p.disclaimer", {}, t(store.kind === "oracle" ? "disclaimerOracle" : "disclaimerTcm")),
      els.disclosure);

    pictures.listen(els.input, els.form);
    els.backdrop = h("div.drawer-backdrop", { onclick: () => app.closeDrawer() });
    els.root = h("div.chat", { dataset: { kind: store.kind } },
      els.sidebar, els.backdrop,
      h("section.conversation", { "aria-label": t("chat") }, h("header.chat-head", {}, els.personas, els.season, h("div.tcm-entries", {}, els.constitution, els.tongue)), els.messages, els.form));

    shownBusy = Boolean(store.streaming);
    renderList();
    search.paint();
    renderMessages();
    updateHintToggle();
    updateThinkToggle();
    updateComposer();
    return els.root;
  }

  function updateHintToggle() {
    const hint = store.hint.trim();
    els.hintToggle.replaceChildren(icon("feather", 15), hint ? h("b", {}, hint) : h("span", {}, t("hint")));
    els.hintToggle.classList.toggle("active", Boolean(hint));
    els.hintToggle.title = `${t("hint")}: ${hint || t("hintOff")}`;
    els.hintToggle.setAttribute("aria-label", els.hintToggle.title);
    els.hintToggle.setAttribute("aria-expanded", String(store.hintOpen));
  }

  function toggleThink() {
    rememberThink(!store.think);
    updateThinkToggle();
  }

  function updateThinkToggle() {
    els.think.hidden = store.about?.thinking !== "offered";
    els.think.setAttribute("aria-pressed", String(store.think));
    els.think.classList.toggle("active", store.think);
  }

  function toggleHint() {
    store.hintOpen = !store.hintOpen;
    els.hintPanel.hidden = !store.hintOpen;
    updateHintToggle();
    if (store.hintOpen) els.hintInput.focus();
  }

  function updateComposer() {
    const streaming = Boolean(store.streaming);
    const stopping = Boolean(store.streaming?.stopRequested);
    const length = [...els.input.value].length;
    const left = MAX_MESSAGE_CHARS - length;
    els.counter.textContent = left < 400 ? (left >= 0 ? t("charsLeft", { n: left }) : t("tooLong")) : "";
    els.counter.classList.toggle("over", left < 0);
    // The Stop button leaving under the keyboard's focus hands it to the message box.
    const refocus = !streaming && document.activeElement === els.stop;
    els.send.hidden = streaming;
    els.stop.hidden = !streaming;
    els.stop.setAttribute("aria-disabled", String(stopping)); // not `disabled`: that would drop the focus
    els.stopLabel.textContent = t(stopping ? "stopping" : "stop");
    els.send.disabled = !els.input.value.trim() || left < 0 || !pictures.ready();
    els.messages.setAttribute("aria-busy", String(streaming));
    // Regenerate, edit and the version arrows are off while a reply streams.
    if (streaming !== shownBusy) {
      shownBusy = streaming;
      messages.refresh();
    }
    if (refocus) els.input.focus();
  }

  function autosize() {
    els.input.style.height = "auto";
    els.input.style.height = `${Math.min(els.input.scrollHeight, 220)}px`;
  }

  function renderList() {
    list.render(els.list, els.listMore);
  }

  /** The TCM adviser's header names the solar term (with a seasonal note) and the self-assessment. */
  function showSeason() {
    paintTongue();
    if (store.kind !== "tcm") {
      els.season.replaceChildren();
      els.constitution.replaceChildren();
      return;
    }
    showConstitutionEntry(els.constitution);
    loadSeason().then((season) => {
      if (store.kind === "tcm") els.season.replaceChildren(seasonLine(season) ?? "");
    });
  }

  /** The TCM adviser's "Show your tongue", where pictures are taken. */
  function paintTongue() {
    const shown = store.kind === "tcm" && pictures.offered();
    if (shown === Boolean(els.tongue.firstChild)) return;
    els.tongue.replaceChildren(shown ? tongueEntry({ app, pictures, draft: offerDraft }) : "");
  }

  /** Puts `text` in an empty message box (the tongue photo's sentence), ready to send. */
  function offerDraft(text) {
    if (!els.input.value.trim()) {
      els.input.value = text;
      store.draft = text;
      autosize();
    }
    updateComposer();
    els.input.focus();
  }

  function renderMessages() {
    els.root.dataset.kind = store.kind;
    els.personas.querySelectorAll(".persona").forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.kind === store.kind)));
    els.input.placeholder = t(store.kind === "oracle" ? "placeholderOracle" : "placeholderTcm");
    els.form.querySelector(".disclaimer").textContent = t(store.kind === "oracle" ? "disclaimerOracle" : "disclaimerTcm");
    els.cast.hidden = store.kind !== "oracle";
    showSeason();
    if (store.opening) {
      els.inner.replaceChildren(h("div.loading", { role: "status" }, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot")));
      return;
    }
    if (!store.messages.length) {
      els.inner.replaceChildren(welcome());
      paintReadings();
      return;
    }
    const older = store.olderCursor
      ? h("button.button.ghost.small.load-earlier", { type: "button", onclick: loadEarlier }, t("loadEarlier"))
      : null;
    els.inner.replaceChildren(...[older, ...messages.render(store.messages)].filter(Boolean));
    paintReadings();
  }

  function welcome() {
    const kind = store.kind;
    const suggestions = t(kind === "oracle" ? "suggestOracle" : "suggestTcm");
    return h(`div.welcome.${kind}`, {},
      h("div.welcome-seal", { "aria-hidden": "true" }, t(`${kind}Glyph`)),
      h("h2", {}, t(kind === "oracle" ? "welcomeOracleTitle" : "welcomeTcmTitle")),
      h("p", {}, t(kind === "oracle" ? "welcomeOracle" : "welcomeTcm")),
      h("div.suggestions", {}, (Array.isArray(suggestions) ? suggestions : []).map((text) =>
        h("button.suggestion", { type: "button", onclick: () => { els.input.value = text; store.draft = text; autosize(); updateComposer(); els.input.focus(); } }, text))));
  }

  function nearBottom() {
    const m = els.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
  }

  function scrollToBottom() {
    els.messages.scrollTop = els.messages.scrollHeight;
  }

  // ------------------------------------------------------------------ conversations

  async function loadConversations(more = false) {
    settleReadings(); // a turn's conversation is known (adopted) when the list is read again
    if (more && (store.listState === "loading" || !store.listCursor)) return;
    const generation = store.generation;
    const request = ++listRequest;
    store.listState = "loading";
    if (!more) renderList();
    try {
      const page = await api.listConversations({ limit: 30, cursor: more ? store.listCursor : undefined });
      if (generation !== store.generation || request !== listRequest) return;
      store.conversations = more ? [...store.conversations, ...page.conversations] : page.conversations;
      store.listCursor = page.nextCursor ?? null;
      store.listState = "loaded";
    } catch (error) {
      if (generation !== store.generation || request !== listRequest || error.status === 401) return;
      store.listState = "error";
    }
    if (els.list) renderList();
  }

  /** A title the model wrote (`event: title`): shown at once, then the list read again. */
  function showTitle({ conversationId, title }, generation) {
    if (generation !== store.generation || !conversationId || !title) return;
    store.conversations = store.conversations.map((c) => (c.id === conversationId ? { ...c, title } : c));
    renderList();
    loadConversations(); // an older list request still under way would bring the old title back
  }

  function startNew(kind) {
    turn.leave();
    rememberKind(kind);
    store.conversationId = null;
    store.messages = [];
    store.olderCursor = null;
    store.opening = null;
    if (location.hash !== "#/chat") history.pushState(null, "", "#/chat");
    renderList();
    renderMessages();
    els.input.focus();
  }

  /**
   * A conversation belongs to one assistant: choosing the other one starts a new conversation.
   * The TCM adviser may need the account's consent to process health information first: asked
   * for here, and declined, the Oracle stays.
   */
  async function choosePersona(kind) {
    if (kind === store.kind) return;
    if (kind === "tcm") {
      if (!currentAbout()) await loadAbout(); // (known already, the switch happens at once)
      if (consentNeeded(app)) {
        if (!(await consentDialog(app)) || kind === store.kind) return;
      }
    }
    startNew(kind);
  }

  /**
   * A turn the server refused until the account does something first (turns.js): the terms to
   * accept, or the consent the TCM adviser needs. Done, the turn is sent again; the consent
   * declined, back to the Oracle with the message in the box (it was never sent), unless the
   * message raised an emergency card, which stays in view.
   */
  async function gate(error, reply) {
    const consent = error.code === "consent_required";
    const passed = consent ? await consentDialog(app) : await termsDialog(app, error.body?.error?.termsVersion);
    if (!store.messages.includes(reply) || store.streaming) return; // moved on meanwhile
    if (passed) {
      turn.retry(reply);
      return;
    }
    if (!consent) return; // the error stays, with its Retry
    const asked = store.messages[store.messages.indexOf(reply) - 1];
    // A message with an emergency sign keeps its card in view (the numbers to call), with the
    // refusal and its Retry: declining the consent must not wipe the hotline away.
    if (asked?.redFlag) return;
    const text = asked?.role === "user" && !asked.id ? asked.content : "";
    startNew("oracle");
    if (text) {
      els.input.value = text;
      store.draft = text;
      autosize();
      updateComposer();
    }
  }

  async function open(id) {
    turn.leave();
    const generation = store.generation;
    store.opening = id;
    store.conversationId = id;
    store.messages = [];
    store.olderCursor = null;
    renderList();
    renderMessages();
    try {
      const detail = await api.getConversation(id, { limit: PAGE });
      if (generation !== store.generation || store.opening !== id) return;
      store.opening = null;
      store.kind = detail.conversation.type;
      show(detail);
      if (store.kind === "oracle") loadReadings(id);
      if (!store.conversations.some((c) => c.id === id)) store.conversations.unshift(detail.conversation);
      renderList();
      scrollToBottom();
    } catch (error) {
      if (generation !== store.generation || store.opening !== id || error.status === 401) return;
      store.opening = null;
      toast(error.status === 404 ? t("notFound") : errorText(error), "error");
      startNew(store.kind);
    }
  }

  /**
   * Shows a conversation detail (GET, switch): the newest page of the branch. When the page
   * continues messages already shown (its first one's parent is among them), those stay, with
   * their older-page cursor: a reload after a reply keeps what "load earlier" brought in.
   */
  function show(detail) {
    settleReadings(); // before the messages sent with a reading give way to the server's
    const drafts = new Map(store.messages.filter((m) => m.id && m.editing).map((m) => [m.id, m.editing]));
    const forms = new Map(store.messages.filter((m) => m.id && m.feedbackForm).map((m) => [m.id, m.feedbackForm]));
    const page = detail.messages.map((m) => Object.assign(fromServer(m), { editing: drafts.get(m.id) ?? null, feedbackForm: forms.get(m.id) ?? null }));
    const first = detail.messages[0];
    const at = detail.nextCursor && first?.parentId ? store.messages.findIndex((m) => m.id === first.parentId) : -1;
    if (at >= 0) {
      store.messages = [...store.messages.slice(0, at + 1), ...page];
    } else {
      store.messages = page;
      store.olderCursor = detail.nextCursor ?? null;
    }
    renderMessages();
  }

  /** Reads the conversation again once a reply is done: its messages get their ids and versions. */
  async function reload(id) {
    const generation = store.generation;
    try {
      const detail = await api.getConversation(id, { limit: PAGE });
      // A turn begun meanwhile reloads when it is done; until then its bubbles stay.
      if (generation !== store.generation || id !== store.conversationId || store.streaming || store.opening) return;
      const stick = nearBottom();
      show(detail);
      if (stick) scrollToBottom();
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    }
  }

  /** The page before the oldest message shown; resolves to whether it came. */
  async function loadEarlier() {
    const generation = store.generation;
    const id = store.conversationId;
    try {
      const detail = await api.getConversation(id, { limit: PAGE, cursor: store.olderCursor });
      if (generation !== store.generation || id !== store.conversationId) return false;
      const height = els.messages.scrollHeight;
      store.messages = [...detail.messages.map(fromServer), ...store.messages];
      store.olderCursor = detail.nextCursor ?? null;
      renderMessages();
      els.messages.scrollTop = els.messages.scrollHeight - height;
      return true;
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
      return false;
    }
  }

  // ------------------------------------------------------------------ search hits

  /** Opens a search hit: its conversation, scrolled to its message (shown first if on another branch). */
  async function openHit(hit) {
    app.closeDrawer();
    const id = hit.conversation.id;
    const hash = `#/chat/${encodeURIComponent(id)}`;
    if (location.hash !== hash) history.pushState(null, "", hash);
    if (id !== store.conversationId || store.opening || !store.messages.length) await open(id);
    if (id !== store.conversationId || store.opening) return; // it failed, or another was chosen meanwhile
    renderList();
    search.paint();
    if (hit.message) await reveal(id, hit.message.id);
  }

  async function reveal(id, messageId) {
    const generation = store.generation;
    const here = () => generation === store.generation && id === store.conversationId && !store.opening;
    const shown = () => store.messages.find((m) => m.id === messageId);
    if (!shown() && !store.streaming) {
      // Not among the messages shown: on another branch (a version), or on an earlier page.
      try {
        const detail = await api.switchVersion(id, messageId);
        if (!here()) return;
        show(detail);
      } catch (error) {
        if (error.status !== 401) toast(error.status === 404 ? t("searchGone") : errorText(error), "error");
        return;
      }
      for (let pages = 0; !shown() && store.olderCursor && pages < 20; pages++) {
        if (!(await loadEarlier()) || !here()) return;
      }
    }
    const item = shown();
    const element = item && els.inner.querySelector(`.message[data-key="${item.key}"]`);
    if (!element) {
      toast(t("searchGone"), "error");
      return;
    }
    element.scrollIntoView({ block: "center" });
    element.setAttribute("tabindex", "-1");
    element.focus({ preventScroll: true });
    element.classList.remove("found");
    void element.offsetWidth; // restart the highlight if it is already on
    element.classList.add("found");
    setTimeout(() => element.classList.remove("found"), 2600);
  }

  // ------------------------------------------------------------------ sending and versions

  function submit(event) {
    event.preventDefault();
    const text = els.input.value.trim();
    if (!text || store.streaming) return;
    if ([...text].length > MAX_MESSAGE_CHARS) {
      toast(t("tooLong"), "error");
      return;
    }
    if (!pictures.ready()) {
      toast(t("picturesUploading"), "error");
      return;
    }
    const attachments = pictures.take();
    els.input.value = "";
    store.draft = "";
    autosize();
    for (const item of store.messages) item.editing = null; // a new message ends an edit left open
    const user = message("user", text, { attachments });
    store.observing = attachments.some((picture) => picture.purpose === "tongue");
    const reply = message("assistant", "", { status: "streaming" });
    const welcoming = !store.messages.length;
    store.messages.push(user, reply);
    // A reading cast but not asked about stays last, below the new message.
    if (welcoming || store.pendingReading) renderMessages();
    else els.inner.append(messages.bubble(user), messages.bubble(reply));
    scrollToBottom();
    turn.send(text, reply, attachments.length ? { attachments: attachments.map((picture) => picture.id) } : {});
  }

  /** Shows another version of a message (the branch through it), the arrow keeping the focus. */
  async function switchTo(item, messageId) {
    if (store.streaming || store.switching || !messageId) return;
    const generation = store.generation;
    const id = store.conversationId;
    const action = document.activeElement?.dataset?.action;
    store.switching = true;
    messages.refresh();
    try {
      const detail = await api.switchVersion(id, messageId);
      if (generation !== store.generation || id !== store.conversationId || store.opening) return;
      store.switching = false;
      const top = els.messages.scrollTop;
      show(detail);
      els.messages.scrollTop = top;
      if (action) messages.focus(store.messages.find((m) => m.id === messageId), action);
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    } finally {
      store.switching = false;
      if (generation === store.generation) messages.refresh();
    }
  }

  // ------------------------------------------------------------------ lifecycle

  render();
  if (store.listState === "idle" || store.listState === "error") loadConversations();
  quota.refresh();
  if (!store.about) {
    loadAbout().then((about) => {
      if (!about) return; // the label stands without the model's name
      store.about = about;
      if (els.disclosure) els.disclosure.textContent = disclosureText();
      if (els.think) updateThinkToggle();
      pictures.paint();
      if (els.tongue) paintTongue();
    });
  }

  /** "AI-generated replies · model qwen-plus · <the operator's filing>". */
  function disclosureText() {
    const about = store.about;
    // A reply thought through may come from another model: the label names it too.
    const thinker = about?.thinkingModel && about.thinkingModel !== about.model ? t("aiThinkingModel", { model: about.thinkingModel }) : null;
    return [t("aiDisclosure"), about?.model ? t("aiModel", { model: about.model }) : null, thinker, about?.disclosure ?? null]
      .filter(Boolean).join(" · ");
  }

  return {
    get el() {
      return els.root;
    },
    title: () => t("chat"),
    /** Rebuilds the view in the current language; a reply that is streaming keeps streaming. */
    rerender() {
      const old = els.root;
      render();
      if (old?.isConnected) old.replaceWith(els.root);
    },
    /** Called for every route into the chat, with `id` from #/chat/<id>. */
    update({ id }) {
      if (id && (id !== store.conversationId || (!store.messages.length && !store.opening))) open(id);
      else if (!id && store.conversationId) startNew(store.kind);
    },
    mounted() {
      autosize();
      scrollToBottom();
      showSeason(); // back from the self-assessment: its latest result may have changed
      if (!matchMedia("(hover: none)").matches) els.input.focus();
    },
  };
}
