// #/admin/reports: the queue of reported replies (issue 24). Open reports come by deadline,
// oldest first, with how many are open and how many overdue; decided ones by decision time. Each
// report shows who filed it, about which assistant, why, when, the deadline (overdue marked), the
// messages before the reply, and the reply as it was written with its state now (shown, hidden,
// blocked). An open report has the decision form: actioned or dismissed, hide the reply, a
// measure against the account (warn, restrict for some days, ban) and a note for the reporter
// (for a warning: the warning itself). Another administrator deciding first (409
// already_decided) is said, and the queue read again.
import * as api from "../api.js";
import { dialog, h, toast } from "../dom.js";
import { dateTime, errorText, relativeTime, t } from "../i18n.js";
import { outcomeLines } from "./account-trust.js";
import { failed, loading, pager } from "./admin-parts.js";
import { REPORT_REASONS } from "./report-dialog.js";

const STATUSES = ["open", "actioned", "dismissed"];
const USER_ACTIONS = ["none", "warn", "restrict", "ban"];
const PAGE_SIZE = 20;
export const MAX_NOTE = 1000;

// The filter and page survive a language switch or a visit to the chat.
const memory = { status: "open", page: 1 };
let forms = 0;

/** The panel of the reports tab. `app`: for who is signed in. */
export function reportsPanel(app) {
  const state = memory;
  const status = h("select", { name: "status", "aria-label": t("reportStatusFilter") },
    STATUSES.map((value) => h("option", { value, selected: state.status === value }, t(`reportStatusFilterNames.${value}`))));
  const counts = h("div.report-counts", { role: "status", "aria-live": "polite" });
  const message = h("p.panel-result.reports-message", { role: "status" });
  const body = h("div.panel-body.report-queue");

  async function load(page = state.page) {
    state.page = page;
    loading(body);
    try {
      const result = await api.listReports({ status: state.status, page, pageSize: PAGE_SIZE });
      counts.replaceChildren(
        h("span.count-pill.count-open", { dataset: { n: result.open } }, t("reportsOpenCount", { n: result.open })),
        h(`span.count-pill.count-overdue${result.overdue > 0 ? ".late" : ""}`, { dataset: { n: result.overdue } }, t("reportsOverdueCount", { n: result.overdue })));
      body.replaceChildren(
        result.reports.length
          ? h("ol.admin-report-list", {}, result.reports.map((report) => h("li", {}, reportCard(app, report, { reload: () => load(state.page), say }))))
          : h("p.table-empty.no-reports", {}, t(`noReportsStatus.${state.status}`)),
        pager(result.page, result.pageSize, result.total, load) ?? "");
    } catch (error) {
      failed(body, error, () => load(page));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  function say(text, kind = "info") {
    message.textContent = text || "";
    message.classList.toggle("error", kind === "error");
  }

  status.addEventListener("change", () => {
    state.status = status.value;
    say("");
    load(1);
  });
  load();
  return h("div.panel.reports-panel", {},
    h("div.filters.report-filters", {}, h("label.field.inline-field", {}, h("span", {}, t("reportStatusFilter")), status), counts),
    message,
    body);
}

/** One message of the context or the reply itself: plain text, never parsed as markup. */
function quoted(role, content, classes = "") {
  return h(`div.context-message${classes}`, { dataset: { role } },
    h("span.context-role", {}, t(role === "user" ? "contextUser" : role === "assistant" ? "contextAssistant" : "contextOther")),
    h("div.context-text", {}, content));
}

const WITHHELD = { hidden: "replyStateHidden", blocked: "replyStateBlocked" };

function reportCard(app, report, { reload, say }) {
  const open = report.status === "open";
  const reason = REPORT_REASONS.includes(report.reason) ? t(`reportReasons.${report.reason}`) : report.reason;
  const withheld = report.replyWithheld ?? null;
  return h(`article.admin-report${report.overdue ? ".overdue" : ""}`, { dataset: { id: report.id, status: report.status } },
    h("header.admin-report-head", {},
      h("span.email.reporter", {}, report.reporterEmail ?? t("reporterGone")),
      h(`span.badge.assistant-${report.assistant}`, {}, t(report.assistant === "tcm" ? "tcm" : "oracle")),
      h("span.badge.report-reason-badge", { dataset: { reason: report.reason } }, reason)),
    h("dl.report-facts", {},
      h("div", {}, h("dt", {}, t("reportFiledAt")),
        h("dd", {}, h("time", { datetime: report.createdAt, title: dateTime(report.createdAt) }, relativeTime(report.createdAt)))),
      h("div", {}, h("dt", {}, t("reportDeadline")),
        h("dd", {}, h("time", { datetime: report.dueAt }, dateTime(report.dueAt)),
          report.overdue ? h("span.overdue-flag", {}, t("reportOverdue")) : null))),
    h("p.report-comment-text", {}, h("strong", {}, t("reportComment")), " ", report.comment || h("span.muted", {}, t("reportNoComment"))),
    h("section.report-context", { "aria-label": t("reportContext") },
      report.context?.length ? report.context.map((m) => quoted(m.role, m.content)) : null,
      h("div.reported-reply-head", {},
        h("span.context-role", {}, t("reportedReply")),
        h(`span.status-pill.${withheld ? "banned" : "active"}.reply-state`, { dataset: { withheld: withheld ?? "none" } }, t(report.messageId ? (WITHHELD[withheld] ?? "replyStateShown") : "replyStateDeleted"))),
      h("div.context-text.reported-reply", {}, report.reply)),
    open ? decisionForm(app, report, { reload, say }) : decided(report));
}

function decided(report) {
  return h("div.report-decision", {},
    h("p", {}, h("strong", {}, t(`reportStatus.${report.status}`)), " · ",
      report.decidedAt ? t("decidedBy", { date: dateTime(report.decidedAt), email: report.decidedByEmail ?? "—" }) : ""),
    h("ul.outcome-list", {}, outcomeLines(report, { admin: true })));
}

function decisionForm(app, report, { reload, say }) {
  const id = `decision-${++forms}`;
  const outcome = (value) => h("input", { type: "radio", name: `${id}-outcome`, value });
  const actioned = outcome("actioned");
  const dismissed = outcome("dismissed");
  const hide = h("input", { type: "checkbox", name: "hideReply" });
  const action = h("select", { id: `${id}-action`, name: "userAction" },
    USER_ACTIONS.map((value) => h("option", { value }, t(`userActions.${value}`))));
  const days = h("input", { type: "number", id: `${id}-days`, name: "restrictDays", min: 1, max: 365, step: 1, value: 7, inputmode: "numeric" });
  const daysField = h("div.field.days-field", { hidden: true }, h("label", { for: days.id }, t("restrictDays")), days);
  const note = h("textarea.decision-note", { id: `${id}-note`, name: "note", rows: 3, maxlength: MAX_NOTE, placeholder: t("decisionNotePlaceholder") });
  const counter = h("span.counter");
  const problem = h("p.field-error", { role: "alert" });
  const submit = h("button.button.primary.decide", { type: "submit" }, t("decisionSubmit"));

  const update = () => {
    const dismissing = dismissed.checked;
    hide.disabled = dismissing;
    action.disabled = dismissing;
    if (dismissing) {
      hide.checked = false;
      action.value = "none";
    }
    daysField.hidden = action.value !== "restrict";
    const left = MAX_NOTE - [...note.value].length;
    counter.textContent = left < 200 ? t("charsLeft", { n: Math.max(left, 0) }) : "";
  };
  [actioned, dismissed, hide, action, note].forEach((input) => input.addEventListener(input === note ? "input" : "change", update));

  /** What is wrong with the decision, in words (the server's 422 invalid_decision rules), or "". */
  function problemWith(decision) {
    if (!decision.outcome) return t("decisionChooseOutcome");
    if (decision.outcome === "actioned" && !decision.hideReply && decision.userAction === "none") return t("decisionNothing");
    if (decision.userAction === "warn" && !decision.note) return t("decisionWarnNeedsNote");
    if (decision.userAction === "restrict" && !(decision.restrictDays >= 1 && decision.restrictDays <= 365)) return t("decisionDays");
    if ([...(decision.note ?? "")].length > MAX_NOTE) return t("decisionNoteTooLong");
    return "";
  }

  const form = h("form.decision-form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      problem.textContent = "";
      const chosen = actioned.checked ? "actioned" : dismissed.checked ? "dismissed" : null;
      const text = note.value.trim();
      const decision = {
        outcome: chosen,
        hideReply: chosen === "actioned" && hide.checked,
        userAction: chosen === "actioned" ? action.value : "none",
        ...(chosen === "actioned" && action.value === "restrict" ? { restrictDays: Number(days.value) } : {}),
        ...(text ? { note: text } : {}),
      };
      const invalid = problemWith(decision);
      if (invalid) {
        problem.textContent = invalid;
        return;
      }
      if (decision.userAction === "ban") {
        const sure = await dialog({
          title: t("banTitle", { email: report.reporterEmail ?? "" }),
          deliberate: true,
          text: t("decisionBanText"),
          confirm: t("ban"),
          danger: true,
          name: "decision-ban",
        });
        if (!sure) return;
      }
      submit.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        await api.decideReport(report.id, decision);
        toast(t("decisionSaved"));
        say(t("decisionSavedFor", { email: report.reporterEmail ?? "—" }));
        reload();
      } catch (error) {
        if (error.status === 401) return;
        if (error.code === "already_decided") {
          // Someone else was quicker: say so, and show the queue as it now is.
          say(t("errors.already_decided"), "error");
          toast(t("errors.already_decided"), "error");
          reload();
          return;
        }
        problem.textContent = errorText(error);
      } finally {
        submit.disabled = false;
        form.removeAttribute("aria-busy");
      }
    },
  },
    h("fieldset.decision-outcome", {},
      h("legend", {}, t("decisionOutcome")),
      h("label.choice.outcome-actioned", {}, actioned, h("span", {}, t("outcomeActioned"))),
      h("label.choice.outcome-dismissed", {}, dismissed, h("span", {}, t("outcomeDismissedChoice")))),
    h("label.check.hide-reply", {}, hide, h("span", {}, t("decisionHideReply"))),
    h("div.decision-row", {},
      h("div.field", {}, h("label", { for: action.id }, t("decisionUserAction", { email: report.reporterEmail ?? "—" })), action),
      daysField),
    h("div.field", {},
      h("label", { for: note.id }, t("decisionNote")),
      note,
      h("p.field-hint", {}, t("decisionNoteHint"), " ", counter)),
    problem,
    h("div.decision-actions", {}, submit));
  update();
  return form;
}
