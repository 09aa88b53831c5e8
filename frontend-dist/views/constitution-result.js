// The constitution self-assessment's results (issue 25): what the page (constitution.js), the
// TCM chat's header and the account page share. The questionnaire (read once per page: its types'
// names and descriptions name the results), the latest result (the TCM adviser reads it: the
// chat's header names it), a result's card (the chart of constitution-chart.js with its text
// alternative, the summary, each type's verdict and description, the note that the TCM adviser
// sees it, the disclaimer), and the history (newest first, pages, open, delete after a deliberate
// confirmation).
import * as api from "../api.js";
import { chartSvg } from "../constitution-chart.js";
import { chartAlt, formatScore, splitScores, typeName, verdictKey } from "../constitution-data.js";
import { CONSTITUTION_STRINGS } from "../i18n-constitution.js";
import { dialog, h, icon, toast } from "../dom.js";
import { dateTime, errorText, lang, t } from "../i18n.js";
import { pager } from "./admin-parts.js";
import { rememberKind, store } from "./chat-store.js";
import { consentDialog, consentNeeded, currentAbout, loadAbout } from "./trust.js";

let questionnaire = null; // the promise of GET /api/constitution/questionnaire
let latest = null; // the promise of the newest result (or null)
const seen = new Map(); // results read or sent this session, by id
const listeners = new Set(); // the histories shown, read again when the results change

/** The questionnaire, read once (again after a failure). Rejects with the ApiError. */
export function loadQuestionnaire() {
  questionnaire ??= api.getQuestionnaire().catch((error) => {
    questionnaire = null;
    throw error;
  });
  return questionnaire;
}

/** The newest result of the account, or null (none, or it could not be read). */
export function latestAssessment() {
  latest ??= api.listAssessments({ page: 1, pageSize: 1 })
    .then((page) => page.assessments?.[0] ?? null)
    .catch(() => null);
  return latest;
}

/** A result was sent or deleted: the newest is read again when next needed, the histories now. */
export function resultsChanged(assessment = null) {
  latest = null;
  if (assessment) seen.set(assessment.id, assessment);
  listeners.forEach((listener) => listener());
}

/** Every result was deleted (withdrawing the consent may do it). */
export function resultsDeleted() {
  seen.clear();
  resultsChanged();
}

/** Keeps a result read, for the next time it is opened this session. */
export function rememberAssessment(assessment) {
  seen.set(assessment.id, assessment);
}

/** A result known this session (sent, opened or listed), or undefined. */
export function knownAssessment(id) {
  return seen.get(id);
}

/** Forgets the results this session knew (logout). */
export function forgetResults() {
  latest = null;
  seen.clear();
}

/** The text of `pair` ({zh, en}) in the reader's language. */
export const inLang = (pair) => (pair ? (pair[lang()] ?? pair.en ?? "") : "");

/** A type's name in the reader's language. */
export const nameOf = (q, key) => typeName(q?.types ?? [], key, lang());

/** The verdict's pill. */
function verdictPill(score) {
  return h(`span.cs-verdict.tone-${score.verdict === "yes" ? "fit" : score.verdict === "no" ? "none" : score.verdict}`,
    { title: t(`csVerdictLong.${verdictKey(score.type, score.verdict)}`) }, t(`csVerdict.${score.verdict}`));
}

/** One type in the list under the chart: name, score, verdict, and what the type is like. */
function typeEntry(q, score) {
  const about = q?.types.find((type) => type.key === score.type)?.about;
  return h("li.cs-type", { dataset: { type: score.type, verdict: score.verdict } },
    h("div.cs-type-head", {},
      h("strong.cs-type-name", {}, nameOf(q, score.type)),
      h("span.cs-type-score", {}, t("csScore", { score: formatScore(score.score) })),
      verdictPill(score)),
    about ? h("p.cs-type-about", {}, inLang(about)) : null);
}

/** The adviser note and the disclaimer, as every result shows them. */
export function resultNotes() {
  return [
    h("p.cs-adviser-note", {}, icon("leaf", 16), h("span", {}, t("csAdviserNote"))),
    h("p.cs-disclaimer", {}, t("csDisclaimer")),
  ];
}

