// The search box of the conversation sidebar: the caller's conversations whose title or any
// message (any version) holds the words, newest first, each with the newest matching message as
// a snippet (the match in <mark>), "more" for the next page. Typing waits 250 ms before it asks;
// an answer to an older query is dropped. Clearing the box (its × or Escape) brings the list
// back. Opening a hit is the chat view's (`openHit`): the conversation, at that message.
import * as api from "../api.js";
import { h, icon } from "../dom.js";
import { errorText, relativeTime, t } from "../i18n.js";
import { markParts, plainSnippet } from "../highlight.js";
import { store } from "./chat-store.js";

export const MAX_QUERY_CHARS = 100;
const DEBOUNCE_MS = 250;
const PAGE = 20;

/** Text with the query's occurrences in <mark>. */
function marked(text, query) {
  return markParts(text, query).map((part) => (part.match ? h("mark", {}, part.text) : part.text));
}

/**
 * `view`: `openHit(hit)` opens a hit, `showing(active)` tells the sidebar whether results or the
 * list are shown.
 */
export function searchPanel(view) {
  let els = null;
  let timer = 0;
  let request = 0;
  let controller = null;
  const state = () => store.search;
  const active = () => Boolean(state().q.trim());

  /** Fresh elements, painted from the store: `{field, results}`. */
  function render() {
    const input = h("input.search-input", {
      type: "search", name: "search", id: "conversation-search", value: state().q, maxlength: MAX_QUERY_CHARS,
      placeholder: t("searchPlaceholder"), "aria-label": t("searchLabel"), "aria-controls": "search-results",
      autocomplete: "off", enterkeyhint: "search", spellcheck: "false",
    });
    const clear = h("button.icon-button.search-clear", {
      type: "button", title: t("searchClear"), "aria-label": t("searchClear"), onclick: () => reset(true),
    }, icon("close", 15));
    input.addEventListener("input", () => typed(input.value));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && input.value) {
        event.preventDefault();
        event.stopPropagation(); // clears the search; a second Escape closes the drawer
        reset(true);
      } else if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(timer);
        if (active()) run(false);
      }
    });
    const field = h("div.search-field.conversation-search", { role: "search" }, icon("search", 16), input, clear);
    const status = h("p.search-status", { role: "status" });
    const list = h("ul.search-results", { id: "search-results", "aria-label": t("searchResults") });
    const more = h("button.button.ghost.small.search-more", { type: "button", onclick: () => run(true) }, t("searchMore"));
    const results = h("div.search-panel", {}, status, list, more);
    els = { input, clear, field, status, list, more, results };
    paint();
    return { field, results };
  }

  function paint() {
    if (!els) return;
    const s = state();
    const on = active();
    els.clear.hidden = !s.q;
    els.results.hidden = !on;
    view.showing?.(on);
    if (!on) {
      els.status.textContent = "";
      els.list.replaceChildren();
      return;
    }
    const query = s.q.trim();
    els.results.dataset.state = s.state;
    // Until the new answer comes, the hits of the last one stay (no flicker while typing).
    if (s.state === "loading") els.status.textContent = t("searchSearching");
    else if (s.state === "error") {
      els.status.replaceChildren(h("span.error", {}, s.error), " ", h("button.link", { type: "button", onclick: () => run(false) }, t("retry")));
    } else if (s.state === "loaded" && !s.hits.length) els.status.textContent = t("searchNone", { q: query });
    else {
      els.status.textContent = s.cursor ? t("searchFoundMore", { n: s.hits.length })
        : s.hits.length === 1 ? t("searchFoundOne") : t("searchFound", { n: s.hits.length });
    }
    els.list.replaceChildren(...s.hits.map((hit) => item(hit, s.query ?? query)));
    els.more.hidden = !s.cursor || (s.state === "loading" && !s.loadingMore);
    els.more.setAttribute("aria-disabled", String(s.state === "loading")); // not `disabled`: it keeps the focus
  }

  function item(hit, query) {
    const { conversation, message } = hit;
    const current = conversation.id === store.conversationId;
    const who = message ? (message.role === "user" ? t("searchYou") : t("searchReply", { name: t(conversation.type) })) : "";
    const when = [t(conversation.type), relativeTime(message?.createdAt ?? conversation.updatedAt)];
    if (hit.matches > 1) when.push(t("searchMatches", { n: hit.matches }));
    else if (!message && hit.titleMatch) when.push(t("searchTitleOnly"));
    return h(`li.search-hit.${conversation.type}`, { dataset: { id: conversation.id, messageId: message?.id ?? "" }, class: current ? "current" : null },
      h("a.conversation-link.search-link", {
        href: `#/chat/${encodeURIComponent(conversation.id)}`,
        onclick: (event) => {
          if (event.ctrlKey || event.metaKey || event.shiftKey || event.button > 0) return; // a new tab: just the conversation
          event.preventDefault();
          view.openHit(hit);
        },
      },
        h("span.glyph", { "aria-hidden": "true" }, t(`${conversation.type}Glyph`)),
        h("span.conversation-text", {},
          h("span.title", { title: conversation.title }, hit.titleMatch ? marked(conversation.title, query) : conversation.title),
          message ? h("span.snippet", {}, h("span.snippet-who", {}, who),
            plainSnippet(message.before, { keep: 28 }), h("mark", {}, message.match), plainSnippet(message.after)) : null,
          h("span.when", {}, when.join(" · ")))));
  }

  function typed(value) {
    const s = state();
    s.q = value;
    clearTimeout(timer);
    if (!value.trim()) {
      cancel();
      Object.assign(s, { hits: [], cursor: null, state: "idle", error: "", query: "" });
      paint();
      return;
    }
    if (s.state !== "loading") {
      s.state = "loading";
      paint();
    }
    timer = setTimeout(() => run(false), DEBOUNCE_MS);
  }

  function cancel() {
    request++;
    controller?.abort();
    controller = null;
  }

  /** Asks for the first page of the query (or, `more`, the next one). */
  async function run(more) {
    const s = state();
    const query = s.q.trim();
    if (!query || (more && (!s.cursor || s.state === "loading"))) return;
    cancel();
    const mine = request;
    const generation = store.generation;
    controller = new AbortController();
    Object.assign(s, { state: "loading", loadingMore: more });
    paint();
    try {
      const page = await api.searchConversations(query, { limit: PAGE, cursor: more ? s.cursor : undefined, signal: controller.signal });
      if (mine !== request || generation !== store.generation) return;
      Object.assign(s, { hits: more ? [...s.hits, ...page.hits] : page.hits, cursor: page.nextCursor ?? null, state: "loaded", error: "", query });
    } catch (error) {
      if (mine !== request || generation !== store.generation || error?.name === "AbortError" || error?.status === 401) return;
      Object.assign(s, { state: "error", error: errorText(error) });
    }
    paint();
  }

  /** Back to the list; `focus` keeps the keyboard in the box. */
  function reset(focus = false) {
    clearTimeout(timer);
    cancel();
    Object.assign(state(), { q: "", hits: [], cursor: null, state: "idle", error: "", query: "" });
    if (els) els.input.value = "";
    paint();
    if (focus) els?.input.focus();
  }

  return { render, paint, reset, active };
}
