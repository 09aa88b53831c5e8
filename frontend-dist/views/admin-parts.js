// Pieces the admin panels share (admin.js, admin-reports.js): the pager, the data table whose
// rows become cards on narrow screens, the error with its Retry, and the loading dots.
import { h, icon } from "../dom.js";
import { errorText, t } from "../i18n.js";

export function pager(page, pageSize, total, go) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages <= 1) return null;
  return h("nav.pager", { "aria-label": t("pageOf", { page, pages }) },
    h("button.button.ghost.small", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, t("previous")),
    h("span", {}, t("pageOf", { page, pages })),
    h("button.button.ghost.small", { type: "button", disabled: page >= pages, onclick: () => go(page + 1) }, t("next")));
}

export function table(headers, rows, empty) {
  if (!rows.length) return h("p.table-empty", {}, empty);
  return h("div.table-wrap", {},
    h("table.data", {},
      h("thead", {}, h("tr", {}, headers.map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows)));
}

/** A cell that says what it is on narrow screens, where rows become cards. */
export const cell = (label, ...content) => h("td", { dataset: { label } }, ...content);

export function failed(body, error, again) {
  if (error.status === 401) return;
  body.replaceChildren(h("div.panel-error", { role: "alert" }, errorText(error), " ",
    h("button.button.ghost.small", { type: "button", onclick: again }, icon("retry", 14), t("retry"))));
}

export function loading(body) {
  if (!body.firstChild) body.replaceChildren(h("div.loading", { role: "status" }, h("span.brush-dot"), h("span.brush-dot"), h("span.brush-dot")));
  body.setAttribute("aria-busy", "true");
}
