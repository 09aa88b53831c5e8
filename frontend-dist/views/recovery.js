// The pages behind "Forgot password?" and the two mail links, in the login page's layout:
// #/forgot (asks for a reset link), #/reset/<token> (a new password, then logged in) and
// #/verify/<token> (confirms the address, signed in as its account). They work signed in or not.
import * as api from "../api.js";
import { h, toast } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { authPage } from "./auth.js";
import { EMAIL, formError, newPasswordProblem, passwordField, setFieldError, submitButton } from "./fields.js";

/** A card's heading, lead and, under the form, a way back to the login page. */
const head = (title, lead) => [h("h2.auth-title", {}, title), lead ? h("p.auth-lead", {}, lead) : null];
const backToLogin = (app) => h("p.auth-switch", {},
  app.user ? h("a", { href: "#/chat" }, t("backToChat")) : [t("rememberedIt"), " ", h("a", { href: "#/login" }, t("login"))]);

/** #/forgot: an address in, "if an account exists, a link is on its way" out. */
export function forgotView(app) {
  const email = h("input", {
    type: "email", name: "email", id: "forgot-email", autocomplete: "email", inputmode: "email", required: true,
    spellcheck: "false", placeholder: t("emailPlaceholder"), value: app.typedEmail || app.user?.email || "",
    "aria-describedby": "forgot-email-error",
  });
  const emailError = h("p.field-error", { id: "forgot-email-error" });
  const problem = formError();
  const submit = submitButton(t("sendResetLink"), "button.primary.wide");
  const answer = h("div.auth-notice.info.forgot-answer", { role: "status", hidden: true });

  const form = h("form.auth-form.forgot-form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      problem.show("");
      const address = email.value.trim();
      const invalid = EMAIL.test(address) ? "" : t("checkEmail");
      emailError.textContent = invalid;
      email.setAttribute("aria-invalid", String(Boolean(invalid)));
      if (invalid) {
        email.focus();
        return;
      }
      submit.busy(true);
      try {
        await api.forgotPassword(address);
        app.typedEmail = address;
        answer.textContent = t("resetLinkSent", { email: address });
        answer.hidden = false;
        form.hidden = true;
      } catch (error) {
        problem.show(error.code === "mail_unavailable" ? t("mailUnavailableReset") : errorText(error));
        if (error.code === "invalid_email") email.focus();
      } finally {
        submit.busy(false);
      }
    },
  },
    h("div.field", {}, h("label", { for: "forgot-email" }, t("email")), email, emailError),
    problem.el,
    submit.el);

  return {
    el: authPage(...head(t("forgotTitle"), t("forgotLead")), answer, form, backToLogin(app)),
    title: t("forgotTitle"),
    mounted() {
      email.focus();
    },
  };
}

/** #/reset/<token>: the new password twice; then signed in (every other session ended) and in the chat. */
export function resetView(app, token) {
  const password = passwordField({ id: "reset-password", name: "password", label: t("newPassword"), autocomplete: "new-password", hint: t("passwordHint") });
  const repeat = passwordField({ id: "reset-repeat", name: "repeat", label: t("repeatPassword"), autocomplete: "new-password" });
  const problem = formError();
  const submit = submitButton(t("saveNewPassword"), "button.primary.wide");
  const dead = h("div.auth-notice.warn.link-dead", { role: "alert", hidden: true },
    h("p", {}, t("errors.invalid_link")), h("a.button.primary.small", { href: "#/forgot" }, t("requestNewLink")));

  const form = h("form.auth-form.reset-form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      problem.show("");
      const first = newPasswordProblem(password.input.value);
      const second = !first && repeat.input.value !== password.input.value ? t("passwordsDiffer") : "";
      setFieldError(password, first);
      setFieldError(repeat, second);
      if (first || second) {
        (first ? password : repeat).input.focus();
        return;
      }
      submit.busy(true);
      try {
        const result = await api.resetPassword({ token, password: password.input.value });
        submit.busy(false);
        app.signedIn(result, "#/chat");
        toast(t("passwordResetDone"));
      } catch (error) {
        submit.busy(false);
        if (error.code === "invalid_link") {
          form.hidden = true;
          dead.hidden = false;
          el.querySelector(".auth-lead")?.setAttribute("hidden", "");
        } else {
          problem.show(errorText(error));
          if (/^password_/.test(error.code)) password.input.focus();
        }
      }
    },
  }, password.el, repeat.el, problem.el, submit.el);

  const el = authPage(...head(t("resetTitle"), t("resetLead")), dead, form, backToLogin(app));
  return {
    el,
    title: t("resetTitle"),
    mounted() {
      password.input.focus();
    },
  };
}

// A verification link works once: its answer is kept, so that showing the page again (another
// language, a reload of the route) shows the same result instead of "no longer valid".
const verifications = new Map();

/**
 * #/verify/<token>: confirms the address, but only when the person presses the button, and
 * only logged into the account the link was sent for: the link proves the address, the login
 * proves the password. (Confirming on load would let a mail scanner confirm, and a link alone
 * would confirm an account someone else registered with this address, with their password.)
 */
export function verifyView(app, token) {
  const status = h("div.verify-result", { role: "status", "aria-live": "polite" });
  const el = authPage(...head(t("verifyTitle"), null), status);
  const onward = () => app.user
    ? h("a.button.primary.wide", { href: "#/chat" }, t("continueToChat"))
    : h("a.button.primary.wide", { href: "#/login" }, t("login"));
  const notMine = h("p.auth-switch.verify-not-mine", {}, t("verifyNotMine"), " ",
    h("a", { href: "#/forgot" }, t("verifyTakeOver")));

  function showResult({ account, error }) {
    if (account) {
      app.addressVerified?.(account);
      status.replaceChildren(h("div.auth-notice.info.verify-done", {}, t("verifiedDone", { email: account.email })), onward());
      return;
    }
    const text = error.code === "invalid_link" ? t("verifyLinkDead")
      : error.code === "wrong_account" ? t("verifyWrongAccount", { email: app.user?.email ?? "" })
      : errorText(error);
    status.replaceChildren(
      h("div.auth-notice.warn.verify-failed", {}, text),
      app.user ? h("a.button.ghost.wide", { href: "#/account" }, t("accountPage")) : onward(),
      error.code === "wrong_account" ? notMine : null);
  }

  if (verifications.has(token)) {
    verifications.get(token).then(showResult);
  } else if (!app.user) {
    // Signed out: log in first, then back here to press the button.
    const signIn = h("button.button.primary.wide.verify-sign-in", {
      type: "button",
      onclick: () => { app.intended = location.hash; location.hash = "#/login"; },
    }, t("verifySignIn"));
    status.replaceChildren(h("p.auth-lead", {}, t("verifySignInLead")), signIn, notMine);
  } else {
    const confirm = h("button.button.primary.wide.verify-confirm", {
      type: "button",
      onclick: () => {
        confirm.disabled = true;
        status.replaceChildren(h("p.verify-waiting", {}, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot"), " ", t("verifying")));
        const answer = api.verifyEmail(token).then((account) => ({ account }), (error) => ({ error }));
        verifications.set(token, answer);
        answer.then(showResult);
      },
    }, t("verifyConfirm", { email: app.user.email }));
    status.replaceChildren(h("p.auth-lead", {}, t("verifyConfirmLead", { email: app.user.email })), confirm, notMine);
  }

  return { el, title: t("verifyTitle") };
}
