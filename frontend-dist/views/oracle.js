// The oracle's readings (issue 25) in the chat: the casting dialog (the question, three coins,
// yarrow stalks or six values cast by hand), the reading's card (the primary and relating
// hexagrams drawn by oracle-draw.js, their names, the changing lines, the governing texts) with
// "Ask the oracle about it", and the journal of readings (search, pages, delete, the linked
// conversation). The card's text alternative is the reading's `summary`, as the server words it.
// A conversation opened again shows the readings linked to it: chat.js reads the journal's first
// hundred readings (GET /api/oracle/readings) and keeps those whose conversationId is this one,
// each above the message that asked about it (the first with its question as text); a reading
// older than those hundred is not shown there, but stays in the journal.
import * as api from "../api.js";
import { dialog, h, icon, toast } from "../dom.js";
import { dateTime, errorText, lang, locale, t } from "../i18n.js";
import { hexagramSvg, relatingValues } from "../oracle-draw.js";

export const MAX_QUESTION_CHARS = 500;
const METHODS = ["coins", "yarrow", "manual"];
const JOURNAL_PAGE = 10;

/** Whether animations should be left out. */
const reducedMotion = () => matchMedia("(prefers-reduced-motion: reduce)").matches;

/**
 * The casting dialog. `question`: the text to start with (the message box's). Resolves to the
 * reading cast (`{…reading}`) or null when cancelled.
 */
export function castDialog({ question = "" } = {}) {
  return new Promise((resolve) => {
    const questionField = h("textarea", { id: "cast-question", name: "question", rows: 3, maxlength: MAX_QUESTION_CHARS, required: true, "aria-describedby": "cast-question-help" });
    questionField.value = question.slice(0, MAX_QUESTION_CHARS);
    const radios = METHODS.map((method) => h("input", { type: "radio", name: "method", value: method, checked: method === "coins" }));
    const selects = Array.from({ length: 6 }, (_, index) => h("select", { name: `line-${index + 1}`, "aria-label": lineLabel(index + 1) },
      [7, 8, 9, 6].map((value) => h("option", { value: String(value) }, t(`lineValue${value}`)))));
    const manual = h("fieldset.cast-manual", { hidden: true },
      h("legend", {}, t("manualHelp")),
      selects.map((select, index) => h("label.cast-line", {}, h("span", {}, lineLabel(index + 1)), select)));
    const problem = h("p.field-error", { role: "alert" });
    const castButton = h("button.button.primary", { type: "submit", value: "confirm" }, t("castButton"));
    const cancelButton = h("button.button.ghost", { type: "button", value: "cancel", onclick: () => close(null) }, t("cancel"));
    const form = h("form.modal-body.cast-form", { method: "dialog", novalidate: true },
      h("h2", {}, t("castTitle")),
      h("div.field", {},
        h("label", { for: "cast-question" }, t("castQuestion")),
        questionField,
        h("p.field-hint", { id: "cast-question-help" }, t("castQuestionHelp"))),
      h("fieldset.cast-methods", {},
        h("legend", {}, t("castMethod")),
        radios.map((radio) => h("label.cast-method", {}, radio, h("span", {}, t(`method${radio.value[0].toUpperCase()}${radio.value.slice(1)}`))))),
      manual,
      problem,
      h("div.modal-actions", {}, cancelButton, castButton));
    const modal = h("dialog.modal.cast-dialog", { "aria-label": t("castTitle"), dataset: { dialog: "cast" } }, form);
    const method = () => radios.find((radio) => radio.checked)?.value ?? "coins";
    for (const radio of radios) radio.addEventListener("change", () => (manual.hidden = method() !== "manual"));

    let working = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (working) return;
      const text = questionField.value.trim();
      const invalid = !text ? t("questionNeeded") : [...text].length > MAX_QUESTION_CHARS ? t("questionTooLong") : "";
      questionField.setAttribute("aria-invalid", String(Boolean(invalid)));
      if (invalid) {
        problem.textContent = invalid;
        questionField.focus();
        return;
      }
      const chosen = method();
      const request = { question: text, method: chosen, locale: locale(), ...(chosen === "manual" ? { lines: selects.map((select) => Number(select.value)) } : {}) };
      working = true;
      castButton.disabled = cancelButton.disabled = true;
      castButton.textContent = t("casting");
      modal.setAttribute("aria-busy", "true");
      problem.textContent = "";
      try {
        const { reading } = await api.castReading(request);
        close(reading);
      } catch (error) {
        if (error.status === 401) return close(null);
        problem.textContent = errorText(error);
        castButton.focus();
      } finally {
        working = false;
        castButton.disabled = cancelButton.disabled = false;
        castButton.textContent = t("castButton");
        modal.removeAttribute("aria-busy");
      }
    });
    modal.addEventListener("cancel", (event) => {
      event.preventDefault();
      if (!working) close(null);
    });
    let settled = false;
    function close(value) {
      if (settled) return;
      settled = true;
      modal.close();
      modal.remove();
      resolve(value);
    }
    document.body.append(modal);
    modal.showModal();
    questionField.focus();
  });
}