/**
 * A result's card. `actions`: nodes for its foot (the page gives Talk to the adviser, Take it
 * again, Delete).
 */
export function resultCard(assessment, q, { actions = [] } = {}) {
  const altId = `cs-alt-${assessment.id}`;
  const language = lang();
  const scores = assessment.scores ?? [];
  const { fits, others } = splitScores(scores);
  const alt = chartAlt(scores, q?.types ?? [], CONSTITUTION_STRINGS[language], language);
  return h("article.card.cs-result", { dataset: { id: assessment.id }, "aria-labelledby": `cs-result-title-${assessment.id}` },
    h("header.cs-result-head", {},
      h("span.seal.tcm", { "aria-hidden": "true" }, "体"),
      h("div", {},
        h("h2.cs-result-title", { id: `cs-result-title-${assessment.id}`, tabindex: "-1" }, t("csResultTitle")),
        h("p.cs-result-date.muted", {}, h("time", { datetime: assessment.createdAt }, t("csResultOn", { date: dateTime(assessment.createdAt) }))))),
    h("p.cs-summary", {}, inLang(assessment.summary)),
    h("figure.cs-figure", {},
      chartSvg(scores, { name: (key) => nameOf(q, key), label: t("csChartLabel"), describedBy: altId }),
      h("p.sr-only.cs-alt", { id: altId }, alt),
      h("figcaption.cs-thresholds.muted", {}, t("csThresholds"))),
    fits.length ? h("section.cs-types.fits", { "aria-label": t("csYourTypes") },
      h("h3", {}, t("csYourTypes")),
      h("ul.cs-type-list", {}, fits.map((score) => typeEntry(q, score)))) : null,
    others.length ? h("details.cs-types.others", {},
      h("summary", {}, t("csOtherTypes")),
      h("ul.cs-type-list", {}, others.map((score) => typeEntry(q, score)))) : null,
    h("p.cs-rules.muted", {}, t("csRules")),
    ...resultNotes(),
    actions.length ? h("div.cs-result-actions", {}, actions) : null);
}

/**
 * Deletes `assessment` after a deliberate confirmation; resolves to whether it was. `latestOne`:
 * it is the newest (the confirmation says what that means for the adviser).
 */
export async function deleteResult(assessment, { latestOne = false } = {}) {
  const date = dateTime(assessment.createdAt);
  const done = await dialog({
    title: t("csDeleteTitle"),
    text: h("div", {},
      h("p", {}, t("csDeleteText", { date, summary: inLang(assessment.summary) })),
      latestOne ? h("p", {}, t("csDeleteLatest")) : null),
    confirm: t("csDelete"), danger: true, deliberate: true, name: "delete-assessment",
    action: async () => {
      try {
        await api.deleteAssessment(assessment.id);
        return "";
      } catch (error) {
        return error.status === 404 ? "" : errorText(error);
      }
    },
  });
  if (!done) return false;
  seen.delete(assessment.id);
  resultsChanged();
  toast(t("csDeleted"));
  return true;
}

/**
 * The history: `{el, reload}`, newest first, `pageSize` a page, each result with its date and
 * summary, Open (#/constitution/<id>) and Delete. `changed()` is told after a deletion.
 */
