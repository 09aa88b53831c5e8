// #/login and #/register: one card with two tabs, beside a short introduction of the two guides.
// The same layout (`authPage`) frames the pages of the mail links (recovery.js).
import * as api from "../api.js";
import { h, icon } from "../dom.js";
import { errorText, lang, t } from "../i18n.js";
import { EMAIL } from "./fields.js";
import { PRIVACY_PAGE, TERMS_PAGE, docLink, learnTermsVersion, legalLinks, loadAbout, withLinks } from "./trust.js";

const utf8Length = (text) => new TextEncoder().encode(text).length;

/** Ink-wash hills for the introduction panel (decoration only). */
function inkHills() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 600 170");
  svg.setAttribute("preserveAspectRatio", "xMidYMax slice");
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("ink-hills");
  const sun = document.createElementNS(ns, "circle");
  sun.setAttribute("cx", "468");
  sun.setAttribute("cy", "34");
  sun.setAttribute("r", "20");
  sun.setAttribute("class", "sun");
  svg.append(sun);
  const layers = [
    ["M0 100 C 60 60, 110 40, 170 68 S 270 20, 330 46 S 440 14, 500 44 S 570 70, 600 54 L600 170 L0 170 Z", "hill far"],
    ["M0 132 C 70 100, 130 88, 200 110 S 300 70, 380 100 S 500 90, 600 108 L600 170 L0 170 Z", "hill mid"],
    ["M0 156 C 90 138, 170 134, 260 148 S 420 136, 600 150 L600 170 L0 170 Z", "hill near"],
  ];
  for (const [d, cls] of layers) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("class", cls);
    svg.append(path);
  }
  return svg;
}

export function authView(app, mode) {
  const isLogin = mode === "login";

  const email = h("input", {
    type: "email", name: "email", id: "auth-email", autocomplete: "email", inputmode: "email",
    placeholder: t("emailPlaceholder"), required: true, spellcheck: "false", "aria-describedby": "auth-email-error",
  });
  const password = h("input", {
    type: "password", name: "password", id: "auth-password", required: true,
    autocomplete: isLogin ? "current-password" : "new-password",
    "aria-describedby": isLogin ? "auth-password-error" : "auth-password-hint auth-password-error",
  });
  const reveal = h("button.reveal", {
    type: "button", "aria-label": t("showPassword"), title: t("showPassword"),
    onclick: () => {
      const show = password.type === "password";
      password.type = show ? "text" : "password";
      reveal.replaceChildren(icon(show ? "eyeOff" : "eye", 18));
      reveal.setAttribute("aria-label", t(show ? "hidePassword" : "showPassword"));
      reveal.title = t(show ? "hidePassword" : "showPassword");
    },
  }, icon("eye", 18));
  const emailError = h("p.field-error", { id: "auth-email-error" });
  const passwordError = h("p.field-error", { id: "auth-password-error" });
  const formError = h("div.form-error", { role: "alert", hidden: true });
  const submit = h("button.button.primary.wide", { type: "submit" }, t(isLogin ? "login" : "register"));
  // Registering, while the server has terms: the box that accepts them (and the privacy policy).
  const terms = isLogin ? null : termsBox();
  if (terms) loadAbout().then((about) => terms.show(about?.termsVersion ?? null));

  function check() {
    emailError.textContent = "";
    passwordError.textContent = "";
    let ok = true;
    if (!EMAIL.test(email.value.trim())) {
      emailError.textContent = t("checkEmail");
      ok = false;
    }
    if (!password.value) {
      passwordError.textContent = t("checkPassword");
      ok = false;
    } else if (!isLogin && [...password.value].length < 8) {
      passwordError.textContent = t("errors.password_too_short");
      ok = false;
    } else if (utf8Length(password.value) > 72) {
      passwordError.textContent = t("errors.password_too_long");
      ok = false;
    }
    email.setAttribute("aria-invalid", String(Boolean(emailError.textContent)));
    password.setAttribute("aria-invalid", String(Boolean(passwordError.textContent)));
    return ok;
  }

  const form = h("form.auth-form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      formError.textContent = "";
      formError.hidden = true;
      const valid = check();
      // The terms this server asks for (read before sending, should the page be quicker than the answer).
      const version = terms ? (await loadAbout())?.termsVersion ?? null : null;
      if (terms) terms.show(version);
      const termsOk = !version || terms.check();
      if (!valid || !termsOk) {
        if (!valid) (emailError.textContent ? email : password).focus();
        else terms.input.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = t("submitting");
      try {
        const credentials = { email: email.value.trim(), password: password.value };
        // A new account's mail is written in the language the person reads the site in.
        const result = await (isLogin
          ? api.login(credentials)
          : api.register({ ...credentials, locale: lang(), ...(version ? { acceptTerms: version } : {}) }));
        app.signedIn(result);
      } catch (error) {
        formError.textContent = errorText(error);
        formError.hidden = false;
        if (error.code === "invalid_email") email.focus();
        else if (/^password_/.test(error.code)) password.focus();
        else if (error.code === "terms_required" && terms) {
          // Newer terms than this page knew of: to be read and accepted again.
          const newer = error.body?.error?.termsVersion ?? null;
          if (newer && newer !== version) {
            learnTermsVersion(newer);
            terms.show(newer, { fresh: true });
          }
          terms.input.focus();
        }
      } finally {
        submit.disabled = false;
        submit.textContent = t(isLogin ? "login" : "register");
      }
    },
  },
    h("div.field", {},
      h("label", { for: "auth-email" }, t("email")),
      email, emailError),
    h("div.field", {},
      h("div.label-row", {},
        h("label", { for: "auth-password" }, t("password")),
        isLogin ? h("a.forgot-link", { href: "#/forgot", onclick: () => (app.typedEmail = email.value.trim()) }, t("forgotLink")) : null),
      h("div.password-wrap", {}, password, reveal),
      isLogin ? null : h("p.field-hint", { id: "auth-password-hint" }, t("passwordHint")),
      passwordError),
    terms?.el ?? null,
    formError,
    submit);

  const notice = app.takeFlash();
  const el = authPage(
    h("nav.auth-tabs", { "aria-label": t("account") },
      h("a", { href: "#/login", class: isLogin ? "current" : "", "aria-current": isLogin ? "page" : null }, t("login")),
      h("a", { href: "#/register", class: isLogin ? "" : "current", "aria-current": isLogin ? null : "page" }, t("register"))),
    h("h2.auth-title", {}, t(isLogin ? "loginTitle" : "registerTitle")),
    h("p.auth-lead", {}, t(isLogin ? "loginLead" : "registerLead")),
    notice ? h(`div.auth-notice.${notice.kind ?? "info"}`, { role: "status" }, notice.text) : null,
    form,
    h("p.auth-switch", {}, t(isLogin ? "noAccount" : "haveAccount"), " ",
      h("a", { href: isLogin ? "#/register" : "#/login" }, t(isLogin ? "register" : "login"))),
    legalLinks(".auth-legal"));
  if (app.typedEmail) email.value = app.typedEmail;

  return {
    el,
    title: t(isLogin ? "login" : "register"),
    mounted() {
      (email.value ? password : email).focus();
    },
  };
}

