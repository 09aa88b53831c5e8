// #/admin, #/admin/reports, #/admin/usage, #/admin/audit, #/admin/export: users (search, ban,
// unban), the queue of reported replies (admin-reports.js), the usage dashboard (usage.js), the
// audit log (filters) and the data export (JSON or NDJSON, optionally between two instants).
// ADMIN only: the API answers 403 admin_only to anyone else, and the app does not route USERs
// here.
import * as api from "../api.js";
import { bytes, dialog, h, icon, toast } from "../dom.js";
import { dateTime, errorText, has, t } from "../i18n.js";
import { cell, failed, loading, pager, table } from "./admin-parts.js";
import { reportsPanel } from "./admin-reports.js";
import { toggleBan } from "./ban.js";
import { usagePanel } from "./usage.js";

const TABS = ["users", "reports", "usage", "audit", "export"];
const TAB_LABELS = { users: "users", reports: "reportsTab", usage: "usage", audit: "auditLog", export: "export" };
const PANELS = {
  users: (app) => usersPanel(app),
  reports: (app) => reportsPanel(app),
  usage: (app) => usagePanel(app),
  audit: () => auditPanel(),
  export: () => exportPanel(),
};
const ACTIONS = ["register", "login", "login_failed", "login_blocked", "logout", "ban", "unban", "export", "promote", "demote",
  "content_blocked", "reply_blocked", "report_filed", "report_decided", "reply_hidden", "user_warned", "user_restricted",
  "restriction_lifted", "terms_accepted", "health_consent_given", "health_consent_withdrawn"];
const PAGE_SIZE = 20;

// Filters and pages survive a language switch or a visit to the chat.
const memory = { users: { q: "", page: 1 }, audit: { action: "", actorId: "", subject: "", page: 1 }, export: { format: "json", since: "", until: "" } };