export function historyList({ pageSize = 10, changed = () => {} } = {}) {
  const state = { page: 1, total: 0, items: [], error: null, loading: true };
  const status = h("p.cs-history-status.muted", { role: "status" });
  const list = h("ul.cs-history-list", { "aria-label": t("csHistoryTitle") });
  const foot = h("div.cs-history-foot");
  const el = h("div.cs-history", { "aria-busy": "true" }, status, list, foot);
  let request = 0;
  let deleting = false;
  const listener = () => {
    if (!el.isConnected) listeners.delete(listener);
    else if (!deleting) load();
  };
  listeners.add(listener);

  async function load(page = state.page) {
    const mine = ++request;
    state.loading = true;
    el.setAttribute("aria-busy", "true");
    try {
      const answer = await api.listAssessments({ page, pageSize });
      if (mine !== request) return;
      // A page emptied by a deletion: the one before it.
      if (!answer.assessments.length && answer.page > 1) return load(answer.page - 1);
      Object.assign(state, { page: answer.page, total: answer.total, items: answer.assessments, error: null });
      for (const assessment of answer.assessments) seen.set(assessment.id, assessment);
    } catch (error) {
      if (mine !== request || error.status === 401) return;
      state.error = error;
    }
    state.loading = false;
    el.removeAttribute("aria-busy");
    paint();
  }

  function paint() {
    status.replaceChildren(state.error
      ? h("span.field-error", {}, errorText(state.error), " ", h("button.link", { type: "button", onclick: () => load() }, t("retry")))
      : state.items.length ? t("csHistoryCount", { n: state.total }) : t("csHistoryEmpty"));
    list.replaceChildren(...state.items.map(entry));
    foot.replaceChildren(pager(state.page, pageSize, state.total, load) ?? "");
  }

  function entry(assessment, index) {
    const date = dateTime(assessment.createdAt);
    const latestOne = state.page === 1 && index === 0;
    return h("li.cs-history-entry", { dataset: { id: assessment.id } },
      h("div.cs-history-text", {},
        h("p.cs-history-summary", {}, inLang(assessment.summary)),
        h("small.muted", {}, h("time", { datetime: assessment.createdAt }, date))),
      h("div.cs-history-actions", {},
        h("a.button.ghost.small.cs-open", { href: `#/constitution/${encodeURIComponent(assessment.id)}`, "aria-label": `${t("csOpen")}: ${date}` }, t("csOpen")),
        h("button.button.danger-ghost.small.cs-delete", {
          type: "button", "aria-label": `${t("csDelete")}: ${date}`,
          onclick: async () => {
            deleting = true;
            const gone = await deleteResult(assessment, { latestOne });
            deleting = false;
            if (!gone) return;
            changed(assessment.id);
            await load();
            (list.querySelector("button.cs-delete") ?? status).focus?.();
          },
        }, icon("trash", 14), h("span", {}, t("csDelete")))));
  }

  load(1);
  return { el, reload: () => load() };
}

/**
 * Opens the TCM adviser's chat (asking for the consent it needs first): a new conversation
 * unless one with the adviser is open, or a reply is streaming (then the chat as it is).
 */
export async function talkToAdviser(app) {
  if (!currentAbout()) await loadAbout();
  if (consentNeeded(app) && !(await consentDialog(app))) return;
  const open = store.conversationId;
  if (store.kind === "tcm" || store.streaming) {
    location.hash = open ? `#/chat/${encodeURIComponent(open)}` : "#/chat";
    return;
  }
  rememberKind("tcm");
  app.forgetChat?.(); // rebuilt for the adviser; the route starts a new conversation
  location.hash = "#/chat";
}

const entries = new WeakMap(); // slot → the latest result's promise it shows

/**
 * The TCM chat header's way in, into `slot` (again only when the latest result may have
 * changed): "Constitution self-assessment", or, once the account has a result, "Your
 * constitution: <summary>" opening it.
 */
export function showConstitutionEntry(slot) {
  const pending = latestAssessment();
  if (entries.get(slot) === pending && slot.firstChild) return;
  entries.set(slot, pending);
  const label = h("span", {}, t("constitutionEntry"));
  const link = h("a.constitution-link", { href: "#/constitution", id: "constitution-link" }, icon("leaf", 14), label);
  slot.replaceChildren(link);
  pending.then((assessment) => {
    if (!assessment || entries.get(slot) !== pending) return;
    label.textContent = t("constitutionLatest", { summary: inLang(assessment.summary) });
    link.href = `#/constitution/${encodeURIComponent(assessment.id)}`;
    link.dataset.latest = assessment.id;
  });
}

/** The account page's part: the history (five a page) and the way to the self-assessment. */
export function accountConstitution() {
  const history = historyList({ pageSize: 5 });
  return {
    el: h("div.cs-account", {},
      h("p.section-lead", {}, t("csAccountLead")),
      history.el,
      h("div.panel-actions", {},
        h("a.button.primary.small.cs-account-open", { href: "#/constitution" }, icon("leaf", 15), h("span", {}, t("csAccountOpen"))))),
  };
}
