// The quota line above the message box: how many messages the caller may still send in the
// quota's window, and when the next one frees. Quiet while plenty remain; a warning, announced
// (role=status), when few or none do. Nothing at all for an account without a message quota
// (`messages` null: administrators, by default). Read when the chat opens, after every turn
// (done, error, stopped: a 429 included), and again when the next message frees.
import * as api from "../api.js";
import { h } from "../dom.js";
import { duration, locale, t } from "../i18n.js";
import { store } from "./chat-store.js";

// Past this the timer is not worth keeping (setTimeout's limit is about 24.8 days).
const MAX_TIMER_MS = 6 * 3600 * 1000;

/** Few left: at most 5, or at most a fifth of the limit. */
export function quotaLow({ remaining, limit }) {
  return remaining <= Math.max(5, Math.floor(limit / 5));
}

/** "10:00", or "Dec 3, 10:00" when it is not today. */
function clock(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const today = date.toDateString() === new Date().toDateString();
  return date.toLocaleString(locale(), today
    ? { hour: "numeric", minute: "2-digit" }
    : { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
}

export function quotaLine() {
  let els = null;
  let request = 0;
  let timer = 0;

  /** Fresh elements (the chat view is rebuilt on a language switch), painted from the store. */
  function render() {
    els = {
      quiet: h("p.quota-text"),
      // Present from the start, so that what it is given later is announced.
      warning: h("p.quota-warning", { role: "status", "aria-live": "polite" }),
    };
    els.el = h("div.quota", { dataset: { state: "none" } }, els.quiet, els.warning);
    paint();
    return els.el;
  }

  function paint() {
    if (!els) return;
    const messages = store.quota?.messages ?? null;
    let state = "none";
    let quiet = "";
    let warning = "";
    if (messages) {
      const next = messages.nextFreeAt ? clock(messages.nextFreeAt) : "";
      if (messages.remaining <= 0) {
        state = "empty";
        const wait = messages.nextFreeAt ? (Date.parse(messages.nextFreeAt) - Date.now()) / 1000 : null;
        warning = next ? t("quotaNone", { time: next, wait: duration(Math.max(1, wait)) }) : t("quotaNoneNoTime");
      } else {
        const left = t(quotaLow(messages) ? "quotaLow" : "quotaLeft", { n: messages.remaining, limit: messages.limit });
        const text = next ? `${left} · ${t("quotaNextFree", { time: next })}` : left;
        if (quotaLow(messages)) {
          state = "low";
          warning = text;
        } else {
          state = "ok";
          quiet = text;
        }
      }
    }
    els.el.dataset.state = state;
    els.el.hidden = state === "none";
    els.quiet.textContent = quiet;
    els.quiet.hidden = !quiet;
    if (els.warning.textContent !== warning) els.warning.textContent = warning;
    els.warning.hidden = !warning;
  }

  /** Reads the quota again; an older answer arriving late is dropped. */
  async function refresh() {
    const generation = store.generation;
    const mine = ++request;
    try {
      const quota = await api.getQuota();
      if (generation !== store.generation || mine !== request) return;
      store.quota = quota;
    } catch (error) {
      if (generation !== store.generation || mine !== request) return;
      if (error.status === 401) return;
      store.quota = null; // not known: better nothing than a wrong number
    }
    paint();
    schedule();
  }

  /** When the quota is used up or low, reads it again as the next message frees. */
  function schedule() {
    clearTimeout(timer);
    const messages = store.quota?.messages;
    if (!messages?.nextFreeAt || !quotaLow(messages)) return;
    const wait = Date.parse(messages.nextFreeAt) - Date.now() + 1000;
    if (wait > MAX_TIMER_MS) return;
    const generation = store.generation;
    timer = setTimeout(() => {
      if (generation === store.generation) refresh();
    }, Math.max(1000, wait));
  }

  return { render, refresh, paint };
}