function lineLabel(position) {
  if (position === 1) return t("manualBottom");
  if (position === 6) return t("manualTop");
  return t("manualLine", { n: position });
}

/** "泰 Peace" and the like. */
function hexagramName(hexagram) {
  return `${hexagram.name} ${hexagram.english}`;
}

/** One hexagram of a card: the drawing, its number, names and trigrams. */
function hexagramFigure(hexagram, lines, { role, marks, animate }) {
  const svg = hexagramSvg(lines, { marks, size: 88, className: animate ? "casting" : "" });
  return h(`figure.hexagram-figure.${role}`, {},
    svg,
    h("figcaption", {},
      h("small.hexagram-role", {}, t(role === "primary" ? "primaryHexagram" : "relatingHexagram")),
      h("strong.hexagram-name", {}, h("span.hexagram-zh", { lang: "zh-CN" }, hexagram.name), " ", h("span.hexagram-en", { lang: "en" }, hexagram.english)),
      h("small.hexagram-number", {}, `${hexagram.symbol} ${t("hexagramNumber", { n: hexagram.number })}`),
      h("small.hexagram-trigrams", {}, t("trigrams", { upper: trigram(hexagram.upper), lower: trigram(hexagram.lower) }))));
}

/** "☷ 坤（地）" in Chinese, "☷ 坤 (Earth)" in English. */
function trigram(view) {
  return t("trigram", { name: `${view.symbol} ${view.name}`, nature: lang() === "zh" ? view.nature : view.english });
}

/**
 * The card of a reading. `ask()`: when given (a reading not asked about yet), the card has "Ask
 * the oracle about it". `animate`: the six lines appear from the bottom (unless the reader asks
 * for less motion).
 */
export function readingCard(reading, { ask = null, animate = false } = {}) {
  const moving = animate && !reducedMotion();
  const drawings = h("div.reading-hexagrams", { role: "img", "aria-label": reading.summary },
    hexagramFigure(reading.primary, reading.lines, { role: "primary", marks: true, animate: moving }),
    reading.relating
      ? [h("span.reading-arrow", { "aria-hidden": "true" }, "→"), hexagramFigure(reading.relating, relatingValues(reading.lines), { role: "relating", marks: false, animate: false })]
      : h("p.reading-no-relating.muted", {}, t("noRelating")));
  // The figures' words are in the summary already: the img role keeps them from being read twice.
  const changing = reading.changing.length ? t("changingList", { list: reading.changing.join(t("changingSeparator")) }) : t("noChanging");
  const texts = h("details.reading-texts", { open: true },
    h("summary", {}, t("governingTexts")),
    h("ul.governing", {}, reading.governing.map((text) => h(`li${text.principal ? ".principal" : ""}`, { lang: "zh-CN" },
      text.principal ? h("span.principal-mark", { lang: null, title: t("principalText") }, t("principalMark")) : null,
      // Verbatim: the texts carry their own labels (六五：…, 泰：…); one that does not gets its label.
      text.text.startsWith(text.label) ? null : h("span.governing-label", {}, `${text.label} `),
      h("span.governing-text", {}, text.text)))),
    h("p.reading-rule.muted", {}, t("ruleZhuXi")));
  const askButton = ask
    ? h("button.button.primary.small.ask-oracle", { type: "button", onclick: () => ask(reading) }, icon("send", 15), h("span", {}, t("askOracle")))
    : null;
  const card = h("section.reading-card", { dataset: { readingId: reading.id }, "aria-label": t("readingTitle") },
    h("header.reading-head", {},
      h("span.reading-seal", { "aria-hidden": "true" }, "卦"),
      h("div", {}, h("p.reading-question", {}, reading.question), h("small.muted", {}, `${dateTime(reading.createdAt)} · ${t(`methodLabel.${reading.method}`)}`))),
    drawings,
    h("p.reading-changing", {}, h("strong", {}, t("changingLinesLabel")), changing),
    texts,
    askButton ? h("div.reading-actions", {}, askButton) : null);
  if (moving) {
    card.classList.add("casting");
    // The words come once the lines are drawn (the animation lasts about a second).
    setTimeout(() => card.classList.remove("casting"), 1300);
  }
  return card;
}

/**
 * The journal of readings, in a dialog: newest first, searched, ten a page; each opens its
 * conversation (`openConversation(id)`) or is deleted after a confirmation. `deleted(id)` is told.
 */
