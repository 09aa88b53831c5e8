// #/account: what a signed-in person runs themselves. The address (confirmed or not, with "send
// the link again"), the terms accepted, the language of the mail, a new password, the signed-in
// devices (devices.js), the replies they reported and what became of them, their consent to the
// processing of health information (account-trust.js), their constitution self-assessments
// (constitution-result.js), a download of everything they wrote, and deleting the account for
// good.
import * as api from "../api.js";
import { bytes, dialog, h, icon } from "../dom.js";
import { dateTime, errorText, t } from "../i18n.js";
import { healthSection, reportsSection, restrictionNotice, termsFact } from "./account-trust.js";
import { accountConstitution } from "./constitution-result.js";
import { devicesPanel } from "./devices.js";
import { formError, newPasswordProblem, passwordField, setFieldError, submitButton } from "./fields.js";
import { applyAccount, loadAbout } from "./trust.js";
import { needsVerification, resendButton } from "./verify-notice.js";

/** A card of the page: a heading (named for screen readers), a lead and the content. */
function section(name, title, lead, ...content) {
  const id = `account-${name}-title`;
  return h(`section.card.account-section.${name}`, { "aria-labelledby": id, dataset: { section: name } },
    h("h2", { id }, title),
    lead ? h("p.section-lead", {}, lead) : null,
    ...content);
}

/** A live line under a form or button: `say(text, kind)` fills it ("error" in red). */
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

function profileSection(app, account, reload) {
  const status = resultLine(".address-result");
  const verified = account.emailVerified;
  const pill = verified
    ? h("span.status-pill.active.address-state", { dataset: { verified: "true" } },
      account.emailVerifiedAt ? t("addressVerifiedOn", { date: dateTime(account.emailVerifiedAt) }) : t("addressVerified"))
    : h("span.status-pill.banned.address-state", { dataset: { verified: "false" } }, t("addressUnverified"));
  const explain = verified || account.emailVerification === "off"
    ? null
    : h("p.field-hint", {}, t(account.emailVerification === "required" ? "addressNeededForChat" : "addressWhyVerify"));

  const localeSelect = h("select", { id: "account-locale", name: "locale" },
    h("option", { value: "zh", selected: account.locale === "zh" }, "中文"),
    h("option", { value: "en", selected: account.locale === "en" }, "English"));
  const localeResult = resultLine(".locale-result");
  localeSelect.addEventListener("change", async () => {
    localeSelect.disabled = true;
    try {
      app.account = await api.updateAccount({ locale: localeSelect.value });
      localeResult.say(t("mailLanguageSaved"));
    } catch (error) {
      if (error.status !== 401) localeResult.say(errorText(error), "error");
      localeSelect.value = account.locale;
    } finally {
      localeSelect.disabled = false;
    }
  });

  return section("profile", t("profileTitle"), null,
    h("dl.facts", {},
      h("div", {}, h("dt", {}, t("email")),
        h("dd", {}, h("span.email.account-address", {}, account.email), " ", pill)),
      h("div", {}, h("dt", {}, t("memberSince")), h("dd", {}, h("time", { datetime: account.createdAt }, dateTime(account.createdAt)))),
      termsFact(app, account, reload)),
    explain,
    !verified && account.mailEnabled && needsVerification(account) ? h("div.panel-actions", {}, resendButton(app, { say: status.say }), status.el) : null,
    !verified && !account.mailEnabled && account.emailVerification !== "off" ? h("p.field-hint", {}, t("addressNoMail")) : null,
    h("div.field.locale-field", {},
      h("label", { for: "account-locale" }, t("mailLanguage")),
      h("div.inline-row", {}, localeSelect, localeResult.el),
      h("p.field-hint", {}, t("mailLanguageHint"))));
}

function passwordSection() {
  const current = passwordField({ id: "current-password", name: "currentPassword", label: t("currentPassword"), autocomplete: "current-password" });
  const fresh = passwordField({ id: "new-password", name: "newPassword", label: t("newPassword"), autocomplete: "new-password", hint: t("passwordHint") });
  const repeat = passwordField({ id: "repeat-password", name: "repeatPassword", label: t("repeatPassword"), autocomplete: "new-password" });
  const problem = formError();
  const submit = submitButton(t("changePassword"));
  const result = resultLine(".password-result");

  const form = h("form.password-form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      problem.show("");
      result.say("");
      const problems = [
        current.input.value ? "" : t("checkPassword"),
        newPasswordProblem(fresh.input.value),
      ];
      problems.push(!problems[1] && repeat.input.value !== fresh.input.value ? t("passwordsDiffer") : "");
      [current, fresh, repeat].forEach((field, i) => setFieldError(field, problems[i]));
      const first = problems.findIndex(Boolean);
      if (first >= 0) {
        [current, fresh, repeat][first].input.focus();
        return;
      }
      submit.busy(true);
      try {
        const { revoked } = await api.changePassword({ currentPassword: current.input.value, newPassword: fresh.input.value });
        form.reset();
        result.say(revoked > 1 ? t("passwordChangedOthers", { n: revoked }) : t(revoked ? "passwordChangedOne" : "passwordChanged"));
      } catch (error) {
        if (error.status === 401) return;
        if (error.code === "wrong_password") {
          setFieldError(current, t("errors.wrong_password"));
          current.input.focus();
        } else {
          problem.show(errorText(error));
          if (/^password_/.test(error.code)) fresh.input.focus();
        }
      } finally {
        submit.busy(false);
      }
    },
  }, current.el, h("div.two-fields", {}, fresh.el, repeat.el), problem.el, h("div.panel-actions", {}, submit.el, result.el));
  return section("password", t("passwordTitle"), t("passwordLead"), form);
}

