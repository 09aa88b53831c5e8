// Form pieces the login, reset and account pages share: a labelled password input with a
// show/hide button, the rules a new password must meet (the API's: at least 8 characters, at
// most 72 bytes of UTF-8), and the box that shows a form's error.
import { h, icon } from "../dom.js";
import { t } from "../i18n.js";

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const utf8Length = (text) => new TextEncoder().encode(text).length;

/** What is wrong with `value` as a new password, in words, or "". */
export function newPasswordProblem(value) {
  if (!value) return t("checkPassword");
  if ([...value].length < 8) return t("errors.password_too_short");
  if (utf8Length(value) > 72) return t("errors.password_too_long");
  return "";
}

/**
 * `{el, input, error}`: a `.field` with a label, the input (`type=password`, with a button that
 * shows it), an optional hint and a place for its error, tied together by ids for screen readers.
 */
export function passwordField({ id, name, label, autocomplete, hint = null }) {
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const input = h("input", {
    type: "password", id, name, required: true, autocomplete,
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
  });
  const reveal = h("button.reveal", {
    type: "button", "aria-label": t("showPassword"), title: t("showPassword"), "aria-controls": id,
    onclick: () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      reveal.replaceChildren(icon(show ? "eyeOff" : "eye", 18));
      reveal.setAttribute("aria-label", t(show ? "hidePassword" : "showPassword"));
      reveal.title = t(show ? "hidePassword" : "showPassword");
    },
  }, icon("eye", 18));
  const error = h("p.field-error", { id: errorId });
  const el = h("div.field", {},
    h("label", { for: id }, label),
    h("div.password-wrap", {}, input, reveal),
    hint ? h("p.field-hint", { id: hintId }, hint) : null,
    error);
  return { el, input, error };
}

/** Shows `text` as the field's error (or clears it), and marks the input invalid or not. */
export function setFieldError(field, text) {
  field.error.textContent = text || "";
  field.input.setAttribute("aria-invalid", String(Boolean(text)));
}

/** The box above a form's button that says why it failed (read out at once). `show(text)` fills or hides it. */
export function formError() {
  const el = h("div.form-error", { role: "alert", hidden: true });
  return {
    el,
    show(text) {
      el.textContent = text || "";
      el.hidden = !text;
    },
  };
}

/** A submit button that says it is busy: `busy(true)` disables it and shows "One moment…". */
export function submitButton(label, classes = "button.primary") {
  const el = h(`button.${classes}`, { type: "submit" }, label);
  return {
    el,
    busy(on) {
      el.disabled = on;
      el.textContent = on ? t("submitting") : label;
      if (on) el.setAttribute("aria-busy", "true");
      else el.removeAttribute("aria-busy");
    },
  };
}
