// Thumbs up and down under a reply, with an optional short comment. Choosing a thumb saves it at
// once (PUT) and opens a small form for a comment, which may be skipped (Skip, Escape); the other
// thumb changes the rating (the comment stays); the pressed thumb again withdraws it (DELETE).
// What the server has (`MessageView.feedback`) shows when a conversation loads.
//
// The state is on the message object (`feedback`, `feedbackForm: {draft}`, `feedbackBusy`), as
// everything in messages.js, so a rebuilt view shows the same.
import * as api from "../api.js";
import { h, icon, toast } from "../dom.js";
import { errorText, t } from "../i18n.js";

export const MAX_COMMENT_CHARS = 500;
let forms = 0;

/** A comment shortened for the button that opens it. */
function short(text, max = 40) {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : text;
}

/**
 * `options`: `conversationId()`, `repaint(item)` (the foot and the form again) and
 * `focus(item, selector)` (focuses an element of the message's bubble).
 */
export function feedbackControls(options) {
  /** The two thumbs (and, once rated, the comment's button): part of the message's controls. */
  function thumbs(item) {
    const rating = item.feedback?.rating ?? null;
    const thumb = (value) => h(`button.icon-button.thumb.thumb-${value}`, {
      type: "button", dataset: { action: `feedback-${value}` },
      "aria-pressed": String(rating === value), "aria-busy": item.feedbackBusy ? "true" : null,
      title: t(value === "up" ? "feedbackUp" : "feedbackDown"), "aria-label": t(value === "up" ? "feedbackUp" : "feedbackDown"),
      onclick: () => choose(item, value),
    }, icon(value === "up" ? "thumbUp" : "thumbDown", 16));
    const comment = item.feedback?.comment ?? "";
    const note = rating && !item.feedbackForm
      ? h("button.link.feedback-note", {
        type: "button", dataset: { action: "feedback-comment" },
        title: comment || null, "aria-label": comment ? `${t("feedbackEditComment")}: ${comment}` : t("feedbackAddComment"),
        onclick: () => openForm(item),
      }, comment ? `“${short(comment)}”` : t("feedbackAddComment"))
      : null;
    return h("div.feedback", { role: "group", "aria-label": t("feedbackGroup"), dataset: { rating: rating ?? "" } }, thumb("up"), thumb("down"), note);
  }

  /** The comment form, while it is open (null otherwise). */
  function form(item) {
    if (!item.feedbackForm || !item.feedback) return null;
    const id = `feedback-comment-${++forms}`;
    const input = h("textarea.feedback-input", {
      id, name: "comment", rows: 2, maxlength: MAX_COMMENT_CHARS, value: item.feedbackForm.draft,
      placeholder: t("feedbackPlaceholder"), dataset: { action: "feedback-input" },
    });
    const counter = h("span.counter", { "aria-live": "polite" });
    const send = h("button.button.primary.small.feedback-send", { type: "submit" }, t("feedbackSend"));
    const update = () => {
      const left = MAX_COMMENT_CHARS - [...input.value].length;
      counter.textContent = left < 100 ? (left >= 0 ? t("charsLeft", { n: left }) : t("feedbackTooLong")) : "";
      counter.classList.toggle("over", left < 0);
      send.disabled = left < 0 || Boolean(item.feedbackBusy);
    };
    const element = h("form.feedback-form", {
      onsubmit: (event) => {
        event.preventDefault();
        if (!send.disabled) save(item, input.value.trim());
      },
    },
      h("label.feedback-label", { for: id }, t(item.feedback.rating === "up" ? "feedbackCommentUp" : "feedbackCommentDown")),
      input,
      h("div.feedback-row", {},
        h("span.feedback-keys", {}, t("feedbackKeys")),
        counter,
        h("button.button.ghost.small.feedback-skip", { type: "button", onclick: () => skip(item) }, t("feedbackSkip")),
        send));
    input.addEventListener("input", () => {
      item.feedbackForm.draft = input.value;
      update();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation(); // not the drawer's Escape too
        skip(item);
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        element.requestSubmit();
      }
    });
    update();
    return element;
  }

  async function choose(item, rating) {
    const conversationId = options.conversationId();
    if (item.feedbackBusy || !item.id || !conversationId) return;
    const withdraw = item.feedback?.rating === rating;
    item.feedbackBusy = true;
    options.repaint(item);
    let opened = false;
    try {
      if (withdraw) {
        await api.deleteFeedback(conversationId, item.id);
        item.feedback = null;
        item.feedbackForm = null;
        toast(t("feedbackWithdrawn"));
      } else {
        // A change of mind keeps the comment already given; the form offers to change it.
        const { feedback } = await api.setFeedback(conversationId, item.id, { rating, comment: item.feedback?.comment ?? undefined });
        item.feedback = feedback;
        item.feedbackForm = { draft: item.feedbackForm?.draft ?? feedback.comment ?? "" };
        opened = true;
      }
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    } finally {
      item.feedbackBusy = false;
      options.repaint(item);
    }
    if (opened) options.focus(item, "textarea.feedback-input");
  }

  function openForm(item) {
    if (!item.feedback) return;
    item.feedbackForm = { draft: item.feedback.comment ?? "" };
    options.repaint(item);
    options.focus(item, "textarea.feedback-input");
  }

  async function save(item, comment) {
    const conversationId = options.conversationId();
    if (item.feedbackBusy || !item.feedback || !conversationId) return;
    item.feedbackBusy = true;
    options.repaint(item);
    let done = false;
    try {
      const { feedback } = await api.setFeedback(conversationId, item.id, { rating: item.feedback.rating, comment: comment || undefined });
      item.feedback = feedback;
      item.feedbackForm = null;
      done = true;
      toast(t("feedbackThanks"));
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    } finally {
      item.feedbackBusy = false;
      options.repaint(item);
    }
    options.focus(item, done ? `button[data-action="feedback-${item.feedback?.rating}"]` : "textarea.feedback-input");
  }

  /** Closes the form; the rating stays as chosen. */
  function skip(item) {
    item.feedbackForm = null;
    options.repaint(item);
    options.focus(item, `button[data-action="feedback-${item.feedback?.rating ?? "up"}"]`);
  }

  return { thumbs, form };
}
