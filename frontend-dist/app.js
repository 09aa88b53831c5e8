// The site: hash routes #/login, #/register, #/chat[/<id>], #/admin. Everything talks to the API
// through api.js; every piece of text comes from i18n.js; model output goes through markdown.js.
import * as api from "./api.js";
import { errorText, lang, locale, setLang, t } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";

const state = { user: null, kind: "oracle", conversationId: null, conversations: [], streaming: null };
const view = document.getElementById("view");

/** Creates an element: h("button.primary", {onclick}, "text", child…). Text is never parsed as HTML. */
function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name);
  if (classes.length) element.className = classes.join(" ");
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, "");
    else if (value !== false && value != null) element.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child != null && child !== false) element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

function notify(text) {
  const notice = document.getElementById("notice");
  notice.textContent = text || "";
  notice.hidden = !text;
}

function translateChrome() {
  document.querySelectorAll("[data-t]").forEach((element) => (element.textContent = t(element.dataset.t)));
  document.title = `${t("brand")} · Oracle & TCM`;
}

/** Any 401 means the session is over (logout elsewhere, expiry, ban): back to the login page. */
async function guarded(call) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401 && state.user) {
      endSession(t("sessionEnded"));
      return undefined;
    }
    throw error;
  }
}

function endSession(message) {
  api.setToken(null);
  state.user = null;
  state.conversationId = null;
  state.conversations = [];
  state.streaming?.abort();
  location.hash = "#/login";
  route();
  notify(message);
}

function renderChrome() {
  translateChrome();
  const signedIn = Boolean(state.user);
  document.getElementById("who").hidden = !signedIn;
  document.getElementById("who").textContent = state.user?.email ?? "";
  document.getElementById("logout").hidden = !signedIn;
  document.getElementById("nav-chat").hidden = !signedIn;
  document.getElementById("nav-admin").hidden = state.user?.role !== "ADMIN";
  const page = location.hash.split("/")[1] || "";
  document.getElementById("nav-chat").classList.toggle("current", page === "chat");
  document.getElementById("nav-admin").classList.toggle("current", page === "admin");
  document.getElementById("menu").hidden = !(signedIn && page === "chat");
}

// ---------------------------------------------------------------- auth

function authView(mode) {
  const isLogin = mode === "login";
  const error = h("p.form-error", { role: "alert" });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", {
    type: "password", name: "password", required: true,
    autocomplete: isLogin ? "current-password" : "new-password", minlength: isLogin ? null : 8,
  });
  const submit = h("button.button.wide", { type: "submit" }, t(isLogin ? "login" : "register"));
  const form = h("form.card.auth", {
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      submit.disabled = true;
      try {
        const result = await (isLogin ? api.login : api.register)({ email: email.value, password: password.value });
        api.setToken(result.token);
        state.user = result.user;
        notify("");
        location.hash = "#/chat";
      } catch (failure) {
        error.textContent = errorText(failure);
      } finally {
        submit.disabled = false;
      }
    },
  },
    h("h1", {}, t(isLogin ? "login" : "register")),
    h("p.sub", {}, t("tagline")),
    h("label", {}, t("email"), email),
    h("label", {}, t("password"), password),
    isLogin ? null : h("small", {}, t("passwordHint")),
    submit,
    error,
    h("p.switch", {}, t(isLogin ? "noAccount" : "haveAccount"), " ",
      h("a", { href: isLogin ? "#/register" : "#/login" }, t(isLogin ? "register" : "login"))),
  );
  view.replaceChildren(form);
  email.focus();
}

// ---------------------------------------------------------------- chat

async function loadConversations() {
  const page = await guarded(() => api.listConversations({ limit: 50 }));
  if (page) state.conversations = page.conversations;
}