function dataSection() {
  let format = "json";
  const formats = ["json", "ndjson"].map((value) => h("label.choice", {},
    h("input", { type: "radio", name: "account-export-format", value, checked: value === format, onchange: () => (format = value) }),
    h("span", {}, t(value === "json" ? "formatJson" : "formatNdjson"))));
  const result = resultLine(".export-result");
  const label = h("span", {}, t("downloadMyData"));
  const button = h("button.button.primary.download-my-data", {
    type: "button",
    onclick: async () => {
      button.disabled = true;
      label.textContent = t("downloading");
      result.say("");
      try {
        const file = await api.downloadAccountExport({ format });
        result.say(t("downloaded", { file: file.filename, size: bytes(file.blob.size) }));
      } catch (error) {
        if (error.status !== 401) result.say(errorText(error), "error");
      } finally {
        button.disabled = false;
        label.textContent = t("downloadMyData");
      }
    },
  }, icon("download", 16), label);
  return section("data", t("dataTitle"), t("dataLead"),
    h("fieldset.formats", {}, h("legend", {}, t("format")), formats),
    h("div.panel-actions", {}, button, result.el));
}

function deleteSection(app, account) {
  async function confirmDelete() {
    const what = h("div", {},
      h("p", {}, t("deleteAccountText", { email: account.email })),
      h("ul.loss-list", {}, h("li", {}, t("deleteLossConversations")), h("li", {}, t("deleteLossAccount"))),
      h("p.warning", {}, h("strong", {}, t("deleteCannotUndo"))));
    const done = await dialog({
      title: t("deleteAccountTitle"),
      text: what,
      confirm: t("deleteForGood"),
      danger: true,
      input: { type: "password", label: t("deletePasswordLabel"), autocomplete: "current-password" },
      validate: (value) => (value ? "" : t("checkPassword")),
      action: async (password) => {
        try {
          await api.deleteAccount({ password });
          return "";
        } catch (error) {
          return errorText(error);
        }
      },
    });
    if (done !== null) app.endSession(t("accountDeleted"));
  }
  return section("danger", t("deleteAccountSection"), t("deleteAccountLead"),
    h("div.panel-actions", {},
      h("button.button.danger.delete-account", { type: "button", onclick: confirmDelete }, icon("trash", 16), h("span", {}, t("deleteAccountButton")))));
}

export function accountView(app) {
  const body = h("div.account-sections", { "aria-busy": "true" },
    h("div.loading", { role: "status" }, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot"), h("span.sr-only", {}, t("loadingAccount"))));
  const el = h("section.account-page", {},
    h("header.account-page-head", {},
      h("h1", {}, t("accountTitle")),
      h("p", {}, t("accountLead"))),
    body);

  async function load() {
    try {
      await app.localeSync; // a language switch just made: its PATCH first
      const [account] = await Promise.all([api.getAccount(), loadAbout()]);
      app.account = account;
      applyAccount(app, account); // the terms and the consent as the server has them now
      app.refreshNotice?.();
      const devices = devicesPanel(app);
      const health = healthSection(app, account);
      body.replaceChildren(...[
        restrictionNotice(account),
        profileSection(app, account, load),
        passwordSection(),
        section("devices", t("devicesTitle"), t("devicesLead"), devices.el),
        section("reports", t("yourReportsTitle"), null, reportsSection().el),
        health ? section("health", t("healthTitle"), null, health.el) : null,
        section("constitution", t("constitutionTitle"), null, accountConstitution().el),
        dataSection(),
        deleteSection(app, account),
      ].filter(Boolean));
    } catch (error) {
      if (error.status === 401) return;
      body.replaceChildren(h("div.panel-error", { role: "alert" }, errorText(error), " ",
        h("button.button.ghost.small", { type: "button", onclick: load }, icon("retry", 14), t("retry"))));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }
  load();

  return { el, title: () => t("accountTitle") };
}