function usersPanel(app) {
  const state = memory.users;
  const search = h("input", { type: "search", name: "q", value: state.q, placeholder: t("search"), "aria-label": t("search") });
  const summary = h("p.panel-summary");
  const body = h("div.panel-body");

  async function load(page = state.page) {
    state.page = page;
    loading(body);
    try {
      const result = await api.listUsers({ q: state.q || undefined, page, pageSize: PAGE_SIZE });
      summary.textContent = result.total === 1 ? t("oneUser") : t("totalUsers", { n: result.total });
      const rows = result.users.map((user) => {
        const me = user.id === app.user?.id;
        const banned = Boolean(user.bannedAt);
        const restricted = user.restrictedUntil && new Date(user.restrictedUntil) > new Date();
        return h("tr", { dataset: { email: user.email, id: user.id }, class: banned ? "is-banned" : null },
          cell(t("email"), h("span.email", {}, user.email), me ? h("span.muted", {}, t("you_")) : null),
          cell(t("role"), h(`span.badge.${user.role === "ADMIN" ? "admin" : "user"}`, {}, t(user.role === "ADMIN" ? "roleAdmin" : "roleUser"))),
          cell(t("status"), h(`span.status-pill.${banned ? "banned" : "active"}`, { title: banned ? t("bannedSince", { date: dateTime(user.bannedAt) }) : null },
            banned ? t("banned") : t("active")),
            // Moderation paused this account's chat after blocked messages: for an admin to look at.
            user.moderationFlaggedAt
              ? h("span.badge.flagged", { title: t("flaggedSince", { date: dateTime(user.moderationFlaggedAt) }) }, t("flagged"))
              : null,
            // A report's decision restricted its chat until then; the button ends it now.
            restricted
              ? h("span.badge.restricted", { title: t("restrictedUntil", { date: dateTime(user.restrictedUntil) }) }, t("restricted"))
              : null),
          cell(t("created"), h("time", { datetime: user.createdAt }, dateTime(user.createdAt))),
          cell(t("actions"), me ? h("span.muted", {}, "—") : h(`button.button.small.${banned ? "ghost.unban" : "danger-ghost.ban"}`, {
            type: "button", onclick: () => toggleBan(user.id, user, load),
          }, banned ? t("unban") : t("ban")),
          restricted && !me ? h("button.button.small.ghost.lift", { type: "button", onclick: () => lift(user, load) }, t("liftRestriction")) : null));
      });
      body.replaceChildren(
        table([t("email"), t("role"), t("status"), t("created"), t("actions")], rows, t("noUsers")),
        pager(result.page, result.pageSize, result.total, load) ?? "");
    } catch (error) {
      failed(body, error, () => load(page));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  const form = h("form.filters", {
    role: "search",
    onsubmit: (event) => {
      event.preventDefault();
      state.q = search.value.trim();
      load(1);
    },
  }, h("div.search-field", {}, icon("search", 16), search), h("button.button.primary", { type: "submit" }, t("searchButton")));
  load();
  return h("div.panel", {}, form, summary, body);
}

/** Asks, then ends `user`'s chat restriction now. */
async function lift(user, done) {
  const yes = await dialog({
    title: t("liftTitle", { email: user.email }),
    deliberate: true,
    text: t("liftText", { date: dateTime(user.restrictedUntil) }),
    confirm: t("liftRestriction"),
  });
  if (!yes) return;
  try {
    await api.liftRestriction(user.id);
    toast(t("liftedDone", { email: user.email }));
    done();
  } catch (error) {
    if (error.status !== 401) toast(errorText(error), "error");
  }
}

function auditPanel() {
  const state = memory.audit;
  const action = h("select", { name: "action", "aria-label": t("action") },
    h("option", { value: "" }, t("allActions")),
    ACTIONS.map((name) => h("option", { value: name, selected: state.action === name }, t(`actionNames.${name}`))));
  const actor = h("input", { type: "text", name: "actorId", value: state.actorId, placeholder: t("actorPlaceholder"), "aria-label": t("actor"), spellcheck: "false" });
  const subject = h("input", { type: "email", name: "subject", value: state.subject, placeholder: t("subjectPlaceholder"), "aria-label": t("subject"), spellcheck: "false" });
  const summary = h("p.panel-summary");
  const body = h("div.panel-body");

  async function load(page = state.page) {
    state.page = page;
    loading(body);
    try {
      const result = await api.listAuditLogs({
        action: state.action || undefined, actorId: state.actorId || undefined, subject: state.subject || undefined, page, pageSize: PAGE_SIZE,
      });
      summary.textContent = result.total === 1 ? t("oneLog") : t("totalLogs", { n: result.total });
      const rows = result.auditLogs.map((entry) => h("tr", { dataset: { action: entry.action } },
        cell(t("time"), h("time", { datetime: entry.createdAt }, dateTime(entry.createdAt))),
        cell(t("action"), h(`span.action-pill.${entry.action}`, {}, has(`actionNames.${entry.action}`) ? t(`actionNames.${entry.action}`) : entry.action)),
        cell(t("actor"), entry.actorId
          ? h(`button.link${entry.actorEmail ? "" : ".mono"}`, { type: "button", title: `${t("actorPlaceholder")}: ${entry.actorId}`, dataset: { actorId: entry.actorId }, onclick: () => { actor.value = entry.actorId; form.requestSubmit(); } }, entry.actorEmail ?? entry.actorId)
          : h("span.muted", {}, "—")),
        cell(t("subject"), entry.subject
          ? h("button.link.log-subject", { type: "button", onclick: () => { subject.value = entry.subject; form.requestSubmit(); } }, entry.subject)
          : h("span.muted", {}, "—")),
        cell(t("message"), h("span.log-message", { title: entry.userAgent || null }, entry.message,
          entry.occurrences > 1 ? h("span.log-repeats", { title: t("repeatsTitle") }, ` ×${entry.occurrences}`) : null)),
        cell(t("ip"), h("span.mono", {}, entry.ip || "—"))));
      body.replaceChildren(
        table([t("time"), t("action"), t("actor"), t("subject"), t("message"), t("ip")], rows, t("noLogs")),
        pager(result.page, result.pageSize, result.total, load) ?? "");
    } catch (error) {
      failed(body, error, () => load(page));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  const form = h("form.filters", {
    onsubmit: (event) => {
      event.preventDefault();
      state.action = action.value;
      state.actorId = actor.value.trim();
      state.subject = subject.value.trim();
      load(1);
    },
  },
    action, actor, subject,
    h("button.button.primary", { type: "submit" }, t("filter")),
    h("button.button.ghost", { type: "button", onclick: () => { action.value = ""; actor.value = ""; subject.value = ""; form.requestSubmit(); } }, t("reset")));
  action.addEventListener("change", () => form.requestSubmit());
  load();
  return h("div.panel", {}, form, summary, body);
}

function exportPanel() {
  const state = memory.export;
  const formats = ["json", "ndjson"].map((format) => h("label.choice", {},
    h("input", { type: "radio", name: "format", value: format, checked: state.format === format, onchange: () => (state.format = format) }),
    h("span", {}, t(format === "json" ? "formatJson" : "formatNdjson"))));
  const since = h("input", { type: "datetime-local", name: "since", value: state.since, onchange: () => (state.since = since.value) });
  const until = h("input", { type: "datetime-local", name: "until", value: state.until, onchange: () => (state.until = until.value) });
  const result = h("p.export-result", { role: "status" });
  const iso = (input) => (input.value ? new Date(input.value).toISOString() : undefined);
  const button = h("button.button.primary.download", { type: "submit" }, icon("download", 16), h("span", {}, t("download")));
  const form = h("form.export-form", {
    onsubmit: async (event) => {
      event.preventDefault();
      button.disabled = true;
      button.lastChild.textContent = t("downloading");
      result.textContent = "";
      result.classList.remove("error");
      try {
        const file = await api.downloadExport({ format: state.format, since: iso(since), until: iso(until) });
        result.textContent = t("downloaded", { file: file.filename, size: bytes(file.blob.size) });
      } catch (error) {
        if (error.status !== 401) {
          result.textContent = errorText(error);
          result.classList.add("error");
        }
      } finally {
        button.disabled = false;
        button.lastChild.textContent = t("download");
      }
    },
  },
    h("fieldset.formats", {}, h("legend", {}, t("format")), formats),
    h("div.range", {},
      h("label.field", {}, h("span", {}, t("since")), since),
      h("label.field", {}, h("span", {}, t("until")), until)),
    h("div.export-actions", {}, button),
    result);
  return h("div.panel.export", {}, h("p.panel-lead", {}, t("exportLead")), form);
}

export function adminView(app) {
  let tab = "users";
  const tabs = h("nav.tabs", { role: "tablist", "aria-label": t("adminTitle") });
  const content = h("div.tab-content");
  const el = h("section.admin", {},
    h("header.admin-head", {},
      h("div", {}, h("h1", {}, t("adminTitle")), h("p", {}, t("adminLead"))),
      tabs),
    h("div.card.admin-card", {}, content));

  function show(name) {
    tab = TABS.includes(name) ? name : "users";
    tabs.replaceChildren(...TABS.map((each) => h("a.tab", {
      href: each === "users" ? "#/admin" : `#/admin/${each}`, role: "tab", dataset: { tab: each },
      "aria-selected": String(each === tab), class: each === tab ? "current" : null,
    }, t(TAB_LABELS[each]))));
    content.replaceChildren(PANELS[tab](app));
  }

  return {
    el,
    title: () => t("adminTitle"),
    update({ id }) {
      if (id !== tab && !(id === undefined && tab === "users" && content.firstChild)) show(id ?? "users");
    },
  };
}
