// #/chat and #/chat/<id>: the conversation list (sidebar), the assistant switch, the messages
// with replies streamed in as they are written, and the composer (hint, send, stop).
//
// The state lives in `store`, outside the DOM, so the view can be rebuilt at any time (a
// language switch does) without losing a reply that is still streaming in.
import * as api from "../api.js";
import { dialog, h, icon, toast } from "../dom.js";
import { errorText, locale, relativeTime, t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";

export const MAX_MESSAGE_CHARS = 4000;
export const MAX_HINT_CHARS = 500;
const KINDS = ["oracle", "tcm"];
const HINT_KEY = "chat_hint";
const KIND_KEY = "chat_kind";

function storedHint() {
  try {
    return localStorage.getItem(HINT_KEY) ?? "";
  } catch {
    return "";
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

let keys = 0;
const message = (role, content, extra = {}) => ({ key: ++keys, id: null, role, content, status: null, error: null, ...extra });

function freshStore() {
  return {
    generation: 0,
    kind: storedKind(),
    conversationId: null,
    messages: [],
    olderCursor: null,
    opening: null,
    conversations: [],
    listCursor: null,
    listState: "idle", // idle | loading | loaded | error
    streaming: null, // {controller, reply}
    hint: storedHint(),
    hintOpen: false,
    draft: "",
  };
}

let store = freshStore();

/** Forgets everything (logout): the next chat view starts empty. */
export function resetChat() {
  store.streaming?.controller.abort();
  try {
    localStorage.removeItem(HINT_KEY); // the next person at this browser starts without it
  } catch {
    // nothing stored
  }
  const generation = store.generation + 1;
  store = freshStore();
  store.generation = generation;
}

export function chatView(app) {
  const els = {};
  const bubbles = new Map(); // message.key -> element
  let frame = 0;
  const dirty = new Set();

  // ------------------------------------------------------------------ rendering

  function render() {
    bubbles.clear();
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
      store.hint = els.hintInput.value;
      try {
        localStorage.setItem(HINT_KEY, store.hint);
      } catch {
        // not remembered
      }
      updateHintToggle();
    });
    els.hintToggle = h("button.hint-toggle", { type: "button", "aria-expanded": String(store.hintOpen), "aria-controls": "hint-panel", onclick: toggleHint });
    els.hintPanel = h("div.hint-panel", { id: "hint-panel", hidden: !store.hintOpen },
      h("label", { class: "hint-label" }, h("span", {}, t("hintLabel")), els.hintInput));
    els.counter = h("span.counter", { "aria-live": "polite" });
    els.send = h("button.send", { type: "submit", "aria-label": t("send"), title: t("send") }, h("span", {}, t("send")), icon("send", 18));
    els.stop = h("button.stop", { type: "button", hidden: true, "aria-label": t("stop"), title: t("stop"), onclick: stop }, icon("stop", 16), h("span", {}, t("stop")));
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
    const length = [...els.input.value].length;
    const left = MAX_MESSAGE_CHARS - length;
    els.counter.textContent = left < 400 ? (left >= 0 ? t("charsLeft", { n: left }) : t("tooLong")) : "";
    els.counter.classList.toggle("over", left < 0);
    els.send.hidden = streaming;
    els.stop.hidden = !streaming;
    els.send.disabled = !els.input.value.trim() || left < 0;
    els.messages.setAttribute("aria-busy", String(streaming));
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
    bubbles.clear();
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
    els.inner.replaceChildren(...[older, ...store.messages.map(bubble)].filter(Boolean));
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

  function bubble(item) {
    let element;
    if (item.role === "user") {
      element = h("article.message.user", { dataset: { key: item.key } },
        h("div.body", {}, h("div.content", {}, item.content)));
    } else {
      const content = h("div.content.markdown");
      element = h("article.message.assistant", { dataset: { key: item.key } },
        h("div.avatar", { "aria-hidden": "true" }, t(`${store.kind}Glyph`)),
        h("div.body", {}, h("span.sr-only", {}, t("replyFrom", { name: t(store.kind) })), content, h("div.message-foot")));
    }
    bubbles.set(item.key, element);
    paint(item, element);
    return element;
  }

  /** Brings one message's element up to date with its state. */
  function paint(item, element = bubbles.get(item.key)) {
    if (!element || item.role !== "assistant") return;
    element.dataset.status = item.status ?? "done";
    const content = element.querySelector(".content");
    if (item.content) {
      content.innerHTML = renderMarkdown(item.content);
    } else {
      content.replaceChildren();
    }
    if (item.status === "streaming") {
      if (!item.content) content.append(h("p.thinking", {}, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot"), h("span.sr-only", {}, t("thinking"))));
      else caretTarget(content).append(h("span.caret", { "aria-hidden": "true" }));
    }
    const foot = element.querySelector(".message-foot");
    foot.replaceChildren();
    if (item.status === "stopped") foot.append(h("p.status", {}, t("stopped")));
    if (item.status === "error") {
      foot.append(h("p.error", { role: "alert" }, item.error),
        item.retry ? h("button.button.ghost.small.retry", { type: "button", onclick: () => retry(item) }, icon("retry", 14), t("retry")) : null);
    }
  }

  /** The innermost last block of a reply, where the typing caret goes. */
  function caretTarget(content) {
    let target = content.lastElementChild ?? content;
    while (/^(UL|OL|BLOCKQUOTE|DIV|TABLE|TBODY|THEAD|TR|PRE)$/.test(target.tagName) && target.lastElementChild) {
      target = target.lastElementChild;
    }
    return target;
  }

  function schedulePaint(item) {
    dirty.add(item);
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const stick = nearBottom();
      for (const each of dirty) paint(each);
      dirty.clear();
      if (stick) scrollToBottom();
    });
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
    store.listState = "loading";
    if (!more) renderList();
    try {
      const page = await api.listConversations({ limit: 30, cursor: more ? store.listCursor : undefined });
      if (generation !== store.generation) return;
      store.conversations = more ? [...store.conversations, ...page.conversations] : page.conversations;
      store.listCursor = page.nextCursor ?? null;
      store.listState = "loaded";
    } catch (error) {
      if (generation !== store.generation || error.status === 401) return;
      store.listState = "error";
    }
    if (els.list) renderList();
  }

  function stopStreaming() {
    store.streaming?.controller.abort();
  }

  function startNew(kind) {
    stopStreaming();
    store.kind = kind;
    try {
      localStorage.setItem(KIND_KEY, kind);
    } catch {
      // not remembered
    }
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
    stopStreaming();
    const generation = store.generation;
    store.opening = id;
    store.conversationId = id;
    store.messages = [];
    store.olderCursor = null;
    renderList();
    renderMessages();
    try {
      const detail = await api.getConversation(id, { limit: 50 });
      if (generation !== store.generation || store.opening !== id) return;
      store.opening = null;
      store.kind = detail.conversation.type;
      store.messages = detail.messages.map((m) => message(m.role, m.content, { id: m.id }));
      store.olderCursor = detail.nextCursor ?? null;
      if (!store.conversations.some((c) => c.id === id)) store.conversations.unshift(detail.conversation);
      renderList();
      renderMessages();
      scrollToBottom();
    } catch (error) {
      if (generation !== store.generation || store.opening !== id || error.status === 401) return;
      store.opening = null;
      toast(error.status === 404 ? t("notFound") : errorText(error), "error");
      startNew(store.kind);
    }
  }

  async function loadEarlier() {
    const generation = store.generation;
    const id = store.conversationId;
    try {
      const detail = await api.getConversation(id, { limit: 50, cursor: store.olderCursor });
      if (generation !== store.generation || id !== store.conversationId) return;
      const height = els.messages.scrollHeight;
      store.messages = [...detail.messages.map((m) => message(m.role, m.content, { id: m.id })), ...store.messages];
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

  // ------------------------------------------------------------------ sending

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
    const user = message("user", text);
    const reply = message("assistant", "", { status: "streaming" });
    const welcoming = !store.messages.length;
    store.messages.push(user, reply);
    if (welcoming) renderMessages();
    else els.inner.append(bubble(user), bubble(reply));
    scrollToBottom();
    stream(text, reply);
  }

  function retry(reply) {
    if (store.streaming) return;
    reply.status = "streaming";
    reply.error = null;
    reply.content = "";
    const text = reply.retry;
    reply.retry = null;
    schedulePaint(reply);
    stream(text, reply);
  }

  async function stream(text, reply) {
    const generation = store.generation;
    const controller = new AbortController();
    store.streaming = { controller, reply };
    updateComposer();
    const kind = store.kind;
    const hint = store.hint.trim();
    const request = {
      type: kind,
      messages: [{ role: "user", content: text }],
      locale: locale(),
      ...(store.conversationId ? { conversationId: store.conversationId } : {}),
      ...(hint ? { systemHint: hint.slice(0, MAX_HINT_CHARS) } : {}),
    };
    const adopt = (id) => {
      if (!id || generation !== store.generation || id === store.conversationId) return;
      store.conversationId = id;
      history.replaceState(null, "", `#/chat/${encodeURIComponent(id)}`);
      loadConversations();
    };
    try {
      const done = await api.streamChatMessage(request, {
        onStart: ({ conversationId }) => adopt(conversationId),
        onDelta: (_piece, soFar) => {
          if (generation !== store.generation) return;
          reply.content = soFar;
          schedulePaint(reply);
        },
      }, controller.signal);
      if (generation !== store.generation) return;
      reply.id = done.messageId;
      reply.content = done.content;
      reply.status = null;
      adopt(done.conversationId);
      loadConversations();
    } catch (error) {
      if (generation !== store.generation) return;
      if (error?.name === "AbortError") {
        reply.status = "stopped";
      } else if (error?.status === 401) {
        return; // the app has already ended the session
      } else {
        reply.status = "error";
        reply.error = errorText(error, "chat");
        reply.retry = text;
        adopt(error?.conversationId);
      }
    } finally {
      if (store.streaming?.controller === controller) store.streaming = null;
      if (generation === store.generation) {
        schedulePaint(reply);
        updateComposer();
      }
    }
  }

  function stop() {
    stopStreaming();
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
