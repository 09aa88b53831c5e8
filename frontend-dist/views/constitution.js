// #/constitution: the constitution self-assessment (体质自评, issue 25), modelled on the structure
// and scoring of ZYYXH/T157-2009. Three parts, by address: #/constitution (what it is, Start or
// Continue, the history), #/constitution/new (the questionnaire) and #/constitution/<id> (a
// result: constitution-result.js). The questionnaire asks the sex first (it only chooses one
// question), then the sixty questions as radio groups, each named by its question, in one
// scroll with a progress count and "Next unanswered" kept in view. The answers are a draft kept
// outside the view (a language switch or a visit elsewhere keeps them) and in sessionStorage (a
// reload keeps them), until a result is made of them: a refused submission (the consent to
// health information, asked for then and there; a rate limit; the network) loses nothing.
import * as api from "../api.js";
import { cleanDraft, emptyDraft, numberList, numbers, progress, submission, unanswered } from "../constitution-data.js";
import { dialog, h, icon } from "../dom.js";
import { errorText, lang, t } from "../i18n.js";
import { consentDialog, consentNeeded, currentAbout, loadAbout } from "./trust.js";
import {
  deleteResult, forgetResults, historyList, inLang, knownAssessment, latestAssessment, loadQuestionnaire, rememberAssessment, resultCard,
  resultNotes, resultsChanged, talkToAdviser,
} from "./constitution-result.js";

const DRAFT_KEY = "constitution_draft";
let draft = null; // {owner, sex, answers}

/** The signed-in account's draft (from sessionStorage the first time). */
function currentDraft(app) {
  const owner = app.user?.id ?? "";
  if (draft?.owner === owner) return draft;
  let stored = null;
  try {
    const saved = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? "null");
    if (saved?.owner === owner) stored = saved;
  } catch {
    // nothing usable stored
  }
  draft = { owner, ...cleanDraft(stored) };
  return draft;
}

function saveDraft() {
  try {
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  } catch {
    // kept in memory only
  }
}

function clearDraft(app) {
  draft = { owner: app.user?.id ?? "", ...emptyDraft() };
  try {
    sessionStorage.removeItem(DRAFT_KEY);
  } catch {
    // nothing stored
  }
}

/**
 * The session ended: the results known go, and the answers with them (the next person at this
 * browser starts afresh), unless `keepDraft` (the server ended the session: the same account,
 * signed in again in this tab, finds its answers; another account never reads them).
 */
export function forgetConstitution({ keepDraft = false } = {}) {
  draft = null;
  forgetResults();
  if (keepDraft) return;
  try {
    sessionStorage.removeItem(DRAFT_KEY);
  } catch {
    // nothing stored
  }
}

/** A failure with its Retry, in place of a part that could not be read. */
function failure(error, again) {
  return h("div.panel-error.cs-error", { role: "alert" }, errorText(error), " ",
    h("button.button.ghost.small", { type: "button", onclick: again }, icon("retry", 14), t("retry")));
}

