// The terms and the consent a person gives (issue 24): what the server asks for (the public GET
// /api/chat/about: `termsVersion`, `healthConsent`, `reportResponseDays`), read once and shared;
// the step that asks an account to accept the current terms of service and privacy policy
// (a page in place of the chat, or a dialog when a chat turn is refused with 403
// terms_required); and the separate consent to the processing of health information the TCM
// adviser needs (a dialog, before the TCM adviser is chosen or when a turn is refused with 403
// consent_required). The documents are static pages: terms.html, privacy.html, reports.html.
import * as api from "../api.js";
import { dialog, h, icon, toast } from "../dom.js";
import { errorText, lang, t } from "../i18n.js";

export const TERMS_PAGE = "terms.html";
export const PRIVACY_PAGE = "privacy.html";
export const REPORTS_PAGE = "reports.html";

let about = null; // the answer, once it came
let pending = null; // the request under way

/** GET /api/chat/about, once (again after a failure). Resolves to the AboutView, or null when it failed. */
export function loadAbout() {
  if (about) return Promise.resolve(about);
  pending ??= api.getAbout().then(
    (answer) => {
      about = answer;
      return answer;
    },
    () => {
      pending = null;
      return null;
    },
  );
  return pending;
}

/** The AboutView if it has come, else null. */
export function currentAbout() {
  return about;
}

/** The server named another current version (a 403 terms_required, a 409 terms_outdated). */
export function learnTermsVersion(version) {
  if (version && about) about = { ...about, termsVersion: version };
}

/** Whether the signed-in account must accept the current terms before it may chat. */
export function termsNeeded(app) {
  const version = about?.termsVersion;
  return Boolean(app.user && version && app.user.acceptedTerms !== version);
}

/** Whether the TCM adviser needs the account's consent first. */
export function consentNeeded(app) {
  return Boolean(app.user && about?.healthConsent === "required" && !app.user.healthConsentAt);
}

/** The account as the server now has it (`{account}` of the terms and consent routes): into `app`. */
export function applyAccount(app, account) {
  if (!account || !app.user || account.id !== app.user.id) return;
  app.user = {
    ...app.user,
    acceptedTerms: account.acceptedTerms ?? null,
    healthConsentAt: account.healthConsentAt ?? null,
    restrictedUntil: account.restrictedUntil ?? null,
  };
  app.account = app.account ? { ...app.account, ...account } : account;
}

