// The messages of a conversation: each bubble, its controls (regenerate the last reply, edit a
// message of yours, ‹ 2/3 › between versions, thumbs up/down on a reply: feedback.js, reporting
// a reply: report-dialog.js), the edit form, and the repaint of a reply as it streams in.
//
// It keeps no state of its own beyond the elements: everything is on the message objects,
// which live in the chat view's store, so a rebuilt view (a language switch) shows the same,
// an edit half written included.
import { pictureUrl } from "../api.js";
import { h, icon, toast } from "../dom.js";
import { t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";
import { feedbackControls } from "./feedback.js";
import { reportDialog } from "./report-dialog.js";
import { observationsCard } from "./tongue.js";

export const MAX_MESSAGE_CHARS = 4000;

let keys = 0;

/**
 * A message as the view keeps it. `id` is null until the server has it; `status` is null
 * (done), "streaming", "stopped", "blocked" (moderation withheld it: a message of the user's was
 * not sent, a reply is not shown), "hidden" (a reply the administrators removed after a report)
 * or "error" (`error` its text, `errorCode` the API's code); the version fields come from the
 * server; `reported`: the user reported this reply.
 */
export function message(role, content, extra = {}) {
  return {
    key: ++keys, id: null, parentId: null, role, content, status: null, error: null, errorCode: null, retry: null, detached: false,
    editing: null, versions: 1, version: 1, versionIds: [], feedback: null, feedbackForm: null, feedbackBusy: false, reported: false, ...extra,
  };
}

/** A message of a conversation detail (GET, switch). */
export function fromServer(m) {
  return message(m.role, m.content, {
    id: m.id, parentId: m.parentId ?? null, status: m.withheld === "hidden" ? "hidden" : m.withheld ? "blocked" : m.stopped ? "stopped" : null,
    versions: m.versions ?? 1, version: m.version ?? 1, versionIds: m.versionIds ?? [], feedback: m.feedback ?? null,
    fromClient: Boolean(m.fromClient),
    redFlag: m.redFlag ?? null,
    reported: Boolean(m.reported),
    thinking: m.thinking?.content ?? null,
    thinkingMs: m.thinking?.ms ?? null,
    attachments: m.attachments ?? [],
  });
}

/**
 * The bubbles. `options`: `messages()` the list shown, `kind()` the assistant, `busy()` true
 * while a reply streams or a version is being fetched (the controls are off then), `scroll`
 * `{nearBottom(), toBottom()}`, and the actions `retry(item)`, `regenerate(item)`,
 * `edit(item, text)` and `switchTo(item, messageId)`; `errorAction(item)` may add a control of
 * its own beside a failed reply's error (a button that mails a verification link, say);
 * `conversationId()` the conversation shown (for the feedback on its replies).
 */
export function messageView(options) {
  const bubbles = new Map(); // message.key -> element
  const dirty = new Set();
  let frame = 0;
  const feedback = feedbackControls({
    conversationId: options.conversationId,
    repaint: (item) => {
      paintFoot(item);
      paintFeedbackForm(item);
    },
    focus: (item, selector) => bubbles.get(item.key)?.querySelector(selector)?.focus(),
  });

  /** The elements of every message, afresh. */
  function render(items) {
    bubbles.clear();
    return items.map(bubble);
  }

  function bubble(item) {
    let element;
    if (item.role === "user") {
      element = h("article.message.user", { dataset: { key: item.key } }, h("div.body"));
    } else {
      element = h("article.message.assistant", { dataset: { key: item.key } },
        h("div.avatar", { "aria-hidden": "true" }, t(`${options.kind()}Glyph`)),
        h("div.body", {}, h("span.sr-only", {}, t("replyFrom", { name: t(options.kind()) })), h("div.thought-slot"), h("div.content.markdown"), h("div.message-foot"), h("div.feedback-slot")));
    }
    bubbles.set(item.key, element);
    paint(item, element);
    return element;
  }

  /** Brings one message's element up to date with its state. */
  function paint(item, element = bubbles.get(item.key)) {
    if (!element) return;
    if (item.id) element.dataset.id = item.id;
    else delete element.dataset.id;
    if (item.role === "user") paintUser(item, element);
    else paintReply(item, element);
  }

  function paintUser(item, element) {
    element.classList.toggle("editing", Boolean(item.editing));
    const body = element.querySelector(".body");
    if (item.editing) {
      body.replaceChildren(editForm(item));
      return;
    }
    body.replaceChildren(picturesOf(item), h("div.content", {}, item.content), h("div.message-foot"), item.redFlag ? redFlagCard(item.redFlag) : "");
    paintFoot(item, element);
  }

  function paintReply(item, element) {
    element.dataset.status = item.status ?? "done";
    const content = element.querySelector(".content");
    if (item.status === "blocked" && !item.fromClient) {
      // The model's words never reach the page: a notice stands in their place.
      content.replaceChildren(h("p.notice.blocked", { role: "note" }, t("replyBlocked")));
    } else if (item.status === "hidden") {
      // Removed by the administrators after a report: its words are gone from here too.
      content.replaceChildren(h("p.notice.hidden", { role: "note" }, t("replyHidden")));
    } else if (item.content) {
      content.innerHTML = renderMarkdown(item.content);
    } else {
      content.replaceChildren();
    }
    paintThought(item, element);
    if (item.status === "streaming") {
      if (!item.content && !item.thinking) content.append(h("p.thinking", {}, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot"), h("span.sr-only", {}, t("thinking"))));
      else if (item.content) caretTarget(content).append(h("span.caret", { "aria-hidden": "true" }));
    }
    paintFoot(item, element);
    paintFeedbackForm(item, element);
  }

  /**
   * What the model thought before the reply (a reply thought through): open while it thinks
   * ("Thinking… 12 s"), folded once the answer begins ("Thought for 12 s"), and folded in the
   * history; the person opens it at will. Plain text: it is the model's working, not its answer.
   */
  function paintThought(item, element) {
    const slot = element.querySelector(":scope > .body > .thought-slot");
    if (!slot) return;
    const withheld = item.status === "blocked" || item.status === "hidden";
    if (!item.thinking || withheld) {
      slot.replaceChildren();
      return;
    }
    const live = item.status === "streaming" && !item.content && item.thinkingMs == null;
    let details = slot.querySelector("details.thought");
    if (!details) {
      details = h("details.thought", {}, h("summary", {}, h("span.thought-label")), h("div.thought-text"));
      details.open = live;
      slot.replaceChildren(details);
    } else if (details.dataset.live === "true" && !live) {
      details.open = false; // the answer has begun: the thinking folds
    }
    details.dataset.live = String(live);
    const ms = item.thinkingMs ?? Date.now() - (item.thinkingSince ?? Date.now());
    const seconds = Math.max(1, Math.round(ms / 1000));
    details.querySelector(".thought-label").textContent = t(live ? "thinkingLive" : "thoughtFor", { seconds });
    details.querySelector(".thought-text").textContent = item.thinking;
  }

  /** The pictures sent with a message of the user's, above its text; each opens whole. */
  function picturesOf(item) {
    const shown = item.attachments ?? [];
    if (!shown.length) return "";
    const seen = shown.filter((picture) => picture.observations).map((picture) => observationsCard(picture.observations));
    return h("div.message-pictures-block", {},
      h("div.message-pictures", { role: "group", "aria-label": t("picturesOf", { n: shown.length }) },
        shown.map((picture, index) => {
          const url = pictureUrl(picture.url);
          return h("a.message-picture", { href: url, target: "_blank", rel: "noopener noreferrer" },
            h("img", { src: url, alt: t("pictureAlt", { n: index + 1 }), loading: "lazy", decoding: "async" }));
        })),
      seen);
  }

  /** The comment form of a reply's feedback, under its controls while it is open. */
  function paintFeedbackForm(item, element = bubbles.get(item.key)) {
    const slot = element?.querySelector(":scope > .body > .feedback-slot");
    if (slot) slot.replaceChildren(item.status === "streaming" ? "" : feedback.form(item) ?? "");
  }

  /** The row under a message: the stopped label or the error, and the controls. */
  function paintFoot(item, element = bubbles.get(item.key)) {
    const foot = element?.querySelector(":scope > .body > .message-foot");
    if (!foot) return;
    const focused = foot.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    foot.replaceChildren();
    if (item.status === "stopped") foot.append(h("p.status", {}, t(item.detached ? "stoppedHere" : "stopped")));
    if (item.status === "blocked" && (item.role === "user" || item.fromClient)) foot.append(h("p.status.blocked", {}, t("messageBlocked")));
    // A reply the client brought along when it opened the conversation: not the model's here.
    if (item.fromClient && item.role === "assistant") foot.append(h("p.status.from-client", {}, t("fromClient")));
    if (item.status === "error") {
      foot.append(h("p.error", { role: "alert" }, item.error),
        options.errorAction?.(item) ?? "", // (append() writes a null as the text "null")
        item.retry ? h("button.button.ghost.small.retry", { type: "button", onclick: () => options.retry(item) }, icon("retry", 14), t("retry")) : "");
    }
    // Every reply the model wrote here carries its label (AI-generated), as its copy does.
    if (generated(item)) foot.append(h("span.ai-label", {}, t("aiLabel")));
    if (item.reported && item.status !== "hidden") foot.append(h("p.status.reported", {}, t("reported")));
    const actions = controls(item);
    if (actions) foot.append(actions);
    // A control rebuilt under the keyboard's focus keeps it.
    if (focused) focusable(foot, focused)?.focus();
  }

  function controls(item) {
    if (!item.id || item.status === "streaming" || item.status === "error") return null;
    const busy = options.busy();
    const buttons = [versions(item, busy)];
    if (item.role === "user") {
      buttons.push(h("button.icon-button.edit", {
        type: "button", dataset: { action: "edit" }, title: t("editMessage"), "aria-label": t("editMessage"), disabled: busy,
        onclick: () => startEditing(item),
      }, icon("edit", 16)));
    } else {
      if (isLast(item)) {
        buttons.push(h("button.icon-button.regenerate", {
          type: "button", dataset: { action: "regenerate" }, title: t("regenerate"), "aria-label": t("regenerate"), disabled: busy,
          onclick: () => options.regenerate(item),
        }, icon("regenerate", 16)));
      }
      if (generated(item)) {
        buttons.push(h("button.icon-button.copy", {
          type: "button", dataset: { action: "copy" }, title: t("copyReply"), "aria-label": t("copyReply"),
          onclick: () => copyReply(item),
        }, icon("copy", 16)));
      }
      // (Not while another reply streams either: it changes nothing there. Never on a reply
      // the client brought: the model did not write it.)
      if (!item.fromClient && item.status !== "blocked" && item.status !== "hidden") buttons.push(feedback.thumbs(item));
      // A reply of the model's, shown, may be reported once.
      if (generated(item) && !item.reported) {
        buttons.push(h("button.icon-button.report", {
          type: "button", dataset: { action: "report" }, title: t("reportReply"), "aria-label": t("reportReply"),
          onclick: () => report(item),
        }, icon("flag", 16)));
      }
    }
    const shown = buttons.filter(Boolean);
    return shown.length ? h("div.message-actions", {}, shown) : null;
  }

  /** A reply of the model's, shown: labelled, and copied with its label. */
  function generated(item) {
    return item.role === "assistant" && !item.fromClient && !["blocked", "hidden", "error"].includes(item.status) && Boolean(item.content);
  }

  /** Reports a reply (a dialog: the reason, a comment); filed (or filed before), it says so. */
  async function report(item) {
    const conversationId = options.conversationId();
    if (!conversationId || !item.id || item.reported) return;
    if (await reportDialog(conversationId, item.id)) {
      item.reported = true;
      paintFoot(item);
      // The button is gone: the keyboard's focus goes to the reply's other controls.
      if (document.activeElement === document.body) focus(item, "copy");
    }
  }

  /** Copies a reply's text with its label (the label travels with the words). */
  async function copyReply(item) {
    const model = options.model?.();
    const label = model ? t("aiLabelCopyWithModel", { model }) : t("aiLabelCopy");
    try {
      await navigator.clipboard.writeText(`${item.content}\n\n${label}`);
      toast(t("copied"));
    } catch {
      toast(t("copyFailed"));
    }
  }

  /** `‹ 2/3 ›`: the neighbouring versions, for a message that has more than one. */
  function versions(item, busy) {
    if (!(item.versions > 1) || item.versionIds.length < item.versions) return null;
    const previous = item.version > 1 ? item.versionIds[item.version - 2] : null;
    const next = item.version < item.versions ? item.versionIds[item.version] : null;
    const arrow = (action, id, label, glyph) => h(`button.icon-button.version-${action}`, {
      type: "button", dataset: { action }, title: t(label), "aria-label": t(label), disabled: busy || !id,
      onclick: () => options.switchTo(item, id),
    }, icon(glyph, 16));
    return h("div.versions", { role: "group", "aria-label": t("versionOf", { n: item.version, total: item.versions }) },
      arrow("previous", previous, "previousVersion", "chevronLeft"),
      h("span.version-count", { "aria-hidden": "true" }, `${item.version}/${item.versions}`),
      arrow("next", next, "nextVersion", "chevronRight"));
  }

  function isLast(item) {
    const items = options.messages();
    return items[items.length - 1] === item;
  }

  // ------------------------------------------------------------------ editing

  function startEditing(item) {
    if (options.busy()) return;
    item.editing = { draft: item.content };
    paint(item);
    const input = bubbles.get(item.key)?.querySelector("textarea");
    input?.focus();
    input?.setSelectionRange(input.value.length, input.value.length);
  }

  function stopEditing(item) {
    item.editing = null;
    paint(item);
    bubbles.get(item.key)?.querySelector("button.edit")?.focus();
  }

  /** The bubble as a form: Save & send (Ctrl/Cmd+Enter) or Cancel (Escape). */
  function editForm(item) {
    const input = h("textarea.edit-input", { name: "edit", rows: 2, "aria-label": t("editLabel"), value: item.editing.draft });
    const save = h("button.button.primary.small.save-edit", { type: "submit" }, t("saveAndSend"));
    const form = h("form.edit-form", {
      onsubmit: (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!save.disabled) options.edit(item, text);
      },
    },
      input,
      h("div.edit-row", {},
        h("span.edit-keys", {}, t("editKeys")),
        h("button.button.ghost.small.cancel-edit", { type: "button", onclick: () => stopEditing(item) }, t("cancel")),
        save));
    const update = () => {
      const length = [...input.value.trim()].length;
      save.disabled = options.busy() || length === 0 || length > MAX_MESSAGE_CHARS;
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight + 2, 320)}px`;
    };
    input.addEventListener("input", () => {
      item.editing.draft = input.value;
      update();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        stopEditing(item);
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.refresh = update;
    requestAnimationFrame(update); // its height once it is in the page
    update();
    return form;
  }

  // ------------------------------------------------------------------ updates

  /** Repaints the controls of every message: after the busy state changed, or a message was added. */
  function refresh() {
    for (const item of options.messages()) {
      const element = bubbles.get(item.key);
      if (item.editing) element?.querySelector("form.edit-form")?.refresh();
      else paintFoot(item, element);
    }
  }

  /** The control `action` of a message, or its neighbour when that one is off (the last version). */
  function focus(item, action) {
    const element = bubbles.get(item?.key);
    if (element) focusable(element, action)?.focus();
  }

  function focusable(root, action) {
    const wanted = root.querySelector(`[data-action="${action}"]`);
    if (wanted && !wanted.disabled) return wanted;
    return [...root.querySelectorAll(".message-actions button")].find((button) => !button.disabled) ?? null;
  }

  /** Repaints a streaming reply at the next frame (many pieces arrive between two frames). */
  function schedule(item) {
    dirty.add(item);
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const stick = options.scroll.nearBottom();
      for (const each of dirty) paint(each);
      dirty.clear();
      if (stick) options.scroll.toBottom();
    });
  }

  return { render, bubble, paint, schedule, refresh, focus };
}

/** The innermost last block of a reply, where the typing caret goes. */
function caretTarget(content) {
  let target = content.lastElementChild ?? content;
  while (/^(UL|OL|BLOCKQUOTE|DIV|TABLE|TBODY|THEAD|TR|PRE)$/.test(target.tagName) && target.lastElementChild) {
    target = target.lastElementChild;
  }
  return target;
}

/**
 * The emergency card an emergency sign in a message raises (`card` "emergency" or "crisis"),
 * in the page's language, with the numbers the server configured as links to call.
 */
export function redFlagCard(card) {
  const call = (number) => h("a.call", { href: `tel:${String(number).replace(/[^0-9+]/g, "")}` }, String(number));
  const crisis = card.card === "crisis";
  const text = t(crisis ? "redFlagCrisisBody" : "redFlagEmergencyBody", { emergency: card.emergencyNumber, crisis: card.crisisHotline });
  const numbers = crisis ? [card.crisisHotline, card.emergencyNumber] : [card.emergencyNumber];
  return h(`aside.red-flag-card.${crisis ? "crisis" : "emergency"}`, { role: "alert", dataset: { rule: card.rule } },
    h("strong.red-flag-title", {}, t(crisis ? "redFlagCrisisTitle" : "redFlagEmergencyTitle")),
    h("p", {}, text),
    h("p.red-flag-numbers", {}, ...numbers.map(call)));
}
