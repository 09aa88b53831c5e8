// The banner under the top bar that asks a signed-in user to confirm their address while the
// server asks for it (EMAIL_VERIFICATION optional or required; with "required" the chat does
// not answer until then), and the "send the link again" button it shares with the chat's
// email_unverified error and the account page.
import * as api from "../api.js";
import { h, icon, toast } from "../dom.js";
import { errorText, t } from "../i18n.js";

const HIDDEN_KEY = "verify-notice-hidden"; // an optional notice put away, for this tab

/** Whether `account` (an AccountView) still has to confirm its address on this server. */
export function needsVerification(account) {
  return Boolean(account && !account.emailVerified && account.emailVerification !== "off");
}

/**
 * A button that mails a new verification link, and says how that went: in `say(text, kind)`
 * (a live region of the caller's) or else in a toast. `app.addressVerified` hears of an
 * address that turned out to be confirmed already.
 */
export function resendButton(app, { say = null, classes = "button.ghost.small" } = {}) {
  const button = h(`button.${classes}.resend-verification`, {
    type: "button",
    onclick: async () => {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      const tell = say ?? ((text, kind) => toast(text, kind === "error" ? "error" : "info"));
      try {
        await api.sendVerification();
        tell(t("verificationSent", { email: app.account?.email ?? app.user?.email ?? "" }), "info");
      } catch (error) {
        if (error.status === 401) return;
        if (error.code === "already_verified") {
          tell(t("errors.already_verified"), "info");
          app.addressVerified?.(app.account ? { ...app.account, emailVerified: true } : null);
        } else tell(errorText(error), "error");
      } finally {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    },
  }, icon("mail", 15), h("span", {}, t("resendVerification")));
  return button;
}

/** `{el, render()}`: the banner; `render()` shows it for the account in `app.account`, or hides it. */
export function verifyNotice(app) {
  const el = h("div.verify-notice", { id: "verify-notice", role: "region", "aria-label": t("verifyNoticeLabel"), hidden: true });

  function render() {
    const account = app.user ? app.account : null;
    const required = account?.emailVerification === "required";
    let put = false;
    try {
      put = sessionStorage.getItem(HIDDEN_KEY) === account?.id;
    } catch {
      // storage blocked: the notice stays
    }
    // An optional confirmation without mail could not be done from here: nothing to ask.
    const show = needsVerification(account) && (required || account.mailEnabled) && !(put && !required);
    el.hidden = !show;
    el.classList.toggle("required", required);
    el.dataset.mode = account?.emailVerification ?? "";
    if (!show) {
      el.replaceChildren();
      return;
    }
    el.setAttribute("aria-label", t("verifyNoticeLabel"));
    const result = h("span.verify-notice-result", { role: "status", "aria-live": "polite" });
    const say = (text, kind) => {
      result.textContent = text;
      result.classList.toggle("error", kind === "error");
    };
    const text = required
      ? t(account.mailEnabled ? "verifyRequired" : "verifyRequiredNoMail", { email: account.email })
      : t("verifyOptional", { email: account.email });
    el.replaceChildren(h("div.verify-notice-inner", {},
      icon("mail", 18),
      h("p.verify-notice-text", {}, text),
      account.mailEnabled ? resendButton(app, { say }) : null,
      result,
      required ? null : h("button.icon-button.verify-notice-close", {
        type: "button", "aria-label": t("hideNotice"), title: t("hideNotice"),
        onclick: () => {
          try {
            sessionStorage.setItem(HIDDEN_KEY, account.id);
          } catch {
            // not remembered
          }
          render();
        },
      }, icon("close", 16))));
  }

  return { el, render };
}
