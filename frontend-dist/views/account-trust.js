// The account page's parts of issue 24: a notice while an administrator restricts the account's
// chat, the terms the account accepted (and the current ones to accept, if they changed), the
// reports the account filed and what became of them, and the consent to the processing of
// health information (given when, withdraw, and deleting the TCM conversations, and, on request,
// the constitution self-assessments).
import * as api from "../api.js";
import { dialog, h, icon } from "../dom.js";
import { dateTime, errorText, t } from "../i18n.js";
import { pager } from "./admin-parts.js";
import { forgetConversations } from "./chat-store.js";
import { resultsDeleted } from "./constitution-result.js";
import { REPORT_REASONS } from "./report-dialog.js";
import {
  PRIVACY_PAGE, REPORTS_PAGE, TERMS_PAGE, applyAccount, consentDialog, currentAbout, docLink, termsDialog,
} from "./trust.js";

/** Whether `until` (RFC 3339) is still ahead. */
export function stillAhead(until) {
  const time = until ? Date.parse(until) : NaN;
  return Number.isFinite(time) && time > Date.now();
}

/** The notice at the top of the page while the account's chat is restricted; null otherwise. */
export function restrictionNotice(account) {
  if (!stillAhead(account.restrictedUntil)) return null;
  return h("div.account-notice.restricted", { role: "alert" },
    icon("shield", 18),
    h("p", {}, t("restrictedNotice", { date: dateTime(account.restrictedUntil) })));
}

/**
 * "Also delete all my constitution self-assessments": a checkbox for the withdrawal's dialogs
 * (unticked), `{el, checked()}`.
 */
function alsoAssessments(name) {
  const box = h("input", { type: "checkbox", name: "deleteAssessments" });
  return { el: h("label.choice.also-assessments", { dataset: { for: name } }, box, h("span", {}, t("csWithdrawAlso"))), checked: () => box.checked };
}

/** The words for what a withdrawal deleted of the self-assessments ("" for nothing). */
function assessmentsDeleted(answer) {
  const n = answer?.deletedAssessments ?? 0;
  if (n) resultsDeleted();
  return n ? ` ${n === 1 ? t("csDeletedAssessmentsOne") : t("csDeletedAssessments", { n })}` : "";
}

/** A live line under a button: `say(text, kind)` fills it ("error" in red). */
function resultLine(classes = "") {
  const el = h(`p.panel-result${classes}`, { role: "status" });
  return {
    el,
    say(text, kind = "info") {
      el.textContent = text || "";
      el.classList.toggle("error", kind === "error");
    },
  };
}

/**
 * The profile's "Terms accepted" line (null when the server has no terms and the account never
 * accepted any): the version, the documents, and a button when the current version is not yet
 * accepted. `changed()` runs once it is.
 */
export function termsFact(app, account, changed) {
  const current = currentAbout()?.termsVersion ?? null;
  const accepted = account.acceptedTerms ?? null;
  if (!current && !accepted) return null;
  const outdated = Boolean(current && accepted !== current);
  return h("div.terms-fact", {},
    h("dt", {}, t("termsAcceptedLabel")),
    h("dd", {},
      accepted
        ? h(`span.status-pill.${outdated ? "banned" : "active"}.terms-state`, { dataset: { version: accepted } }, t("termsAcceptedVersion", { version: accepted }))
        : h("span.status-pill.banned.terms-state", {}, t("termsNotAccepted")),
      outdated ? h("span.muted", {}, t("termsCurrentVersion", { version: current })) : null,
      outdated
        ? h("button.button.primary.small.accept-terms", {
          type: "button",
          onclick: async () => {
            if (await termsDialog(app, current)) changed();
          },
        }, t("termsAccept"))
        : null,
      h("span.doc-links", {}, docLink(TERMS_PAGE, t("termsOfService")), " · ", docLink(PRIVACY_PAGE, t("privacyPolicy")))));
}

// ------------------------------------------------------------------------------ the reports

const STATUS_CLASS = { open: "pending", actioned: "active", dismissed: "neutral" };
const REPORTS_PAGE_SIZE = 10;

