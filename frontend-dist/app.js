// The site's entry point: the top bar, the session, the notice that asks for a confirmed
// address, and hash routes that work on any static host: #/login, #/register, #/chat,
// #/chat/<conversation id>, #/account, #/constitution[/new|/<result id>] (the constitution
// self-assessment), #/admin[/reports|/usage|/audit|/export], and the pages of
// the mail links, #/forgot, #/reset/<token>, #/verify/<token>. While the server has terms the
// account has not accepted (in their current version), the chat gives way to the step that asks
// for them (trust.js). Everything talks to the API through api.js; all text comes from i18n.js.
import * as api from "./api.js";
import { h, icon, toast } from "./dom.js";
import { errorText, lang, onLangChange, setLang, t } from "./i18n.js";
import { accountView } from "./views/account.js";
import { adminView } from "./views/admin.js";
import { authView } from "./views/auth.js";
import { chatView, resetChat } from "./views/chat.js";
import { constitutionView, forgetConstitution } from "./views/constitution.js";
import { forgotView, resetView, verifyView } from "./views/recovery.js";
import { currentAbout, loadAbout, termsNeeded, termsView } from "./views/trust.js";
import { needsVerification, verifyNotice } from "./views/verify-notice.js";

const topbar = document.getElementById("topbar");
const main = document.getElementById("view");
// Pages anyone may open, signed in or not: the mail links may be opened in either state.
const OPEN_PAGES = ["forgot", "reset", "verify"];
// Pages for a signed-in account (the address is kept for after the login).
const SIGNED_IN_PAGES = ["chat", "admin", "account", "constitution"];

let current = null; // {name, view}
let chat = null; // kept for the whole session, so a streaming reply survives a visit elsewhere
let admin = null;
let constitution = null; // kept while the language stays: its part changes with the address
let booted = false;

export const app = {
  user: null,
  /** The AccountView (GET /api/account), read when the address is not confirmed or on #/account. */
  account: null,
  flash: null,
  /** The PATCH of a language switch under way (the account page waits for it). */
  localeSync: null,
  /** The address typed on the login page, for #/forgot. */
  typedEmail: "",

  /** The message for the login screen (kept until someone signs in). */
  takeFlash() {
    return this.flash;
  },

  /** After login, registration or a password reset: `{user, token}`; then to `next` or the page asked for. */
  signedIn({ user, token }, next = null) {
    if (this.user) forgetViews(); // another account's chat must not stay behind
    api.setToken(token);
    this.user = user;
    this.account = null;
    this.flash = null;
    this.typedEmail = "";
    const intended = this.intended && this.intended !== "#/login" ? this.intended : "#/chat";
    this.intended = null;
    loadAccount();
    go(next ?? intended);
  },

  /**
   * Forgets the session and shows the login page with `text`. `expired`: the server ended it
   * (not the person): the unsent self-assessment answers stay in this tab for the same account.
   */
  endSession(text, kind = "info", { expired = false } = {}) {
    api.setToken(null);
    this.user = null;
    this.account = null;
    forgetViews({ expired });
    this.closeDrawer();
    document.querySelectorAll("dialog.modal").forEach((modal) => modal.remove());
    this.flash = text ? { text, kind } : null;
    notice.render();
    go("#/login");
  },

  /** An address was confirmed (`account`: the AccountView of a verification): the notice goes if it was ours. */
  addressVerified(account) {
    if (!this.user || !account || account.id !== this.user.id) return;
    this.user = { ...this.user, emailVerified: true };
    this.account = { ...(this.account ?? account), ...account, emailVerified: true };
    notice.render();
  },

  /** Shows or hides the notice for what `app.account` now says. */
  refreshNotice() {
    notice.render();
  },

  closeDrawer() {
    document.body.classList.remove("drawer-open");
    document.getElementById("menu-button")?.setAttribute("aria-expanded", "false");
  },

  /** The chat view is built afresh at the next visit (its conversations changed elsewhere). */
  forgetChat() {
    chat = null;
  },

  /** Logs out this session (the terms step offers it). */
  logout() {
    return logout(false);
  },
};

function forgetViews({ expired = false } = {}) {
  resetChat();
  forgetConstitution({ keepDraft: expired });
  chat = null;
  admin = null;
  constitution = null;
}

const notice = verifyNotice(app);
document.body.insertBefore(notice.el, main);

/** Reads the account when the address may still need confirming, and shows the notice accordingly. */
async function loadAccount() {
  const user = app.user;
  if (!user || user.emailVerified === true) {
    notice.render();
    return;
  }
  try {
    const account = await api.getAccount();
    if (app.user?.id === account.id) app.account = account;
  } catch {
    // no notice this time; the account page says it all
  }
  notice.render();
}