export function journalDialog({ openConversation, deleted = () => {} }) {
  const state = { q: "", page: 1, total: 0, readings: [], loading: false, error: "" };
  let request = 0;
  const searchField = h("input", { type: "search", name: "q", placeholder: t("journalSearch"), "aria-label": t("journalSearch"), maxlength: 100 });
  const list = h("ul.journal-list", { "aria-label": t("journalTitle") });
  const status = h("p.journal-status.muted", { role: "status" });
  const pager = h("nav.journal-pager", { "aria-label": t("journalTitle") });
  const closeButton = h("button.icon-button.journal-close", { type: "button", "aria-label": t("close"), title: t("close"), onclick: () => close() }, icon("close", 18));
  const modal = h("dialog.modal.journal-dialog", { "aria-label": t("journalTitle"), dataset: { dialog: "journal" } },
    h("div.modal-body", {},
      h("div.journal-head", {}, h("h2", {}, t("journalTitle")), closeButton),
      h("form.journal-search", { role: "search", onsubmit: (event) => { event.preventDefault(); search(); } }, searchField,
        h("button.button.ghost.small", { type: "submit", "aria-label": t("journalSearch") }, icon("search", 16))),
      status, list, pager));
  let timer = 0;
  searchField.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 300);
  });
  modal.addEventListener("close", () => modal.remove());

  function search() {
    clearTimeout(timer);
    const q = searchField.value.trim();
    if (q === state.q && state.page === 1 && !state.error) return;
    state.q = q;
    load(1);
  }

  async function load(page) {
    const mine = ++request;
    state.loading = true;
    state.page = page;
    paint();
    try {
      const answer = await api.listReadings({ q: state.q || undefined, page, pageSize: JOURNAL_PAGE });
      if (mine !== request) return;
      Object.assign(state, { readings: answer.readings, total: answer.total, page: answer.page, error: "" });
      // A page emptied by a deletion: the one before it.
      if (!answer.readings.length && answer.page > 1) return load(answer.page - 1);
    } catch (error) {
      if (mine !== request || error.status === 401) return;
      state.error = errorText(error);
    }
    state.loading = false;
    paint();
  }

  function paint() {
    status.textContent = state.error || (state.loading ? "…" : !state.readings.length
      ? t(state.q ? "journalNoHits" : "journalEmpty")
      : t("journalCount", { n: state.total }));
    list.replaceChildren(...state.readings.map(entry));
    const pages = Math.max(1, Math.ceil(state.total / JOURNAL_PAGE));
    pager.hidden = pages <= 1;
    pager.replaceChildren(
      h("button.button.ghost.small", { type: "button", disabled: state.page <= 1 || state.loading, onclick: () => load(state.page - 1) }, icon("chevronLeft", 16), h("span", {}, t("previousPage"))),
      h("span.muted", {}, t("journalPageOf", { page: state.page, pages })),
      h("button.button.ghost.small", { type: "button", disabled: state.page >= pages || state.loading, onclick: () => load(state.page + 1) }, h("span", {}, t("nextPage")), icon("chevronRight", 16)));
  }

  function entry(reading) {
    const names = reading.relating ? `${hexagramName(reading.primary)} → ${hexagramName(reading.relating)}` : hexagramName(reading.primary);
    return h("li.journal-entry", { dataset: { readingId: reading.id } },
      h("span.journal-figure", { role: "img", "aria-label": reading.summary }, hexagramSvg(reading.lines, { size: 34 })),
      h("div.journal-text", {},
        h("p.journal-question", {}, reading.question),
        h("p.journal-names", {}, names),
        h("small.muted", {}, h("time", { datetime: reading.createdAt }, dateTime(reading.createdAt)))),
      h("div.journal-actions", {},
        reading.conversationId
          ? h("a.button.ghost.small.journal-open", {
            href: `#/chat/${encodeURIComponent(reading.conversationId)}`,
            onclick: (event) => { event.preventDefault(); close(); openConversation(reading.conversationId); },
          }, t("openConversation"))
          : null,
        h("button.button.ghost.small.journal-delete", { type: "button", "aria-label": `${t("deleteReading")}: ${reading.question}`, onclick: () => remove(reading) }, icon("trash", 15), h("span", {}, t("deleteReading")))));
  }

  async function remove(reading) {
    const yes = await dialog({
      title: t("deleteReadingTitle"), text: t("deleteReadingText", { question: reading.question }),
      confirm: t("deleteReading"), danger: true, deliberate: true, name: "delete-reading",
      action: async () => {
        try {
          await api.deleteReading(reading.id);
          return "";
        } catch (error) {
          return error.status === 404 ? "" : errorText(error);
        }
      },
    });
    if (!yes) return;
    toast(t("readingDeleted"));
    deleted(reading.id);
    await load(state.page);
    searchField.focus();
  }

  function close() {
    if (modal.open) modal.close();
  }

  document.body.append(modal);
  modal.showModal();
  searchField.focus();
  load(1);
  return { close };
}
