// Checks of issue 24's site pieces that need no browser and no server: the report, terms and
// consent calls of api.js go to the routes of docs/reports-consent-api.md with its bodies, every
// text of i18n-trust.js exists in both languages and clashes with no other text, and the static
// documents (terms.html, privacy.html, reports.html) are there, marked as placeholders the
// operator replaces, in both languages, with a strict Content-Security-Policy.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import { recordCalls } from "./fetch-record.mjs";
import { assertStrings } from "./i18n-check.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const SITE = join(ROOT, "frontend-dist");
const load = (file) => import(pathToFileURL(join(SITE, file)).href);
const api = await load("api.js");
const { TRUST_STRINGS } = await load("i18n-trust.js");
const { ACCOUNT_STRINGS } = await load("i18n-account.js");
const { ADMIN_STRINGS } = await load("i18n-admin.js");
const { USAGE_STRINGS } = await load("i18n-usage.js");

test("the report, terms and consent calls go to the contract's routes, with its bodies", async (t) => {
  const sent = recordCalls(t);
  await api.getAbout();
  await api.register({ email: "a@example.com", password: "password", locale: "zh", acceptTerms: "2026-12-06" });
  await api.acceptTerms("2026-12-06");
  await api.giveHealthConsent();
  await api.withdrawHealthConsent();
  await api.withdrawHealthConsent({ deleteConversations: true });
  await api.reportReply("c/1", "m 2", { reason: "wrong", comment: "It is wrong" });
  await api.reportReply("c1", "m2", { reason: "other", comment: "" });
  await api.listMyReports();
  await api.listMyReports({ page: 2, pageSize: 10 });
  await api.listReports({ status: "open", page: 2, pageSize: 20 });
  await api.listReports();
  await api.decideReport("r/1", { outcome: "actioned", hideReply: true, userAction: "restrict", restrictDays: 3, note: "n" });
  assert.deepEqual(sent, [
    ["GET", "/api/chat/about", undefined],
    ["POST", "/api/auth/register", { email: "a@example.com", password: "password", locale: "zh", acceptTerms: "2026-12-06" }],
    ["POST", "/api/account/terms", { version: "2026-12-06" }],
    ["POST", "/api/account/health-consent", undefined],
    ["DELETE", "/api/account/health-consent?deleteConversations=false", undefined],
    ["DELETE", "/api/account/health-consent?deleteConversations=true", undefined],
    ["POST", "/api/chat/conversations/c%2F1/messages/m%202/report", { reason: "wrong", comment: "It is wrong" }],
    ["POST", "/api/chat/conversations/c1/messages/m2/report", { reason: "other" }],
    ["GET", "/api/account/reports", undefined],
    ["GET", "/api/account/reports?page=2&pageSize=10", undefined],
    ["GET", "/api/admin/reports?status=open&page=2&pageSize=20", undefined],
    ["GET", "/api/admin/reports", undefined],
    ["POST", "/api/admin/reports/r%2F1/decision", { outcome: "actioned", hideReply: true, userAction: "restrict", restrictDays: 3, note: "n" }],
  ]);

  // The gates' errors keep what the site needs from them: the version, the date.
  globalThis.fetch = async () => new Response('{"error":{"code":"terms_required","message":"no","termsVersion":"2026-12-06"}}', { status: 403 });
  await assert.rejects(api.register({ email: "a@example.com", password: "password" }), (error) => {
    assert.equal(error.status, 403);
    assert.equal(error.code, "terms_required");
    assert.equal(error.body.error.termsVersion, "2026-12-06");
    return true;
  });
});

test("every text of i18n-trust.js is in Chinese and in English, with the same placeholders, and clashes with no other text", () => {
  assertStrings("i18n-trust.js", TRUST_STRINGS, [ACCOUNT_STRINGS, ADMIN_STRINGS, USAGE_STRINGS]);
});

for (const [page, { script }] of Object.entries({ "terms.html": { script: false }, "privacy.html": { script: false }, "reports.html": { script: true } })) {
  test(`${page}: an operator-editable placeholder in both languages, on the site's styles, under a strict CSP`, () => {
    const file = join(SITE, page);
    assert.ok(existsSync(file), `${page} exists`);
    const html = readFileSync(file, "utf8");
    const head = html.slice(0, html.indexOf("<html"));
    assert.match(head, /OPERATOR: THIS FILE IS YOURS TO EDIT/);
    if (page !== "reports.html") assert.match(head, /TERMS_VERSION/, "the comment says to change TERMS_VERSION");
    assert.match(html, /class="placeholder-banner"/);
    assert.match(html, /占位/);
    assert.match(html, /PLACEHOLDER/);
    assert.match(html, /<section id="zh" lang="zh-CN">/);
    assert.match(html, /<section id="en" lang="en">/);
    assert.match(html, /<link rel="stylesheet" href="styles.css">/);
    assert.match(html, /<link rel="stylesheet" href="legal.css">/);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, script ? /script-src 'self'/ : /script-src 'none'/);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc="legal\.js")/, "no inline script");
    for (const other of ["terms.html", "privacy.html", "reports.html"]) assert.ok(html.includes(`href="${other}"`), `links ${other}`);
  });
}

test("privacy.html covers what is collected, health information and its separate consent, retention, rights and a contact", () => {
  const html = readFileSync(join(SITE, "privacy.html"), "utf8");
  for (const anchor of ['id="health-zh"', 'id="health-en"']) assert.ok(html.includes(anchor), anchor);
  for (const words of ["单独同意", "separate consent", "保存多久", "How long we keep it", "下载我的数据", "Download my data", "删除", "Deletion", "联系", "Contact"]) {
    assert.ok(html.includes(words), words);
  }
  const reports = readFileSync(join(SITE, "reports.html"), "utf8");
  assert.equal((reports.match(/<span data-report-days/g) ?? []).length, 2, "the response time, in each language, read from the API");
  for (const words of ["隐藏", "Hide the reply", "警告", "Warn", "限制", "Restrict", "封禁", "Ban", "主管部门报告", "report to the competent authorities", "账号页面", "account page"]) {
    assert.ok(reports.includes(words), words);
  }
});