function chatView() {
  const layout = h("div.chat");
  const list = h("ul.conversation-list");
  const messages = h("div.messages", { "aria-live": "polite" });
  const input = h("textarea", { rows: 2, maxlength: 4000, placeholder: "" });
  const hint = h("input", { type: "text", maxlength: 500, placeholder: t("hintPlaceholder") });
  hint.value = localStorage.getItem("hint") || "";
  hint.addEventListener("change", () => localStorage.setItem("hint", hint.value));
  const send = h("button.button", { type: "submit" }, t("send"));
  const stop = h("button.button.secondary", { type: "button", hidden: true, onclick: () => state.streaming?.abort() }, t("stop"));

  const personas = h("div.personas", {}, ["oracle", "tcm"].map((kind) =>
    h(`button.persona.${kind}`, { type: "button", dataset: { kind }, onclick: () => startNew(kind) },
      h("strong", {}, t(kind)), h("small", {}, t(`${kind}Desc`)))));

  function renderAssistants() {
    personas.querySelectorAll(".persona").forEach((b) => b.classList.toggle("current", b.dataset.kind === state.kind));
    input.placeholder = t(state.kind === "oracle" ? "placeholderOracle" : "placeholderTcm");
  }

  function renderList() {
    list.replaceChildren(...(state.conversations.length ? state.conversations.map((conversation) =>
      h("li", {
        class: conversation.id === state.conversationId ? "current" : null,
        onclick: () => { location.hash = `#/chat/${conversation.id}`; layout.classList.remove("open"); },
      },
        h(`span.badge.${conversation.type}`, {}, t(conversation.type)),
        h("span.title", { title: conversation.title }, conversation.title),
        h("span.tools", {},
          h("button", { type: "button", title: t("rename"), "aria-label": t("rename"), onclick: (e) => { e.stopPropagation(); rename(conversation); } }, "✎"),
          h("button", { type: "button", title: t("delete"), "aria-label": t("delete"), onclick: (e) => { e.stopPropagation(); remove(conversation); } }, "×")),
      )) : [h("li.empty", {}, t("noConversations"))]));
  }

  function bubble(role, content) {
    const element = h(`div.bubble.${role}`);
    if (role === "assistant") element.innerHTML = renderMarkdown(content);
    else element.textContent = content;
    return element;
  }

  function welcome() {
    messages.replaceChildren(h("p.welcome", {}, t(state.kind === "oracle" ? "welcomeOracle" : "welcomeTcm")));
  }

  async function rename(conversation) {
    const title = prompt(t("renamePrompt"), conversation.title);
    if (!title || !title.trim()) return;
    try {
      await guarded(() => api.renameConversation(conversation.id, title.trim()));
      await loadConversations();
      renderList();
    } catch (error) {
      notify(errorText(error));
    }
  }

  async function remove(conversation) {
    if (!confirm(t("confirmDelete"))) return;
    try {
      await guarded(() => api.deleteConversation(conversation.id));
      if (conversation.id === state.conversationId) location.hash = "#/chat";
      await loadConversations();
      renderList();
    } catch (error) {
      notify(errorText(error));
    }
  }

  function startNew(kind) {
    state.kind = kind;
    state.conversationId = null;
    if (location.hash !== "#/chat") location.hash = "#/chat";
    renderAssistants();
    renderList();
    welcome();
    input.focus();
  }

  async function open(id) {
    try {
      const detail = await guarded(() => api.getConversation(id, { limit: 100 }));
      if (!detail) return;
      state.conversationId = id;
      state.kind = detail.conversation.type;
      renderAssistants();
      renderList();
      messages.replaceChildren(...detail.messages.map((m) => bubble(m.role, m.content)));
      messages.scrollTop = messages.scrollHeight;
    } catch (error) {
      notify(errorText(error));
      startNew(state.kind);
    }
  }

  async function submit(event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || state.streaming) return;
    if (!state.conversationId) messages.replaceChildren();
    messages.append(bubble("user", text));
    input.value = "";
    const reply = bubble("assistant", "");
    const status = h("span.status", {}, t("thinking"));
    reply.append(status);
    messages.append(reply);
    messages.scrollTop = messages.scrollHeight;
    let content = "";
    const controller = new AbortController();
    state.streaming = controller;
    send.hidden = true;
    stop.hidden = false;
    const request = {
      type: state.kind, locale: locale(), messages: [{ role: "user", content: text }],
      conversationId: state.conversationId ?? undefined, systemHint: hint.value.trim() || undefined,
    };
    const adopt = (id) => {
      if (id && id !== state.conversationId) {
        state.conversationId = id;
        history.replaceState(null, "", `#/chat/${id}`);
        loadConversations().then(renderList);
      }
    };
    try {
      await guarded(() => api.streamChatMessage(request, {
        onStart: ({ conversationId }) => adopt(conversationId),
        onDelta: (piece) => {
          content += piece;
          reply.innerHTML = renderMarkdown(content);
          messages.scrollTop = messages.scrollHeight;
        },
        onDone: () => loadConversations().then(renderList),
        onError: (error) => { adopt(error.conversationId); reply.append(h("p.error", {}, errorText(error))); },
      }, controller.signal));
    } catch (error) {
      if (error.name === "AbortError") reply.append(h("p.status", {}, t("stopped")));
      else {
        adopt(error.conversationId);
        status.remove();
        reply.append(h("p.error", {}, errorText(error)));
      }
    } finally {
      status.remove();
      state.streaming = null;
      send.hidden = false;
      stop.hidden = true;
    }
  }

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  const form = h("form.composer", { onsubmit: submit },
    h("div.row", {}, input, send, stop),
    h("details", {}, h("summary", {}, t("hint")), hint));

  layout.append(
    h("aside.sidebar", {},
      h("header", {}, h("button.button.wide", { type: "button", onclick: () => startNew(state.kind) }, "+ " + t("newChat"))),
      h("h2", {}, t("conversations")), list),
    h("section.conversation", {}, personas, messages, form));
  view.replaceChildren(layout);
  document.getElementById("menu").onclick = () => layout.classList.toggle("open");
  renderAssistants();
  renderList();
  loadConversations().then(renderList);
  return { open, startNew };
}