/** What became of a decided report, line by line, as its reporter reads it. */
export function outcomeLines(report, { admin = false } = {}) {
  const lines = [];
  if (report.replyHidden) lines.push(h("li.outcome-hidden", {}, t(admin ? "outcomeHiddenAdmin" : "outcomeHidden")));
  if (report.userAction === "warn") {
    lines.push(h("li.outcome-warn", {}, h("strong", {}, t(admin ? "outcomeWarnAdmin" : "outcomeWarn")), " ", report.note ?? ""));
  } else if (report.userAction === "restrict") {
    lines.push(h("li.outcome-restrict", {}, report.restrictedUntil
      ? t(admin ? "outcomeRestrictAdmin" : "outcomeRestrict", { date: dateTime(report.restrictedUntil) })
      : t("outcomeRestrictNoDate")));
  } else if (report.userAction === "ban") {
    lines.push(h("li.outcome-ban", {}, t(admin ? "outcomeBanAdmin" : "outcomeBan")));
  }
  if (report.note && report.userAction !== "warn") {
    lines.push(h("li.outcome-note", {}, h("strong", {}, t("outcomeNote")), " ", report.note));
  }
  if (!lines.length) lines.push(h("li.outcome-none", {}, t(report.status === "dismissed" ? "outcomeDismissed" : "outcomeNothing")));
  return lines;
}

function ownReport(report) {
  const open = report.status === "open";
  const reason = REPORT_REASONS.includes(report.reason) ? t(`reportReasons.${report.reason}`) : report.reason;
  return h("li.own-report", { dataset: { id: report.id, status: report.status } },
    h("div.report-head", {},
      h(`span.status-pill.${STATUS_CLASS[report.status] ?? "neutral"}.report-status`, {}, t(`reportStatus.${report.status}`)),
      h("span.badge.report-reason-badge", {}, reason),
      h("span.muted", {}, t(report.assistant === "tcm" ? "tcm" : "oracle")),
      h("span.muted.report-filed", {}, t("reportFiledOn", { date: dateTime(report.createdAt) }))),
    h("blockquote.report-excerpt", {}, report.excerpt || t("reportNoExcerpt")),
    report.comment ? h("p.report-comment-text", {}, h("strong", {}, t("reportYourComment")), " ", report.comment) : null,
    open
      ? h("p.report-due", {}, t("reportDueBy", { date: dateTime(report.dueAt) }))
      : h("div.report-outcome", {},
        h("p.report-decided", {}, t("reportDecidedOn", { date: dateTime(report.decidedAt) })),
        h("ul.outcome-list", {}, outcomeLines(report))),
    report.conversationId
      ? h("a.report-open", { href: `#/chat/${encodeURIComponent(report.conversationId)}` }, t("reportOpenConversation"))
      : null);
}