/** A link to one of the static documents, opened beside the app (a reply streaming here goes on). */
export function docLink(page, label, classes = "") {
  return h(`a${classes}`, { href: page, target: "_blank", rel: "noopener", dataset: { doc: page.replace(/\.html(#.*)?$/, "") } }, label);
}

/** The text of `key` with its `{name}` placeholders replaced by the nodes of `parts` (links inside a sentence). */
export function withLinks(key, parts) {
  const text = t(key, Object.fromEntries(Object.keys(parts).map((name) => [name, `{${name}}`])));
  return text.split(/(\{\w+\})/).filter(Boolean).map((piece) => {
    const name = /^\{(\w+)\}$/.exec(piece)?.[1];
    return name && parts[name] ? parts[name] : piece;
  });
}

/** The links to the three documents, for footers. */
export function legalLinks(classes = "") {
  return h(`nav.legal-links${classes}`, { "aria-label": t("legalLinks") },
    docLink(TERMS_PAGE, t("termsOfService")), h("span", { "aria-hidden": "true" }, " · "),
    docLink(PRIVACY_PAGE, t("privacyPolicy")), h("span", { "aria-hidden": "true" }, " · "),
    docLink(REPORTS_PAGE, t("howReportsWork")));
}

/** What the terms step says (the page and the dialog alike). */
function termsText(app, version) {
  const updated = Boolean(app.user?.acceptedTerms);
  return [
    h("p", {}, t(updated ? "termsUpdatedText" : "termsFirstText", { version })),
    h("p.terms-docs", {},
      docLink(TERMS_PAGE, t("termsOfService"), ".button.ghost.small"),
      docLink(PRIVACY_PAGE, t("privacyPolicy"), ".button.ghost.small")),
  ];
}

/** Accepts `version`; resolves to "" or the problem in words (a newer version: shown at once). */
async function accept(app, version, onNewVersion) {
  try {
    const { account } = await api.acceptTerms(version);
    applyAccount(app, account);
    return "";
  } catch (error) {
    if (error.status === 401) return t("errors.invalid_token");
    const newer = error.body?.error?.termsVersion;
    if (error.code === "terms_outdated" && newer) {
      learnTermsVersion(newer);
      onNewVersion?.(newer);
    }
    if (error.code === "no_terms" && about) about = { ...about, termsVersion: null };
    return errorText(error);
  }
}

/**
 * The terms step as a dialog (a chat turn refused with 403 terms_required): resolves to true
 * once the account accepted `version`, false when put off.
 */
export async function termsDialog(app, version = about?.termsVersion) {
  if (!version) return false;
  learnTermsVersion(version);
  let current = version;
  const body = h("div.terms-step", {}, termsText(app, current));
  const done = await dialog({
    title: t("termsTitle"),
    deliberate: true,
    text: body,
    confirm: t("termsAccept"),
    cancel: t("notNow"),
    name: "terms",
    action: () => accept(app, current, (newer) => {
      current = newer;
      body.replaceChildren(...termsText(app, newer));
    }),
  });
  if (done) toast(t("termsAccepted"));
  return Boolean(done);
}

/**
 * The terms step as a page, in place of the chat until the account accepts the current version.
 * `done()` is called once it has (the app routes on).
 */
export function termsView(app, done) {
  const problem = h("p.field-error", { role: "alert" });
  const text = h("div.gate-text");
  const button = h("button.button.primary.accept-terms", { type: "button", onclick: submit }, t("termsAccept"));
  const el = h("section.gate-page", {},
    h("div.card.gate-card.terms-gate", { role: "region", "aria-labelledby": "terms-gate-title" },
      h("span.seal", { "aria-hidden": "true" }, "约"),
      h("h1", { id: "terms-gate-title" }, t("termsTitle")),
      text,
      problem,
      h("div.gate-actions", {},
        button,
        h("button.button.ghost.gate-logout", { type: "button", onclick: () => app.logout?.() }, icon("logout", 16), t("logout"))),
      h("p.gate-foot", {}, withLinks("termsAccountStillOpen", { account: h("a", { href: "#/account" }, t("yourAccountPage")) }))));

  function paint() {
    text.replaceChildren(...termsText(app, about?.termsVersion ?? ""));
  }

  async function submit() {
    const version = about?.termsVersion;
    if (!version) return done();
    button.disabled = true;
    problem.textContent = "";
    const failed = await accept(app, version, paint);
    button.disabled = false;
    if (failed) problem.textContent = failed;
    else {
      toast(t("termsAccepted"));
      done();
    }
  }

  paint();
  return { el, title: () => t("termsTitle"), mounted: () => button.focus() };
}

/**
 * What the consent step says: what is processed, why, that it is optional and can be withdrawn
 * (and `note`, when given: what asked for it, e.g. the constitution self-assessment).
 */
function consentText(note = null) {
  return h("div.consent-step", {},
    h("p", {}, t("consentIntro")),
    note ? h("p.consent-note", {}, note) : null,
    h("ul.consent-points", {},
      h("li", {}, h("strong", {}, t("consentWhatLabel")), " ", t("consentWhat")),
      h("li", {}, h("strong", {}, t("consentWhyLabel")), " ", t("consentWhy")),
      h("li", {}, h("strong", {}, t("consentOptionalLabel")), " ", t("consentOptional")),
      h("li", {}, h("strong", {}, t("consentWithdrawLabel")), " ", t("consentWithdraw"))),
    h("p", {}, docLink(`${PRIVACY_PAGE}#health-${lang()}`, t("consentPrivacyLink"))));
}

/**
 * The separate consent to the processing of health information: resolves to true once given
 * (POST /api/account/health-consent), false when declined. `note`: a line on what asked for it.
 */
export async function consentDialog(app, { note = null } = {}) {
  const done = await dialog({
    title: t("consentTitle"),
    deliberate: true,
    text: consentText(note),
    confirm: t("consentAgree"),
    cancel: t("consentDecline"),
    name: "health-consent",
    action: async () => {
      try {
        const { account } = await api.giveHealthConsent();
        applyAccount(app, account);
        return "";
      } catch (error) {
        return error.status === 401 ? t("errors.invalid_token") : errorText(error);
      }
    },
  });
  if (done) toast(t("consentGiven"));
  return Boolean(done);
}
