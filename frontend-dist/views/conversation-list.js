// The conversation list of the chat's sidebar: an item per conversation (its assistant, title and
// when it last changed; the one shown marked), the list's loading and error states, and renaming
// and deleting a conversation.
import * as api from "../api.js";
import { dialog, h, icon, toast } from "../dom.js";
import { errorText, relativeTime, t } from "../i18n.js";
import { store } from "./chat-store.js";

/**
 * `view`: `app`, `loadConversations()`, `renderList()` (paints the list again), `startNew(kind)`
 * and `searching()` (search results are shown instead of the list).
 */
export function conversationList(view) {
  /** Paints the conversations into `list` and shows `more` when there are more to load. */
  function render(list, more) {
    const items = store.conversations.map((conversation) => {
      const current = conversation.id === store.conversationId;
      return h(`li.${conversation.type}`, { dataset: { id: conversation.id }, class: current ? "current" : null },
        h("a.conversation-link", {
          href: `#/chat/${encodeURIComponent(conversation.id)}`, "aria-current": current ? "page" : null,
          onclick: () => view.app.closeDrawer(),
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
        h("button.link", { type: "button", onclick: () => view.loadConversations() }, t("retry"))));
    }
    list.replaceChildren(...items);
    more.hidden = !store.listCursor || view.searching();
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
      view.renderList();
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
      if (conversation.id === store.conversationId) view.startNew(store.kind);
      else view.renderList();
      toast(t("deleted"));
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    }
  }

  return { render };
}