/** The stored token stopped working (expired, logged out elsewhere, banned): back to login. */
api.onUnauthorized(() => {
  if (app.user) app.endSession(t("sessionEnded"), "warn", { expired: true });
});

function parse(hash = location.hash) {
  const [page = "", id] = hash.replace(/^#\/?/, "").split("/");
  return { page, id: id ? decodeURIComponent(id) : undefined };
}

/** Goes to `hash` (replacing the current history entry) and routes at once. */
function go(hash) {
  if (location.hash !== hash) history.replaceState(null, "", hash);
  route();
}

// ---------------------------------------------------------------------------------- top bar

function renderTopbar() {
  const signedIn = Boolean(app.user);
  const page = parse().page;
  const onChat = signedIn && page === "chat" && !termsNeeded(app);
  const other = lang() === "zh" ? "en" : "zh";

  const menuButton = onChat
    ? h("button.icon-button.menu-button", {
      type: "button", id: "menu-button", "aria-label": t("menu"), title: t("menu"), "aria-controls": "sidebar",
      "aria-expanded": String(document.body.classList.contains("drawer-open")),
      onclick: () => {
        const open = document.body.classList.toggle("drawer-open");
        menuButton.setAttribute("aria-expanded", String(open));
      },
    }, icon("menu", 20))
    : null;

  const langSwitch = h("button.lang-switch", {
    type: "button", id: "lang-switch", lang: other === "zh" ? "zh-CN" : "en", title: t("switchLabel"), "aria-label": t("switchLabel"),
    onclick: () => setLang(other),
  }, icon("globe", 16), h("span.long", {}, t("switchTo")), h("span.short", {}, t("switchToShort")));

  let account = null;
  if (signedIn) {
    const menu = h("div.account-menu", { id: "account-menu", role: "menu", hidden: true },
      h("div.account-head", {},
        h("span.account-email", { id: "who" }, app.user.email),
        h(`span.badge.${app.user.role === "ADMIN" ? "admin" : "user"}`, {}, t(app.user.role === "ADMIN" ? "roleAdmin" : "roleUser"))),
      h("a.menu-item", { href: "#/account", role: "menuitem", id: "nav-account", dataset: { action: "account" }, "aria-current": page === "account" ? "page" : null, onclick: closeMenu }, icon("user", 16), t("accountSettings")),
      h("button.menu-item", { type: "button", role: "menuitem", dataset: { action: "logout" }, onclick: () => logout(false) }, icon("logout", 16), t("logout")),
      h("button.menu-item", { type: "button", role: "menuitem", dataset: { action: "logout-all" }, onclick: () => logout(true) }, icon("shield", 16), t("logoutAll")));
    const button = h("button.account-button", {
      type: "button", id: "account-button", "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": "account-menu",
      title: app.user.email, "aria-label": `${t("account")}: ${app.user.email}`,
      onclick: (event) => {
        event.stopPropagation();
        menu.hidden = !menu.hidden;
        button.setAttribute("aria-expanded", String(!menu.hidden));
        if (!menu.hidden) menu.querySelector("button")?.focus();
      },
    }, h("span.avatar", { "aria-hidden": "true" }, (app.user.email[0] || "?").toUpperCase()), h("span.account-name", {}, app.user.email));
    account = h("div.account", {}, button, menu);
  }

  // Only admins have somewhere else to go.
  const nav = signedIn && app.user.role === "ADMIN"
    ? h("nav.nav", { "aria-label": t("brand") },
      h("a", { href: "#/chat", id: "nav-chat", class: page === "chat" ? "current" : null, "aria-current": page === "chat" ? "page" : null }, t("chat")),
      h("a", { href: "#/admin", id: "nav-admin", class: page === "admin" ? "current" : null, "aria-current": page === "admin" ? "page" : null }, t("admin")))
    : null;
  topbar.classList.toggle("with-nav", Boolean(nav));

  topbar.replaceChildren(
    menuButton ?? "",
    h("a.brand", { href: signedIn ? "#/chat" : "#/login" },
      h("span.seal", { "aria-hidden": "true" }, "易"),
      h("span.brand-text", {}, h("strong", {}, t("brand")), h("small", {}, t("tagline")))),
    nav ?? "",
    h("div.top-actions", {}, langSwitch, account ?? ""));
}

function closeMenu() {
  const menu = document.getElementById("account-menu");
  if (menu) menu.hidden = true;
  document.getElementById("account-button")?.setAttribute("aria-expanded", "false");
}

document.addEventListener("click", (event) => {
  const menu = document.getElementById("account-menu");
  if (menu && !menu.hidden && !menu.contains(event.target)) closeMenu();
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  app.closeDrawer();
  const menu = document.getElementById("account-menu");
  if (menu && !menu.hidden) {
    menu.hidden = true;
    document.getElementById("account-button")?.focus();
  }
});

async function logout(all) {
  let text = t("loggedOut");
  try {
    const { revoked } = await api.logout({ all });
    if (all) text = t("loggedOutAll", { n: revoked });
  } catch (error) {
    // Already gone on the server: logging out here is what matters.
    if (error.status !== 401) toast(errorText(error), "error");
  }
  app.endSession(text);
}

// ---------------------------------------------------------------------------------- routing

function show(name, view) {
  if (current?.view !== view) {
    main.replaceChildren(view.el);
    main.dataset.view = name;
    current = { name, view };
    view.mounted?.();
  }
  document.title = `${typeof view.title === "function" ? view.title() : view.title} · ${t("brand")}`;
}

/** The pages of the mail links: a fresh view each time (their tokens are in the address). */
function openPage(page, id) {
  if (page === "forgot") return forgotView(app);
  return page === "reset" ? resetView(app, id ?? "") : verifyView(app, id ?? "");
}

async function route() {
  let { page, id } = parse();
  if (!booted) return;
  if (OPEN_PAGES.includes(page)) {
    app.closeDrawer();
    renderTopbar();
    show(page, openPage(page, id));
    return;
  }
  if (!app.user) {
    if (page !== "login" && page !== "register") {
      if (SIGNED_IN_PAGES.includes(page)) app.intended = location.hash;
      history.replaceState(null, "", "#/login");
      page = "login";
    }
    renderTopbar();
    show("auth", authView(app, page));
    return;
  }
  if (page === "admin" && app.user.role !== "ADMIN") {
    toast(t("errors.admin_only"), "error");
    page = "";
  }
  if (!SIGNED_IN_PAGES.includes(page)) {
    history.replaceState(null, "", "#/chat");
    page = "chat";
    id = undefined;
  }
  if (page !== "chat") app.closeDrawer();
  renderTopbar();
  if (page === "account") {
    if (current?.name !== "account") show("account", accountView(app));
    else show("account", current.view);
  } else if (page === "constitution") {
    constitution = constitution ?? constitutionView(app);
    show("constitution", constitution);
    constitution.update({ id });
  } else if (page === "admin") {
    admin = admin ?? adminView(app);
    show("admin", admin);
    admin.update({ id });
  } else if (termsNeeded(app)) {
    // The chat waits until the account has accepted the current terms.
    if (current?.name !== "terms") show("terms", termsView(app, () => route()));
    else show("terms", current.view);
  } else {
    chat = chat ?? chatView(app);
    show("chat", chat);
    chat.update({ id });
    // Not known yet whether the server has terms: asked, and the step shown if it turns out so.
    if (!currentAbout()) {
      loadAbout().then(() => {
        if (current?.name === "chat" && termsNeeded(app)) route();
      });
    }
  }
}

window.addEventListener("hashchange", () => route());

onLangChange((language) => {
  // The account's mail follows the language its owner reads the site in.
  if (app.user) {
    app.localeSync = api.updateAccount({ locale: language })
      .then((account) => {
        if (app.user?.id === account.id && app.account) app.account = { ...app.account, ...account };
      })
      .catch(() => {});
  }
  notice.render();
  renderTopbar();
  if (!current) return;
  if (current.name === "chat") {
    chat.rerender();
    current.view = chat;
    main.replaceChildren(chat.el);
    chat.mounted?.();
  } else if (current.name === "admin") {
    admin = null;
    current = null;
  } else if (current.name === "constitution") {
    constitution = null; // built again in the new language; the answers are kept outside it
    current = null;
  } else {
    current = null;
  }
  route();
});

// Coming back to the tab: make sure the session still stands (a ban ends it), and see whether
// the address was confirmed meanwhile (the link is often opened in another tab).
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible" || !app.user) return;
  if (needsVerification(app.account)) loadAccount();
  else api.session().catch(() => {});
});

async function boot() {
  main.replaceChildren(h("div.splash", { role: "status" }, h("span.seal.big", { "aria-hidden": "true" }, "易"), h("span.sr-only", {}, "…")));
  const about = loadAbout(); // the terms the server asks for, beside the session
  if (api.getToken()) {
    try {
      app.user = (await api.session()).user;
    } catch (error) {
      if (error.status === 401) api.setToken(null);
      else app.flash = { text: errorText(error), kind: "warn" };
    }
  }
  // (Not for long: the chat routes again if terms turn up later.)
  await Promise.race([about, new Promise((resolve) => setTimeout(resolve, 3000))]);
  booted = true;
  loadAccount();
  route();
}

boot();
