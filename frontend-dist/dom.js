// Small DOM helpers: element creation that never parses text as HTML, toasts, and modal dialogs
// built on <dialog>.
import { t } from "./i18n.js";

/**
 * h("button.primary.wide", {type: "button", onclick}, "text", child, [more children]).
 * Props: `on<event>` adds a listener, `dataset` / `style` objects are merged, `true` sets an
 * empty attribute, `false`/null/undefined leave it out; `class` adds to the classes of the tag.
 * Strings become text nodes, so nothing passed here is ever parsed as markup.
 */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name || "div");
  if (classes.length) element.classList.add(...classes);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(element.style, value);
    else if (key === "class") String(value).split(/\s+/).filter(Boolean).forEach((c) => element.classList.add(c));
    else if (key === "value" && "value" in element) element.value = value;
    else if (key === "checked" || key === "selected" || key === "disabled" || key === "hidden") {
      element[key] = Boolean(value);
    } else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An inline SVG icon from the small set below. */
export function icon(name, size = 18) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", size);
  svg.setAttribute("height", size);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.8");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.classList.add("icon");
  for (const d of ICONS[name] ?? []) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

const ICONS = {
  send: ["M5 12h13", "M13 6l6 6-6 6"],
  stop: ["M7 7h10v10H7z"],
  plus: ["M12 5v14", "M5 12h14"],
  menu: ["M4 7h16", "M4 12h16", "M4 17h10"],
  more: ["M6 12h.01", "M12 12h.01", "M18 12h.01"],
  edit: ["M4 20h4L19 9l-4-4L4 16v4z", "M13.5 6.5l4 4"],
  trash: ["M5 7h14", "M10 11v6", "M14 11v6", "M6 7l1 12h10l1-12", "M9 7V4h6v3"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  image: ["M4 5h16v14H4z", "M4 16l5-5 4 4 3-3 4 4", "M15.5 9.5h.01"],
  eye: ["M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z", "M12 15a3 3 0 100-6 3 3 0 000 6z"],
  eyeOff: ["M3 3l18 18", "M10.6 10.6a2 2 0 002.8 2.8", "M9.9 5.2A9.8 9.8 0 0112 5c6.5 0 10 7 10 7a17 17 0 01-3.2 4.2", "M6.6 6.6C3.9 8.4 2 12 2 12s3.5 7 10 7a9.7 9.7 0 005.4-1.6"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  search: ["M11 18a7 7 0 100-14 7 7 0 000 14z", "M20 20l-4-4"],
  regenerate: ["M20 12a8 8 0 11-2.34-5.66", "M20 4v5h-5"],
  chevronLeft: ["M15 6l-6 6 6 6"],
  chevronRight: ["M9 6l6 6-6 6"],
  retry: ["M4 4v6h6", "M20 12a8 8 0 00-14.7-4.4L4 10", "M20 20v-6h-6", "M4 12a8 8 0 0014.7 4.4L20 14"],
  logout: ["M15 4h4v16h-4", "M10 8l-4 4 4 4", "M6 12h11"],
  globe: ["M12 21a9 9 0 100-18 9 9 0 000 18z", "M3 12h18", "M12 3c2.5 2.6 3.8 5.6 3.8 9s-1.3 6.4-3.8 9c-2.5-2.6-3.8-5.6-3.8-9S9.5 5.6 12 3z"],
  shield: ["M12 3l8 3v6c0 4.5-3.4 8.3-8 9-4.6-.7-8-4.5-8-9V6l8-3z"],
  feather: ["M20 4c-6 0-12 4-13 13l-2 3", "M7 17c6 0 10-3 12-9", "M11 13h6"],
  mail: ["M4 6h16v12H4z", "M4 7l8 6 8-6"],
  user: ["M12 12a4 4 0 100-8 4 4 0 000 8z", "M4 20c1.5-4 4.5-6 8-6s6.5 2 8 6"],
  device: ["M4 5h16v11H4z", "M9 20h6", "M12 16v4"],
  phone: ["M8 3h8v18H8z", "M11 18h2"],
  key: ["M8 16a4 4 0 100-8 4 4 0 000 8z", "M12 12h9", "M18 12v3", "M21 12v2"],
  check: ["M5 12l5 5 9-10"],
  copy: ["M9 9h10v11H9z", "M5 15V4h10"],
  thumbUp: ["M7 10v10H4V10h3z", "M7 10l4-7c1.4 0 2.5 1.1 2.5 2.5V9h5.2a2 2 0 012 2.3l-1.2 6.9a2 2 0 01-2 1.8H7"],
  thumbDown: ["M7 14V4H4v10h3z", "M7 14l4 7c1.4 0 2.5-1.1 2.5-2.5V15h5.2a2 2 0 002-2.3l-1.2-6.9a2 2 0 00-2-1.8H7"],
  chart: ["M4 20V4", "M4 20h16", "M8 16v-4", "M12 16V8", "M16 16v-6"],
  flag: ["M5 21V4", "M5 4h11l-2 4 2 4H5"],
  leaf: ["M5 19c0-8 5-14 15-15-1 10-7 15-15 15z", "M5 19l7-7"],
};

/** A short-lived message at the top of the screen. `kind`: "info" or "error". */
export function toast(message, kind = "info", ms = 5000) {
  let stack = document.getElementById("toasts");
  if (!stack) {
    stack = h("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(stack);
  }
  const item = h(`div.toast.${kind}`, {}, h("span", {}, message),
    h("button.toast-close", { type: "button", "aria-label": t("close"), onclick: () => dismiss() }, icon("close", 14)));
  stack.append(item);
  let timer = setTimeout(dismiss, ms);
  function dismiss() {
    clearTimeout(timer);
    timer = null;
    item.classList.add("leaving");
    setTimeout(() => item.remove(), 200);
  }
  return dismiss;
}

/**
 * A modal dialog. Resolves to the value of the input (`input` given) or true on confirm, and
 * to null on cancel/Escape. `text` is a string or a node. `input`: `{value, label, maxlength,
 * type ("text" or "password", which is not trimmed), autocomplete}`. `validate(value)` returns
 * an error text or "". `action(value)`, if given, runs on confirm with the buttons off and
 * resolves to an error text (the dialog stays open and shows it) or "" (it closes). `cancel`: the
 * label of the button that closes it without acting; `name`: `data-dialog` of the <dialog> (for
 * styles and tests); `deliberate`: the focus starts on cancel, so that a consent or a deletion
 * is never given by an Enter meant for something else.
 */
export function dialog({ title, text, confirm = t("save"), cancel = t("cancel"), danger = false, input = null, validate = null, action = null, name = null, deliberate = false }) {
  return new Promise((resolve) => {
    const secret = input?.type === "password";
    const field = input
      ? h("input", {
        type: secret ? "password" : "text", name: "value", value: input.value ?? "", maxlength: input.maxlength ?? null,
        autocomplete: input.autocomplete ?? null, "aria-label": input.label ?? title, required: true,
      })
      : null;
    const problem = h("p.field-error", { role: "alert" });
    const confirmButton = h(`button.button.${danger ? "danger" : "primary"}`, { type: "submit", value: "confirm" }, confirm);
    const cancelButton = h("button.button.ghost", { type: "button", value: "cancel", onclick: () => close(null) }, cancel);
    const form = h("form.modal-body", { method: "dialog" },
      h("h2", {}, title),
      text ? (text instanceof Node ? h("div.modal-text", {}, text) : h("p.modal-text", {}, text)) : null,
      field ? h("label.field", {}, h("span", {}, input.label ?? ""), field) : null,
      problem,
      h("div.modal-actions", {}, cancelButton, confirmButton));
    const modal = h("dialog.modal", { "aria-label": title, dataset: name ? { dialog: name } : null }, form);
    let working = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (working) return;
      const value = field ? (secret ? field.value : field.value.trim()) : true;
      const invalid = field && validate ? validate(value) : "";
      if (invalid) {
        problem.textContent = invalid;
        field.focus();
        return;
      }
      if (action) {
        working = true;
        confirmButton.disabled = cancelButton.disabled = true;
        modal.setAttribute("aria-busy", "true");
        problem.textContent = "";
        const failed = await action(value);
        working = false;
        confirmButton.disabled = cancelButton.disabled = false;
        modal.removeAttribute("aria-busy");
        if (failed) {
          problem.textContent = failed;
          (field ?? confirmButton).focus();
          field?.select();
          return;
        }
      }
      close(value);
    });
    modal.addEventListener("cancel", (event) => {
      event.preventDefault();
      if (!working) close(null);
    });
    modal.addEventListener("click", (event) => {
      if (event.target === modal && !working) close(null); // the backdrop
    });
    let settled = false;
    function close(value) {
      if (settled) return;
      settled = true;
      modal.close();
      modal.remove();
      resolve(value);
    }
    document.body.append(modal);
    modal.showModal();
    if (field) {
      field.focus();
      field.select();
    } else modal.querySelector(deliberate ? "button[value=cancel]" : "button[value=confirm]").focus();
  });
}

/** Formats a byte count: "1.2 KB". */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
