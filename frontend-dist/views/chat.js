// #/chat and #/chat/<id>: the conversation list (sidebar), the assistant switch, the messages
// (their bubbles and controls: messages.js) with replies streamed in as they are written (the
// turns: turns.js), and the composer (hint, send, stop). Its state is in chat-store.js.
import * as api from "../api.js";
import { dialog, h, icon, toast } from "../dom.js";
import { errorText, relativeTime, t } from "../i18n.js";
import { KINDS, rememberHint, rememberKind, store } from "./chat-store.js";
import { MAX_MESSAGE_CHARS, fromServer, message, messageView } from "./messages.js";
import { MAX_HINT_CHARS, turns } from "./turns.js";
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
    // A server that wants a confirmed address first: the way to get one, beside the error.
    errorAction: (item) => (item.errorCode === "email_unverified" ? resendButton(app) : null),
  });
  const turn = turns({
    messages, updateComposer, renderMessages, scrollToBottom, loadConversations, showTitle, reload,
    focusInput: () => els.input.focus(),
  });

  // ------------------------------------------------------------------ rendering

  function render() {
    els.list = h("ul.conversation-list", { "aria-label": t("conversations") });
    els.listMore = h("button.button.ghost.small.load-more", { type: "button", hidden: true, onclick: () => loadConversations(true) }, t("loadMore"));
    els.sidebar = h("aside.sidebar", { id: "sidebar", "aria-label": t("conversations") },
      h("div.sidebar-head", {},
        h("a.button.new-chat", { href: "#/chat", onclick: (event) => { event.preventDefault(); startNew(store.kind); app.closeDrawer(); } },
          icon("plus", 16), h("span", {}, t("newChat")))),
      h("h2.sidebar-title", {}, t("conversations")),
      h("div.sidebar-scroll", {}, els.list, els.listMore),
      h("p.sidebar-foot", {}, h("span.trigram", { "aria-hidden": "true" }, "☯"), " ", t("footnote")));

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
    els.send = h("button.send", { type: "submit", "aria-label": t("send"), title: t("send") }, h("span", {}, t("send")), icon("send", 18));
    els.stopLabel = h("span", {}, t("stop"));
    els.stop = h("button.stop", { type: "button", hidden: true, "aria-label": t("stop"), title: t("stop"), onclick: () => turn.stop() }, icon("stop", 16), els.stopLabel);
    els.form = h("form.composer", { onsubmit: submit },
      els.hintPanel,
      h("div.composer-box", {},
        els.input,
        h("div.composer-row", {}, els.hintToggle, h("span.keys", {}, t("enterToSend")), els.counter, els.send, els.stop)),
      h("p.disclaimer", {}, t(store.kind === "oracle" ? "disclaimerOracle" : "disclaimerTcm")));

    els.backdrop = h("div.drawer-backdrop", { onclick: () => app.closeDrawer() });
    els.root = h("div.chat", { dataset: { kind: store.kind } },
      els.sidebar, els.backdrop,
      h("section.conversation", { "aria-label": t("chat") }, h("header.chat-head", {}, els.personas), els.messages, els.form));

    shownBusy = Boolean(store.streaming);
    renderList();
    renderMessages();
    updateHintToggle();
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
    els.send.disabled = !els.input.value.trim() || left < 0;
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
    const items = store.conversations.map((conversation) => {
      const current = conversation.id === store.conversationId;
      return h(`li.${conversation.type}`, { dataset: { id: conversation.id }, class: current ? "current" : null },
        h("a.conversation-link", {
          href: `#/chat/${encodeURIComponent(conversation.id)}`, "aria-current": current ? "page" : null,
          onclick: () => app.closeDrawer(),
        },
          h("span.glyph", { "aria-hidden": "true" }, t(`${conversation.type}Glyph`)),
          h("span.conversation-text", {},
            h("span.title", { title: conversation.title }, conversation.title),
            h("span.when", {}, `${t(conversation.type)} · ${relativeTime(conversation.updatedAt)}`))),
        h("span.item-actions", {},
          h("button.icon-button", { type: "button", dataset: { action: "rename" }, title: t("rename"), "aria-label": `${t("rename")}: ${conversation.title}`, onclick: () => rename(conversation) }, icon("edit", 15)),
          h("button.icon-button", { type: "button", dataset: { action: "delete" }, title: t("delete"), "aria-label": `${t("delete")}: ${conversation.title}`, onclick: () => remove(conversation) }, icon("trash", 15))));
    });
    if (!items.length && store.listState === "loaded") items.push(h("li.empty", {}, t("noConversations")));
    if (store.listState === "loading" && !store.conversations.length) {
      items.push(...[1, 2, 3].map(() => h("li.skeleton", { "aria-hidden": "true" }, h("span"), h("span"))));
    }
    if (store.listState === "error") {
      items.push(h("li.empty.error", {}, t("errors.network_error"), " ",
        h("button.link", { type: "button", onclick: () => loadConversations() }, t("retry"))));
    }
    els.list.replaceChildren(...items);
    els.listMore.hidden = !store.listCursor;
  }

  function renderMessages() {
    els.root.dataset.kind = store.kind;
    els.personas.querySelectorAll(".persona").forEach((button) => button.setAttribute("aria-pressed", String(button.dataset.kind === store.kind)));
    els.input.placeholder = t(store.kind === "oracle" ? "placeholderOracle" : "placeholderTcm");
    els.form.querySelector(".disclaimer").textContent = t(store.kind === "oracle" ? "disclaimerOracle" : "disclaimerTcm");
    if (store.opening) {
      els.inner.replaceChildren(h("div.loading", { role: "status" }, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot")));
      return;
    }
    if (!store.messages.length) {
      els.inner.replaceChildren(welcome());
      return;
    }
    const older = store.olderCursor
      ? h("button.button.ghost.small.load-earlier", { type: "button", onclick: loadEarlier }, t("loadEarlier"))
      : null;
    els.inner.replaceChildren(...[older, ...messages.render(store.messages)].filter(Boolean));
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

  /** A conversation belongs to one assistant: choosing the other one starts a new conversation. */
  function choosePersona(kind) {
    if (kind !== store.kind) startNew(kind);
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
    const drafts = new Map(store.messages.filter((m) => m.id && m.editing).map((m) => [m.id, m.editing]));
    const page = detail.messages.map((m) => Object.assign(fromServer(m), { editing: drafts.get(m.id) ?? null }));
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

  async function loadEarlier() {
    const generation = store.generation;
    const id = store.conversationId;
    try {
      const detail = await api.getConversation(id, { limit: PAGE, cursor: store.olderCursor });
      if (generation !== store.generation || id !== store.conversationId) return;
      const height = els.messages.scrollHeight;
      store.messages = [...detail.messages.map(fromServer), ...store.messages];
      store.olderCursor = detail.nextCursor ?? null;
      renderMessages();
      els.messages.scrollTop = els.messages.scrollHeight - height;
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    }
  }

  async function rename(conversation) {
    const title = await dialog({
      title: t("renameTitle"),
      input: { value: conversation.title, label: t("titleLabel"), maxlength: 120 },
      confirm: t("save"),
      validate: (value) => ([...value].length >= 1 && [...value].length <= 120 ? "" : t("titleInvalid")),
    });
    if (title === null || title === conversation.title) return;
    try {
      const { conversation: updated } = await api.renameConversation(conversation.id, title);
      store.conversations = store.conversations.map((c) => (c.id === updated.id ? { ...c, ...updated } : c));
      renderList();
      toast(t("renamed"));
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    }
  }

  async function remove(conversation) {
    const yes = await dialog({ title: t("deleteTitle"), text: t("deleteText", { title: conversation.title }), confirm: t("delete"), danger: true });
    if (!yes) return;
    try {
      await api.deleteConversation(conversation.id);
      store.conversations = store.conversations.filter((c) => c.id !== conversation.id);
      if (conversation.id === store.conversationId) startNew(store.kind);
      else renderList();
      toast(t("deleted"));
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    }
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
    els.input.value = "";
    store.draft = "";
    autosize();
    for (const item of store.messages) item.editing = null; // a new message ends an edit left open
    const user = message("user", text);
    const reply = message("assistant", "", { status: "streaming" });
    const welcoming = !store.messages.length;
    store.messages.push(user, reply);
    if (welcoming) renderMessages();
    else els.inner.append(messages.bubble(user), messages.bubble(reply));
    scrollToBottom();
    turn.send(text, reply);
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
      if (!matchMedia("(hover: none)").matches) els.input.focus();
    },
  };
}
