// The account page's list of signed-in devices (the account's sessions, newest first): which
// browser on which system, from where and when, this device marked; "sign out" for each, and
// "sign out all other devices". Signing out this device ends the session here too.
import * as api from "../api.js";
import { dialog, h, icon, toast } from "../dom.js";
import { dateTime, errorText, relativeTime, t } from "../i18n.js";

const BROWSERS = [
  [/Edg(e|A|iOS)?\//, "Edge"], [/OPR\/|Opera/, "Opera"], [/SamsungBrowser\//, "Samsung Internet"],
  [/Firefox\/|FxiOS\//, "Firefox"], [/Chrom(e|ium)\/|CriOS\//, "Chrome"], [/Version\/[\d.]+.*Safari\//, "Safari"],
];
const SYSTEMS = [
  [/iPhone|iPad|iPod/, "iOS"], [/Android/, "Android"], [/CrOS/, "ChromeOS"], [/Windows/, "Windows"],
  [/Mac OS X|Macintosh/, "macOS"], [/Linux/, "Linux"],
];

/** "Chrome on Linux" from a User-Agent header; the header itself when it names no browser. */
export function deviceName(userAgent) {
  const ua = String(userAgent ?? "").trim();
  if (!ua) return t("unknownDevice");
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (browser && system) return t("deviceOn", { browser, system });
  if (browser || system) return browser || system;
  return ua.length > 48 ? `${ua.slice(0, 47)}…` : ua;
}

const isPhone = (userAgent) => /iPhone|iPod|Android.*Mobile|Mobile Safari/.test(String(userAgent ?? ""));

/** The panel: `{el, load()}`. `app.endSession` takes over when this device is signed out. */
export function devicesPanel(app) {
  const list = h("ul.device-list", { "aria-label": t("devicesTitle"), "aria-busy": "true" });
  const others = h("button.button.danger-ghost.small.revoke-others", { type: "button", disabled: true, onclick: signOutOthers },
    icon("logout", 15), h("span", {}, t("signOutOthers")));
  const result = h("p.panel-result", { role: "status" });
  let sessions = [];

  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      ({ sessions } = await api.listSessions());
      render();
    } catch (error) {
      if (error.status === 401) return;
      list.replaceChildren(h("li.devices-error", { role: "alert" }, errorText(error), " ",
        h("button.link", { type: "button", onclick: load }, t("retry"))));
    } finally {
      list.removeAttribute("aria-busy");
    }
  }

  function render() {
    others.disabled = !sessions.some((session) => !session.current);
    list.replaceChildren(...sessions.map((session) => {
      const name = deviceName(session.userAgent);
      const facts = [
        session.ip ? t("deviceFrom", { ip: session.ip }) : null,
        t("deviceSignedIn", { when: dateTime(session.createdAt) }),
        session.lastUsedAt ? t("deviceLastActive", { when: relativeTime(session.lastUsedAt) }) : null,
      ].filter(Boolean);
      return h("li.device", { dataset: { id: session.id, current: String(session.current) }, class: session.current ? "current" : null },
        h("span.device-icon", { "aria-hidden": "true" }, icon(isPhone(session.userAgent) ? "phone" : "device", 20)),
        h("div.device-text", {},
          h("p.device-name", { title: session.userAgent ?? null }, h("span", {}, name),
            session.current ? h("span.badge.this-device", {}, t("thisDevice")) : null),
          h("p.device-facts", {}, facts.join(" · "))),
        h("button.button.ghost.small.sign-out", {
          type: "button", "aria-label": `${t(session.current ? "signOutHere" : "signOut")}: ${name}`,
          onclick: () => signOut(session),
        }, t(session.current ? "signOutHere" : "signOut")));
    }));
  }

  async function signOut(session) {
    try {
      await api.revokeSession(session.id);
    } catch (error) {
      if (error.status === 401) return;
      if (error.status !== 404) { // 404 (session_not_found): already gone, which is what was asked
        toast(errorText(error), "error");
        return;
      }
    }
    if (session.current) {
      app.endSession(t("loggedOut"));
      return;
    }
    result.textContent = t("deviceSignedOut", { name: deviceName(session.userAgent) });
    await load();
    list.querySelector("button.sign-out")?.focus();
  }

  async function signOutOthers() {
    const yes = await dialog({ title: t("signOutOthersTitle"), text: t("signOutOthersText"), confirm: t("signOutOthers"), danger: true });
    if (!yes) return;
    try {
      const { revoked } = await api.revokeOtherSessions();
      result.textContent = revoked === 1 ? t("othersSignedOutOne") : t("othersSignedOut", { n: revoked });
      await load();
    } catch (error) {
      if (error.status !== 401) toast(errorText(error), "error");
    }
  }

  load();
  return {
    el: h("div.devices-panel", {}, list, h("div.panel-actions", {}, others, result)),
    load,
  };
}