const loadingDots = () => h("div.loading", { role: "status" }, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot"), h("span.sr-only", {}, t("constitutionLoading")));

export function constitutionView(app) {
  const body = h("div.cs-body");
  const el = h("section.cs-page", {},
    h("header.cs-page-head", {},
      h("h1", {}, t("constitutionTitle")),
      h("p", {}, t("constitutionLead"))),
    body);
  let shown = null; // the part shown: "home", "new" or a result's id
  let generation = 0;

  /**
   * Shows a part. The keyboard's focus goes to its heading when the address changed while the
   * page was shown (the link that was followed is gone), or when `focus` says so.
   */
  function update({ id } = {}, { focus = shown !== null } = {}) {
    const part = id ?? "home";
    if (part === shown && part !== "home") return;
    shown = part;
    const mine = ++generation;
    const here = () => mine === generation;
    const done = () => {
      if (focus && here()) body.querySelector("h2[tabindex]")?.focus();
    };
    if (part === "home") home(here).then(done);
    else if (part === "new") questionnaire(here).then(done);
    else result(part, here).then(done);
  }

  /** Goes to `hash` without a new history entry, showing its part. */
  function goTo(hash, id) {
    history.replaceState(null, "", hash);
    update({ id }, { focus: true });
  }

  // ------------------------------------------------------------------------------ the start

  async function home(here) {
    const start = h("a.button.primary.cs-start", { href: "#/constitution/new" }, icon("leaf", 16), h("span", {}, t("constitutionStart")));
    const again = h("button.button.ghost.cs-start-over", { type: "button", hidden: true, onclick: startOver }, t("constitutionStartOver"));
    const history = historyList();
    body.replaceChildren(
      h("section.card.cs-intro", { "aria-labelledby": "cs-intro-title" },
        h("h2", { id: "cs-intro-title", tabindex: "-1" }, t("constitutionTitle")),
        h("p", {}, t("constitutionAbout")),
        h("div.panel-actions", {}, start, again),
        ...resultNotes()),
      h("section.card.cs-history-card", { "aria-labelledby": "cs-history-title" },
        h("h2", { id: "cs-history-title" }, t("csHistoryTitle")),
        h("p.section-lead", {}, t("csHistoryLead")),
        history.el));
    const answered = Object.keys(currentDraft(app).answers).length;
    if (!answered) return;
    again.hidden = false;
    // "Continue" once it is known how many of the questions that apply are answered.
    loadQuestionnaire().then((q) => {
      if (!here() || again.hidden) return;
      const { answered: n, total } = progress(q.items, currentDraft(app));
      start.lastChild.textContent = t("constitutionContinue", { n, total });
    }, () => {});

    async function startOver() {
      const yes = await dialog({
        title: t("constitutionStartOverTitle"), text: t("constitutionStartOverText"),
        confirm: t("constitutionStartOverConfirm"), danger: true, deliberate: true, name: "start-over",
      });
      if (!yes) return;
      clearDraft(app);
      again.hidden = true;
      start.lastChild.textContent = t("constitutionStart");
      start.focus();
    }
  }

  // ------------------------------------------------------------------------------ a result

  async function result(id, here) {
    body.replaceChildren(loadingDots());
    try {
      const [q, assessment] = await Promise.all([loadQuestionnaire(), knownAssessment(id) ?? api.getAssessment(id).then((r) => r.assessment)]);
      if (!here()) return;
      rememberAssessment(assessment);
      const newest = await latestAssessment();
      if (!here()) return;
      const actions = [
        h("button.button.primary.cs-talk", { type: "button", onclick: () => talkToAdviser(app) }, icon("send", 15), h("span", {}, t("csAskAdviser"))),
        h("a.button.ghost.cs-again", { href: "#/constitution/new" }, t("csTakeAgain")),
        h("button.button.danger-ghost.cs-delete-result", {
          type: "button",
          onclick: async () => {
            if (await deleteResult(assessment, { latestOne: newest?.id === assessment.id })) goTo("#/constitution");
          },
        }, icon("trash", 15), h("span", {}, t("csDelete"))),
      ];
      body.replaceChildren(
        h("nav.cs-crumbs", {}, h("a", { href: "#/constitution" }, "← ", t("csAllResults"))),
        resultCard(assessment, q, { actions }));
    } catch (error) {
      if (!here() || error.status === 401) return;
      body.replaceChildren(error.status === 404
        ? h("div.card.cs-missing", { role: "alert" }, h("p", {}, t("csNotFound")), h("a.button.ghost.small", { href: "#/constitution" }, t("csAllResults")))
        : failure(error, () => { shown = null; update({ id }); }));
    }
  }

  // ------------------------------------------------------------------------------ the questionnaire

  async function questionnaire(here) {
    body.replaceChildren(loadingDots());
    let q;
    try {
      q = await loadQuestionnaire();
    } catch (error) {
      if (here()) body.replaceChildren(failure(error, () => { shown = null; update({ id: "new" }); }));
      return;
    }
    if (!here()) return;
    body.replaceChildren(questionnaireForm(q));
  }

  function questionnaireForm(q) {
    const answers = currentDraft(app);
    const word = (pair) => pair?.[lang()] ?? pair?.en ?? "";
    const sexRadios = ["female", "male"].map((sex) => h("input", { type: "radio", name: "cs-sex", value: sex, checked: answers.sex === sex }));
    const sexSet = h("fieldset.cs-sex", { "aria-describedby": "cs-sex-help" },
      h("legend", {}, t("csSexLegend"), unansweredMark()),
      h("div.cs-sex-options", {}, sexRadios.map((radio) => h("label.choice", {}, radio, h("span", {}, t(radio.value === "female" ? "csFemale" : "csMale"))))),
      h("p.field-hint", { id: "cs-sex-help" }, t("csSexHelp")));
    const sets = new Map();
    const list = h("ol.cs-questions", { "aria-label": t("csQuestionsLabel") }, q.items.map((item) => {
      const number = h("span.cs-number");
      const set = h("fieldset.cs-question", { dataset: { item: item.id, sex: item.sex ?? "" } },
        h("legend", {}, number, h("span.cs-text", {}, word(item)), unansweredMark()),
        h("div.cs-options", {}, q.options.map((option) => h("label.cs-option", {},
          h("input", { type: "radio", name: `cs-${item.id}`, value: String(option.value), checked: answers.answers[item.id] === option.value }),
          h("span", {}, word(option))))));
      sets.set(item.id, { set, number });
      return h("li", { dataset: { item: item.id } }, set);
    }));
    const count = h("span.cs-count", { "aria-live": "polite" });
    const meter = h("span.cs-meter-fill");
    const problem = h("p.field-error.cs-problem", { role: "alert" });
    const submit = h("button.button.primary.cs-submit", { type: "submit" }, t("csSubmit"));
    const next = h("button.button.ghost.small.cs-next", { type: "button", onclick: toNext }, t("csNextUnanswered"));
    const consentNote = consentNeeded(app) ? consentLine() : null;
    const form = h("form.cs-form", { novalidate: true, onsubmit: send, "aria-labelledby": "cs-form-title" },
      h("div.card.cs-sheet", {},
        h("h2", { id: "cs-form-title", tabindex: "-1" }, t("constitutionTitle")),
        h("p.cs-recall", {}, inLang(q.recall)),
        h("p.cs-scale.muted", {}, q.options.map((option) => `${option.value} ${word(option)}`).join(" · ")),
        consentNote,
        sexSet,
        list),
      h("div.cs-bar", {},
        h("div.cs-progress", {}, count, h("span.cs-meter", { "aria-hidden": "true" }, meter)),
        problem,
        h("div.cs-bar-actions", {}, next, submit)),
      h("p.cs-disclaimer.muted", {}, t("csDisclaimer")));

    form.addEventListener("change", (event) => {
      const input = event.target;
      if (input.type !== "radio") return;
      if (input.name === "cs-sex") answers.sex = input.value;
      else answers.answers[input.name.slice(3)] = Number(input.value);
      input.closest("fieldset")?.classList.remove("missing");
      saveDraft();
      paint();
    });

    /** Shows the questions that apply, numbered, and the progress. */
    function paint() {
      const numbered = numbers(q.items, answers.sex);
      for (const item of q.items) {
        const { set, number } = sets.get(item.id);
        const applies = numbered.has(item.id);
        set.closest("li").hidden = !applies;
        number.textContent = applies ? `${numbered.get(item.id)}. ` : "";
        set.classList.toggle("answered", applies && Number.isInteger(answers.answers[item.id]));
      }
      const { answered, total } = progress(q.items, answers);
      count.textContent = answered === total ? t("csAllAnswered", { total }) : t("csProgress", { n: answered, total });
      meter.style.width = `${(answered / total) * 100}%`;
      next.hidden = answered === total && Boolean(answers.sex);
      if (!unanswered(q.items, answers).length) problem.textContent = "";
    }

    /** The first question left (the sex first), focused and scrolled into the middle. */
    function toNext() {
      const first = unanswered(q.items, answers)[0];
      if (!first) return submit.focus();
      const target = !answers.sex ? sexSet : sets.get(first.id)?.set;
      const radio = target?.querySelector("input:checked") ?? target?.querySelector("input");
      radio?.scrollIntoView({ block: "center" });
      radio?.focus({ preventScroll: true });
    }

    /** Says what is missing and goes to it; false when nothing is. */
    function missing() {
      const open = unanswered(q.items, answers);
      if (!open.length) return false;
      if (!answers.sex) {
        problem.textContent = t("csChooseSex");
        sexSet.classList.add("missing");
      } else {
        problem.textContent = t(open.length === 1 ? "csMissingOne" : "csMissing", { n: open.length, list: numberList(open, { separator: lang() === "zh" ? "、" : ", " }) });
        for (const entry of open) sets.get(entry.id)?.set.classList.add("missing");
      }
      toNext();
      return true;
    }

    let sending = false;
    async function send(event) {
      event?.preventDefault();
      if (sending || missing()) return;
      sending = true;
      submit.disabled = true;
      submit.textContent = t("csSubmitting");
      form.setAttribute("aria-busy", "true");
      problem.textContent = "";
      let again = false;
      try {
        const { assessment } = await api.submitAssessment(submission(q.items, answers));
        clearDraft(app);
        resultsChanged(assessment);
        goTo(`#/constitution/${encodeURIComponent(assessment.id)}`, assessment.id);
        return;
      } catch (error) {
        if (error.status === 401) return;
        if (error.code === "consent_required") {
          // The consent asked for here; given, the same answers go again.
          again = await consentDialog(app, { note: t("csConsentFor") });
          if (!again) problem.textContent = t("csConsentDeclined");
        } else {
          problem.textContent = `${errorText(error)} ${error.status === 422 ? "" : t("csKept")}`.trim();
        }
      } finally {
        sending = false;
        submit.disabled = false;
        submit.textContent = t("csSubmit");
        form.removeAttribute("aria-busy");
      }
      if (again) {
        form.querySelector(".cs-consent-note")?.remove();
        send();
      } else if (form.isConnected) submit.focus();
    }

    paint();
    return form;
  }

  return {
    el,
    title: () => t("constitutionTitle"),
    update,
    mounted() {
      // Shown again (back from elsewhere): the start and a result are read afresh, the
      // questionnaire stays as it was (where it was scrolled to).
      if (shown !== "new") shown = null;
      // Not known before whether the server asks for consent: the questionnaire says so once it is.
      if (currentAbout()) return;
      loadAbout().then(() => {
        if (shown === "new" && consentNeeded(app) && !body.querySelector(".cs-consent-note")) {
          body.querySelector(".cs-sex")?.before(consentLine());
        }
      });
    },
  };
}

/** " (unanswered)", said with a question's name once sending found it missing (styles show it then). */
function unansweredMark() {
  return h("span.cs-unanswered", {}, ` ${t("csUnanswered")}`);
}

function consentLine() {
  return h("p.field-hint.cs-consent-note", {}, icon("shield", 14), " ", t("csConsentNote"));
}