// ---------------------------------------------------------------- admin

function adminView() {
  const panel = h("div.card.panel");
  const tabs = { users: usersPanel, audit: auditPanel, export: exportPanel };
  const buttons = Object.keys(tabs).map((name) =>
    h("button", { type: "button", dataset: { tab: name }, onclick: () => show(name) }, t(name === "audit" ? "auditLog" : name)));
  function show(name) {
    buttons.forEach((b) => b.classList.toggle("current", b.dataset.tab === name));
    panel.replaceChildren();
    tabs[name](panel);
  }
  view.replaceChildren(h("section.admin", {}, h("div.tabs", {}, buttons), panel));
  show("users");
}

function pager(page, pageSize, total, go) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return h("div.pager", {},
    h("button.button.secondary", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, t("previous")),
    h("span", {}, t("page", { n: `${page} / ${pages}` })),
    h("button.button.secondary", { type: "button", disabled: page >= pages, onclick: () => go(page + 1) }, t("next")));
}

function usersPanel(panel) {
  const search = h("input", { type: "search", placeholder: t("search") });
  const body = h("div");
  async function load(page = 1) {
    try {
      const result = await guarded(() => api.listUsers({ q: search.value.trim(), page, pageSize: 20 }));
      if (!result) return;
      body.replaceChildren(
        h("table", {}, h("thead", {}, h("tr", {}, [t("email"), t("role"), t("status"), t("created"), t("actions")].map((c) => h("th", {}, c)))),
          h("tbody", {}, result.users.map((user) => h("tr", { dataset: { email: user.email } },
            h("td.wrap", {}, user.email), h("td", {}, user.role),
            h("td", {}, user.bannedAt ? t("banned") : t("active")),
            h("td", {}, new Date(user.createdAt).toLocaleString(locale())),
            h("td", {}, user.id === state.user.id ? "" : h("button.button.secondary", {
              type: "button",
              onclick: async () => {
                try {
                  await guarded(() => (user.bannedAt ? api.unbanUser(user.id) : api.banUser(user.id)));
                  load(page);
                } catch (error) { notify(errorText(error)); }
              },
            }, user.bannedAt ? t("unban") : t("ban"))))))),
        pager(result.page, result.pageSize, result.total, load));
    } catch (error) {
      notify(errorText(error));
    }
  }
  panel.append(h("form.filters", { onsubmit: (e) => { e.preventDefault(); load(1); } }, search, h("button.button", { type: "submit" }, t("filter"))), body);
  load();
}

