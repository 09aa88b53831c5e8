// Reporting a reply the model wrote (issue 24): a small dialog with the reason (illegal, harmful,
// wrong, privacy, other), an optional comment (at most 1000 characters, counted), and a link to
// the page that says how reports are handled. Filed (201), or filed before (409
// already_reported), the reply says "Reported"; the reporter follows it on the account page.
import * as api from "../api.js";
import { dialog, h, toast } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { REPORTS_PAGE, docLink, loadAbout } from "./trust.js";

export const REPORT_REASONS = ["illegal", "harmful", "wrong", "privacy", "other"];
export const MAX_REPORT_COMMENT = 1000;
let forms = 0;

/** Asks for the report on the reply `messageId` and files it; resolves to true once it is on file. */
export async function reportDialog(conversationId, messageId) {
  const id = `report-${++forms}`;
  const radios = REPORT_REASONS.map((reason) => h("input", { type: "radio", name: `${id}-reason`, value: reason }));
  const reasons = h("fieldset.report-reasons", {},
    h("legend", {}, t("reportReasonLegend")),
    REPORT_REASONS.map((reason, i) => h("label.report-reason", { dataset: { reason } },
      radios[i],
      h("span", {}, h("strong", {}, t(`reportReasons.${reason}`)), h("small", {}, t(`reportReasonHints.${reason}`))))));
  const comment = h("textarea.report-comment", {
    id: `${id}-comment`, name: "comment", rows: 3, maxlength: MAX_REPORT_COMMENT, placeholder: t("reportCommentPlaceholder"),
    "aria-describedby": `${id}-counter`,
  });
  const counter = h("span.counter.report-counter", { id: `${id}-counter`, "aria-live": "polite" });
  const count = () => {
    const left = MAX_REPORT_COMMENT - [...comment.value].length;
    counter.textContent = t("reportCharsLeft", { n: left, max: MAX_REPORT_COMMENT });
    counter.classList.toggle("over", left < 0);
  };
  comment.addEventListener("input", count);
  count();
  const days = h("span.report-days");
  loadAbout().then((about) => {
    if (about?.reportResponseDays) days.textContent = t("reportResponseTime", { n: about.reportResponseDays });
  });
  const body = h("div.report-form", {},
    h("p", {}, t("reportLead")),
    reasons,
    h("div.field", {},
      h("label", { for: comment.id }, t("reportCommentLabel")),
      comment,
      h("div.report-comment-row", {}, counter)),
    h("p.report-how", {}, days, " ", docLink(REPORTS_PAGE, t("howReportsWork"))));

  let filed = false;
  const pending = dialog({
    title: t("reportTitle"),
    text: body,
    confirm: t("reportSend"),
    name: "report",
    action: async () => {
      const reason = radios.find((radio) => radio.checked)?.value;
      if (!reason) return t("reportChooseReason");
      const text = comment.value.trim();
      if ([...text].length > MAX_REPORT_COMMENT) {
        comment.focus();
        return t("reportCommentTooLong");
      }
      try {
        await api.reportReply(conversationId, messageId, { reason, comment: text || undefined });
        filed = true;
        toast(t("reportFiled"));
        return "";
      } catch (error) {
        if (error.code === "already_reported") {
          filed = true;
          toast(t("reportAlready"));
          return "";
        }
        if (error.status === 401) return t("errors.invalid_token");
        if (error.code === "not_a_reply") return t("reportNotAReply");
        if (error.code === "comment_too_long") return t("reportCommentTooLong");
        return errorText(error);
      }
    },
  });
  radios[0].focus();
  await pending;
  return filed;
}