/** "Your reports": `{el}`, read when made, a page at a time (the pager of the admin lists). */
export function reportsSection() {
  const list = h("div.own-reports", { "aria-busy": "true" },
    h("div.loading", { role: "status" }, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot")));

  async function load(page = 1) {
    list.setAttribute("aria-busy", "true");
    try {
      const result = await api.listMyReports({ page, pageSize: REPORTS_PAGE_SIZE });
      list.replaceChildren(
        result.reports.length
          ? h("ul.own-report-list", {}, result.reports.map(ownReport))
          : h("p.table-empty.no-reports", {}, t("noReports")),
        pager(result.page ?? page, result.pageSize ?? REPORTS_PAGE_SIZE, result.total ?? result.reports.length, load) ?? "");
    } catch (error) {
      if (error.status === 401) return;
      list.replaceChildren(h("p.panel-error", { role: "alert" }, errorText(error), " ",
        h("button.link", { type: "button", onclick: () => load(page) }, t("retry"))));
    } finally {
      list.removeAttribute("aria-busy");
    }
  }
  load();
  const days = currentAbout()?.reportResponseDays;
  return {
    el: h("div.reports-body", {},
      h("p.section-lead", {}, days ? t("yourReportsLeadDays", { n: days }) : t("yourReportsLead"), " ", docLink(REPORTS_PAGE, t("howReportsWork"))),
      list),
  };
}

// ------------------------------------------------------------------ health information

/**
 * "Health information": `{el}` (null when the server does not ask for consent and the account
 * never gave it). The state, Give (a dialog that says what it means), Withdraw (a dialog that
 * says the TCM adviser stops), and, while there is no consent, deleting the TCM conversations.
 */
export function healthSection(app, account) {
  const required = currentAbout()?.healthConsent === "required";
  if (!required && !account.healthConsentAt) return null;
  const el = h("div.health-body");
  const result = resultLine(".health-result");
  let given = account.healthConsentAt ?? null;

  function paint() {
    const state = given
      ? h("span.status-pill.active.consent-state", { dataset: { consent: "given" } }, t("consentGivenOn", { date: dateTime(given) }))
      : h("span.status-pill.banned.consent-state", { dataset: { consent: "none" } }, t("consentNotGiven"));
    const actions = [];
    if (!given && required) {
      actions.push(h("button.button.primary.give-consent", { type: "button", onclick: give }, t("consentGive")));
    }
    if (given) {
      actions.push(h("button.button.danger-ghost.withdraw-consent", { type: "button", onclick: withdraw }, t("consentWithdrawButton")));
    } else {
      actions.push(h("button.button.danger-ghost.delete-tcm", { type: "button", onclick: deleteTcm }, icon("trash", 15), h("span", {}, t("deleteTcmButton"))));
    }
    el.replaceChildren(
      h("p.section-lead", {}, t(required ? "healthLead" : "healthLeadOff"), " ", docLink(PRIVACY_PAGE, t("privacyPolicy"))),
      h("dl.facts", {}, h("div", {}, h("dt", {}, t("consentLabel")), h("dd", {}, state))),
      given ? "" : h("p.field-hint", {}, t(required ? "consentMissingHint" : "consentOffHint")),
      h("div.panel-actions", {}, ...actions, result.el));
  }

  async function give() {
    result.say("");
    if (await consentDialog(app)) {
      given = app.user?.healthConsentAt ?? new Date().toISOString();
      paint();
      result.say(t("consentGiven"));
    }
  }

  async function withdraw() {
    result.say("");
    const also = alsoAssessments("withdraw");
    let deleted = "";
    const done = await dialog({
      title: t("withdrawTitle"),
      deliberate: true,
      text: h("div", {},
        h("p", {}, t(required ? "withdrawText" : "withdrawTextOff")),
        h("p", {}, t("withdrawKeeps")),
        also.el),
      confirm: t("consentWithdrawButton"),
      danger: true,
      name: "withdraw-consent",
      action: async () => {
        try {
          const answer = await api.withdrawHealthConsent({ deleteConversations: false, deleteAssessments: also.checked() });
          applyAccount(app, answer.account);
          deleted = assessmentsDeleted(answer);
          return "";
        } catch (error) {
          return errorText(error);
        }
      },
    });
    if (done === null) return;
    given = null;
    paint();
    result.say(t("consentWithdrawn") + deleted);
    el.querySelector("button.delete-tcm")?.focus();
  }

  async function deleteTcm() {
    result.say("");
    let deleted = 0;
    let assessments = "";
    const also = alsoAssessments("delete-tcm");
    const done = await dialog({
      title: t("deleteTcmTitle"),
      deliberate: true,
      text: h("div", {}, h("p", {}, t("deleteTcmText")), also.el, h("p.warning", {}, h("strong", {}, t("deleteCannotUndo")))),
      confirm: t("deleteTcmConfirm"),
      danger: true,
      name: "delete-tcm",
      action: async () => {
        try {
          const answer = await api.withdrawHealthConsent({ deleteConversations: true, deleteAssessments: also.checked() });
          applyAccount(app, answer.account);
          deleted = answer.deletedConversations ?? 0;
          assessments = assessmentsDeleted(answer);
          return "";
        } catch (error) {
          return errorText(error);
        }
      },
    });
    if (done === null) return;
    forgetConversations("tcm");
    app.forgetChat?.();
    given = null;
    paint();
    result.say((deleted === 0 ? t("deletedTcmNone") : deleted === 1 ? t("deletedTcmOne") : t("deletedTcm", { n: deleted })) + assessments);
  }

  paint();
  return { el };
}