function auditPanel(panel) {
  const actions = ["register", "login", "login_failed", "login_blocked", "logout", "ban", "unban", "export", "promote", "demote"];
  const action = h("select", {}, h("option", { value: "" }, t("allActions")), actions.map((a) => h("option", { value: a }, a)));
  const actor = h("input", { type: "text", placeholder: t("actor") });
  const body = h("div");
  async function load(page = 1) {
    try {
      const result = await guarded(() => api.listAuditLogs({ action: action.value, actorId: actor.value.trim(), page, pageSize: 20 }));
      if (!result) return;
      body.replaceChildren(
        h("table", {}, h("thead", {}, h("tr", {}, [t("time"), t("action"), t("actor"), t("message"), t("ip")].map((c) => h("th", {}, c)))),
          h("tbody", {}, result.auditLogs.map((log) => h("tr", {},
            h("td", {}, new Date(log.createdAt).toLocaleString(locale())), h("td", {}, log.action),
            h("td.wrap", {}, log.actorId ?? "—"), h("td.wrap", {}, log.message), h("td", {}, log.ip ?? "—"))))),
        pager(result.page, result.pageSize, result.total, load));
    } catch (error) {
      notify(errorText(error));
    }
  }
  panel.append(h("form.filters", { onsubmit: (e) => { e.preventDefault(); load(1); } }, action, actor, h("button.button", { type: "submit" }, t("filter"))), body);
  load();
}

function exportPanel(panel) {
  const format = h("select", {}, h("option", { value: "json" }, "JSON"), h("option", { value: "ndjson" }, "NDJSON"));
  const since = h("input", { type: "datetime-local" });
  const until = h("input", { type: "datetime-local" });
  const iso = (input) => (input.value ? new Date(input.value).toISOString() : undefined);
  const button = h("button.button", {
    type: "button",
    onclick: async () => {
      button.disabled = true;
      try {
        const file = await guarded(() => api.downloadExport({ format: format.value, since: iso(since), until: iso(until) }));
        if (!file) return;
        const url = URL.createObjectURL(file.blob);
        const link = h("a", { href: url, download: file.filename });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (error) {
        notify(errorText(error));
      } finally {
        button.disabled = false;
      }
    },
  }, t("download"));
  panel.append(h("div.filters", {}, h("label", {}, "Format", format), h("label", {}, t("since"), since), h("label", {}, t("until"), until), button));
}

// ---------------------------------------------------------------- routing

let chat = null;

async function route() {
  const [, page = "", id] = location.hash.split("/");
  if (!state.user && api.getToken()) {
    try {
      state.user = (await api.session()).user;
    } catch {
      api.setToken(null);
    }
  }
  if (!state.user) {
    chat = null;
    renderChrome();
    authView(page === "register" ? "register" : "login");
    return;
  }
  if (page === "admin" && state.user.role === "ADMIN") {
    chat = null;
    renderChrome();
    adminView();
    return;
  }
  if (page !== "chat") {
    location.hash = "#/chat";
    return;
  }
  renderChrome();
  const fresh = !chat;
  chat = chat || chatView();
  if (id) {
    // A fresh view (after a language switch, say) shows the open conversation again.
    if (fresh || decodeURIComponent(id) !== state.conversationId) await chat.open(decodeURIComponent(id));
  } else {
    chat.startNew(state.kind);
  }
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "zh" ? "en" : "zh");
  chat = null;
  route();
});
document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api.logout();
  } catch {
    // The session may already be gone; logging out locally is what matters.
  }
  endSession("");
});
window.addEventListener("hashchange", () => route());
route();