/** The auth layout: the introduction of the two guides beside a card holding `children`. */
export function authPage(...children) {
  return h("section.auth", {},
    h("div.auth-hero", {},
      h("div.hero-seals", { "aria-hidden": "true" }, h("span.seal.oracle", {}, "易"), h("span.seal.tcm", {}, "医")),
      h("h1.hero-title", {}, ...t("heroTitle").split("\n").flatMap((line, i) => (i ? [h("br"), line] : [line]))),
      h("p.hero-text", {}, t("heroText")),
      h("ul.hero-list", {},
        h("li", {}, h("span.trigram", { "aria-hidden": "true" }, "☰"), t("heroOracle")),
        h("li", {}, h("span.trigram", { "aria-hidden": "true" }, "☵"), t("heroTcm"))),
      inkHills()),
    h("div.auth-card.card", {}, ...children));
}

/**
 * The registration's "I accept the terms of service and the privacy policy" box: hidden until
 * the server says it has terms (`show(version)`); `check()` says whether it is ticked, and
 * shows why not.
 */
function termsBox() {
  const input = h("input", { type: "checkbox", id: "auth-terms", name: "acceptTerms", "aria-describedby": "auth-terms-error" });
  const error = h("p.field-error", { id: "auth-terms-error" });
  const label = h("label.terms-check", { for: "auth-terms" }, input,
    h("span", {}, withLinks("acceptTermsLabel", {
      terms: docLink(TERMS_PAGE, t("termsOfServiceInline")),
      privacy: docLink(PRIVACY_PAGE, t("privacyPolicyInline")),
    })));
  const version = h("span.terms-version");
  const el = h("div.field.terms-field", { hidden: true }, label, h("p.field-hint", {}, version), error);
  input.addEventListener("change", () => {
    if (!input.checked) return;
    error.textContent = "";
    input.setAttribute("aria-invalid", "false");
  });
  return {
    el,
    input,
    show(current, { fresh = false } = {}) {
      el.hidden = !current;
      if (!current) return;
      version.textContent = t("termsVersionHint", { version: current });
      if (fresh) input.checked = false;
    },
    check() {
      const ok = input.checked;
      error.textContent = ok ? "" : t("acceptTermsNeeded");
      input.setAttribute("aria-invalid", String(!ok));
      return ok;
    },
  };
}
