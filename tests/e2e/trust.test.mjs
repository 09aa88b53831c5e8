// Reports and consent (issue 24) as people meet them, in headless Chromium against `make dev`
// started with TERMS_VERSION and HEALTH_CONSENT=required: registering asks for the terms of
// service and privacy policy (and the API refuses an account without them); an account on older
// terms gets the terms step before the chat; the TCM adviser needs the separate consent to health
// information (asked for before it is chosen, and when a message is refused), which the account
// page withdraws, offering to delete the TCM conversations; a reply is reported (reason, comment),
// an administrator decides it in the queue (hide and warn), and the reporter sees the reply
// hidden and the outcome on the account page; a restriction refuses the chat until a date; in
// English and Chinese, on a phone too. Screenshots: tests/e2e/screenshots/trust-*.png.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ask, close, closeBrowser, launchBrowser, loginInUi, open, shot, submitLogin, PASSWORD } from "./browser.mjs";
import { ADMIN_EMAIL, apiClient, startStack } from "./stack.mjs";

const VERSION = "2026-12-06";

let stack;
let api;
let about;

before(async () => {
  stack = await startStack({ env: { TERMS_VERSION: VERSION, HEALTH_CONSENT: "required" } });
  api = apiClient(stack.base);
  await launchBrowser(stack, { timezoneId: "UTC" });
  about = (await api("GET", "/api/chat/about")).body;
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

// ------------------------------------------------------------------------------------ helpers

/** Registers `email` through the API, accepting the current terms; returns the token. */
async function registerAccepted(email) {
  const { status, body } = await api("POST", "/api/auth/register", { body: { email, password: PASSWORD, acceptTerms: VERSION } });
  assert.equal(status, 201, JSON.stringify(body));
  return body.token;
}

/** The administrator's token (registered once, logged in after). */
async function adminToken() {
  const registered = await api("POST", "/api/auth/register", { body: { email: ADMIN_EMAIL, password: PASSWORD, acceptTerms: VERSION } });
  if (registered.status === 201) return registered.body.token;
  const { status, body } = await api("POST", "/api/auth/login", { body: { email: ADMIN_EMAIL, password: PASSWORD } });
  assert.equal(status, 200, JSON.stringify(body));
  return body.token;
}

/** A whole turn through the API (no stream): `{conversationId, messageId, reply}`. */
async function chatTurn(token, type, content, conversationId) {
  const { status, body } = await api("POST", "/api/chat", {
    token, body: { type, messages: [{ role: "user", content }], ...(conversationId ? { conversationId } : {}) },
  });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** The account page, through the account menu. */
async function openAccountPage(page) {
  await page.click("#account-button");
  await page.click("#nav-account");
  await page.locator(".account-section.reports").waitFor();
}

const noSidewaysScroll = async (page, what) => {
  const extra = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(extra <= 0, `${what}: no sideways scrolling (${extra}px too wide)`);
};

// -------------------------------------------------------------------------------------- tests

for (const { locale, lang, label, needed, link, terms, privacy } of [
  {
    locale: "en-US", lang: "en", label: "I accept the terms of service and the privacy policy",
    needed: "Please read and accept the terms of service and the privacy policy.", link: "Terms of service", terms: "terms of service", privacy: "privacy policy",
  },
  {
    locale: "zh-CN", lang: "zh", label: "我已阅读并同意《服务条款》和《隐私政策》",
    needed: "请先阅读并勾选同意服务条款和隐私政策。", link: "服务条款", terms: "《服务条款》", privacy: "《隐私政策》",
  },
]) {
  test(`registering needs the terms of service and the privacy policy accepted (${lang})`, async () => {
    const page = await open({ locale });
    try {
      const registrations = [];
      page.on("request", (r) => r.url().endsWith("/api/auth/register") && registrations.push(r));
      await page.goto(`${stack.base}/#/register`);
      const box = page.locator(".terms-field");
      await box.waitFor(); // shown once /api/chat/about says there are terms
      assert.equal(await box.locator("label.terms-check").innerText(), label);
      assert.equal(await box.locator(`a[href="terms.html"]`).innerText(), terms);
      assert.equal(await box.locator(`a[href="privacy.html"]`).innerText(), privacy);
      assert.equal(await box.locator(`a[href="terms.html"]`).getAttribute("target"), "_blank");
      await box.locator(".field-hint", { hasText: VERSION }).waitFor();
      // The site's footer links to the three documents.
      await page.locator(".auth-legal a[href='reports.html']").waitFor();
      assert.equal(await page.locator(".auth-legal a[href='terms.html']").innerText(), link);

      await page.fill("input[name=email]", `terms-${lang}@example.com`);
      await page.fill("input[name=password]", PASSWORD);
      await page.click("form.auth-form button[type=submit]");
      await page.locator("#auth-terms-error", { hasText: needed }).waitFor();
      assert.equal(await page.locator("#auth-terms").getAttribute("aria-invalid"), "true");
      assert.equal(registrations.length, 0, "nothing is sent before the box is ticked");
      await shot(page, `trust-register-${lang}`);

      await page.check("#auth-terms");
      const [request] = await Promise.all([
        page.waitForRequest((r) => r.url().endsWith("/api/auth/register")),
        page.click("form.auth-form button[type=submit]"),
      ]);
      assert.equal(request.postDataJSON().acceptTerms, VERSION);
      await page.locator(".composer textarea").waitFor();
      assert.equal(await page.locator(".terms-gate").count(), 0, "accepted at registration: no terms step");
      const { body } = await api("GET", "/api/account", { token: await page.evaluate(() => localStorage.getItem("auth_token")) });
      assert.equal(body.acceptedTerms, VERSION);
      await ask(page, lang === "zh" ? "你好" : "Hello");
    } finally {
      await close(page);
    }
  });
}

test("the API refuses an account without the current terms; the documents are served and say how reports are handled", async () => {
  for (const acceptTerms of [undefined, "2000-01-01"]) {
    const { status, body } = await api("POST", "/api/auth/register", {
      body: { email: "no-terms@example.com", password: PASSWORD, ...(acceptTerms ? { acceptTerms } : {}) },
    });
    assert.equal(status, 403, JSON.stringify(body));
    assert.equal(body.error.code, "terms_required");
    assert.equal(body.error.termsVersion, VERSION);
  }
  assert.equal(about.termsVersion, VERSION);
  assert.equal(about.healthConsent, "required");
  assert.ok(Number.isInteger(about.reportResponseDays) && about.reportResponseDays > 0, JSON.stringify(about));

  // The three documents are files of the site (not the 404 page), in both languages.
  for (const [page, zh, en] of [["terms.html", "服务条款", "Terms of service"], ["privacy.html", "隐私政策", "Privacy policy"], ["reports.html", "举报如何处理", "How reports are handled"]]) {
    const response = await fetch(`${stack.base}/${page}`);
    assert.equal(response.status, 200, page);
    const html = await response.text();
    assert.ok(html.includes(`<h1>${zh}</h1>`) && html.includes(`<h1>${en}</h1>`), page);
    assert.ok(html.includes("PLACEHOLDER"), `${page} is marked as a placeholder`);
  }

  // The reports page reads the response time from the API.
  const page = await open({ path: "/reports.html" });
  try {
    const days = about.reportResponseDays;
    await page.locator(`#en [data-report-days][data-days="${days}"]`, { hasText: days === 1 ? "1 day" : `${days} days` }).waitFor();
    await page.locator(`#zh [data-report-days][data-days="${days}"]`, { hasText: `${days} 天` }).waitFor();
    await page.locator(".placeholder-banner").waitFor();
    await shot(page, "trust-reports-page");
  } finally {
    await close(page);
  }
});

test("an account on older terms meets the terms step before the chat; a newer version found on accepting is shown at once", async () => {
  const email = "older-terms@example.com";
  await registerAccepted(email);
  const page = await open({ locale: "en-US", viewport: { width: 390, height: 844 } });
  try {
    // The server is made to look as if it had moved on to newer terms: this page's about says
    // 2027-01-01, the server still has VERSION (it answers the first Accept with 409 terms_outdated).
    await page.route("**/api/chat/about", (route) => route.fulfill({ json: { ...about, termsVersion: "2027-01-01" } }));
    await page.goto(`${stack.base}/#/login`);
    await page.reload();
    await submitLogin(page, email);
    const gate = page.locator(".terms-gate");
    await gate.waitFor();
    assert.equal(await page.locator(".composer").count(), 0, "no chat until the terms are accepted");
    await gate.locator(".gate-text", { hasText: "Our terms of service or privacy policy have changed (version 2027-01-01)" }).waitFor();
    await gate.locator("a[href='terms.html']").waitFor();
    await gate.locator("a[href='privacy.html']").waitFor();
    await gate.locator("a[href='#/account']").waitFor();
    await noSidewaysScroll(page, "the terms step on a phone");
    await shot(page, "trust-terms-step-phone");

    const [first] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/account/terms")),
      gate.locator("button.accept-terms").click(),
    ]);
    assert.equal(first.status(), 409);
    assert.deepEqual(first.request().postDataJSON(), { version: "2027-01-01" });
    await gate.locator(".field-error", { hasText: "The terms have just been updated" }).waitFor();
    await gate.locator(".gate-text", { hasText: `(version ${VERSION})` }).waitFor();
    const [second] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/account/terms")),
      gate.locator("button.accept-terms").click(),
    ]);
    assert.equal(second.status(), 200);
    assert.deepEqual(second.request().postDataJSON(), { version: VERSION });
    await page.locator(".composer textarea").waitFor();
    await ask(page, "Accepted, may I ask?");
  } finally {
    await close(page);
  }
});

test("the TCM adviser asks for consent to health information: declined, the Oracle stays; agreed, the reply comes (en)", async () => {
  const email = "consent-en@example.com";
  const token = await registerAccepted(email);
  const page = await open({ locale: "en-US" });
  try {
    const consents = [];
    page.on("request", (r) => r.url().includes("/api/account/health-consent") && consents.push(r.method()));
    await loginInUi(page, email);
    await page.click(".persona.tcm");
    const step = page.locator("dialog[data-dialog=health-consent]");
    await step.waitFor();
    const said = await step.innerText();
    for (const words of ["Your health information", "sensitive personal information", "separate consent", "What:", "Why:", "Optional:", "keep using the Oracle", "Withdraw any time:", "account page"]) {
      assert.ok(said.includes(words), `the step says "${words}":\n${said}`);
    }
    assert.equal(await step.locator("a[href='privacy.html#health-en']").count(), 1);
    await shot(page, "trust-consent-en");
    await step.locator("button[value=cancel]", { hasText: "Not now" }).click();
    await step.waitFor({ state: "detached" });
    assert.equal(await page.locator(".persona.oracle").getAttribute("aria-pressed"), "true", "declined: still the Oracle");
    assert.deepEqual(consents, []);

    await page.click(".persona.tcm");
    const [given] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/account/health-consent")),
      step.locator("button[value=confirm]", { hasText: "I agree" }).click(),
    ]);
    assert.equal(given.status(), 200);
    await page.locator(".persona.tcm[aria-pressed=true]").waitFor();
    const reply = await ask(page, "How can I sleep better?");
    assert.match(await reply.locator(".content").innerText(), /TCM adviser heard: “How can I sleep better\?”/);
    assert.ok((await api("GET", "/api/account", { token })).body.healthConsentAt, "the server has the consent");
    // Chosen again later: no second question.
    await page.click(".persona.oracle");
    await page.click(".persona.tcm");
    await page.locator(".persona.tcm[aria-pressed=true]").waitFor();
    assert.equal(await step.count(), 0);
  } finally {
    await close(page);
  }
});

test("a TCM message refused for want of consent brings up the step; agreed, it is sent again and answered (zh)", async () => {
  const email = "consent-zh@example.com";
  await registerAccepted(email);
  const page = await open({ locale: "zh-CN" });
  try {
    // The TCM adviser chosen in an earlier visit (the choice is remembered in the browser).
    await page.evaluate(() => localStorage.setItem("chat_kind", "tcm"));
    await page.reload();
    await loginInUi(page, email);
    assert.equal(await page.locator(".persona.tcm").getAttribute("aria-pressed"), "true");
    const answers = [];
    page.on("response", (r) => r.url().endsWith("/api/chat") && answers.push(r.status()));
    await page.fill(".composer textarea", "秋天如何养肺？");
    await page.press(".composer textarea", "Enter");
    const step = page.locator("dialog[data-dialog=health-consent]");
    await step.locator("h2", { hasText: "同意处理你的健康信息" }).waitFor();
    const said = await step.innerText();
    for (const words of ["敏感个人信息", "单独征求你的同意", "完全自愿", "随时撤回", "账号页面"]) assert.ok(said.includes(words), words);
    assert.equal(await step.locator("a[href='privacy.html#health-zh']").count(), 1);
    assert.deepEqual(answers, [403]);
    await shot(page, "trust-consent-refused-zh");
    await step.locator("button[value=confirm]", { hasText: "同意" }).click();
    await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status === "done", null, { timeout: 30_000 });
    assert.match(await page.locator(".message.assistant").last().locator(".content").innerText(), /中医顾问听到了你的问题：“秋天如何养肺？”/);
    assert.deepEqual(answers, [403, 200], "refused once, then sent again");
    assert.equal(await page.locator(".message.user").count(), 1, "the message is shown once");
  } finally {
    await close(page);
  }
});

test("a refused TCM message with a sign of crisis still shows the hotline card, behind the consent step and after declining (zh)", async () => {
  const email = "consent-crisis@example.com";
  await registerAccepted(email);
  const page = await open({ locale: "zh-CN" });
  try {
    await page.evaluate(() => localStorage.setItem("chat_kind", "tcm"));
    await page.reload();
    await loginInUi(page, email);
    await page.fill(".composer textarea", "我不想活了");
    await page.press(".composer textarea", "Enter");
    const step = page.locator("dialog[data-dialog=health-consent]");
    await step.locator("h2", { hasText: "同意处理你的健康信息" }).waitFor();
    // Consent is a deliberate act: the step opens with the focus on "not now", so an Enter meant
    // for the message box cannot give it.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("value")), "cancel");
    const card = page.locator(".message.user .red-flag-card.crisis");
    await card.waitFor({ state: "attached" });
    assert.match(await card.textContent(), /12356/);
    await step.locator("button[value=cancel]").click();
    await card.waitFor();
    assert.match(await card.innerText(), /12356/, "declined, the card stays in view");
    await shot(page, "trust-consent-crisis-zh");
  } finally {
    await close(page);
  }
});

test("withdrawing the consent on the account page: TCM refused again (back to the Oracle), and the TCM conversations deleted on request", async () => {
  const email = "withdraw@example.com";
  const token = await registerAccepted(email);
  assert.equal((await api("POST", "/api/account/health-consent", { token })).status, 200);
  const tcm = await chatTurn(token, "tcm", "What suits a cold winter?");
  const oracle = await chatTurn(token, "oracle", "What does change bring?");
  const page = await open({ locale: "en-US" });
  try {
    await loginInUi(page, email);
    await openAccountPage(page);
    const health = page.locator(".account-section.health");
    await health.locator("h2", { hasText: "Health information" }).waitFor();
    await health.locator(".consent-state[data-consent=given]", { hasText: "Given" }).waitFor();
    assert.equal(await health.locator("button.delete-tcm").count(), 0, "no deletion offer while the consent stands");
    await health.locator("button.withdraw-consent").click();
    const confirm = page.locator("dialog[data-dialog=withdraw-consent]");
    await confirm.locator(".modal-text", { hasText: "The TCM adviser will stop answering you until you consent again." }).waitFor();
    await shot(page, "trust-withdraw-en");
    const [withdrawn] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/api/account/health-consent") && r.request().method() === "DELETE"),
      confirm.locator("button[value=confirm]").click(),
    ]);
    assert.equal(withdrawn.status(), 200);
    assert.match(withdrawn.url(), /deleteConversations=false$/);
    await health.locator(".consent-state[data-consent=none]", { hasText: "Not given" }).waitFor();
    await health.locator(".health-result", { hasText: "Consent withdrawn." }).waitFor();
    assert.equal((await api("GET", "/api/account", { token })).body.healthConsentAt, null);

    // The TCM conversation, again: refused; declining the step goes back to the Oracle, the words kept.
    await page.goto(`${stack.base}/#/chat/${encodeURIComponent(tcm.conversationId)}`);
    await page.locator(".message.assistant").first().waitFor();
    await page.fill(".composer textarea", "And in spring?");
    await page.press(".composer textarea", "Enter");
    const step = page.locator("dialog[data-dialog=health-consent]");
    await step.waitFor();
    await step.locator("button[value=cancel]").click();
    await page.locator(".persona.oracle[aria-pressed=true]").waitFor();
    assert.equal(await page.inputValue(".composer textarea"), "And in spring?", "the unsent message waits in the box");
    assert.equal(new URL(page.url()).hash, "#/chat");

    // Deleting the TCM conversations: confirmed first, then counted.
    await openAccountPage(page);
    await health.locator("button.delete-tcm").click();
    const sure = page.locator("dialog[data-dialog=delete-tcm]");
    await sure.locator(".modal-text", { hasText: "Every conversation with the TCM adviser" }).waitFor();
    const [deleted] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/api/account/health-consent") && r.request().method() === "DELETE"),
      sure.locator("button[value=confirm]").click(),
    ]);
    assert.match(deleted.url(), /deleteConversations=true$/);
    assert.equal((await deleted.json()).deletedConversations, 1);
    await health.locator(".health-result", { hasText: "1 TCM conversation deleted." }).waitFor();
    const { body } = await api("GET", "/api/chat/conversations?limit=50", { token });
    assert.deepEqual(body.conversations.map((c) => c.id), [oracle.conversationId], "the Oracle's conversation stays");
    // The chat's list no longer shows it.
    await page.click(".brand");
    await page.locator(`.conversation-list li[data-id="${oracle.conversationId}"]`).waitFor();
    assert.equal(await page.locator(`.conversation-list li[data-id="${tcm.conversationId}"]`).count(), 0);
  } finally {
    await close(page);
  }
});

test("a reported reply: the dialog files it, the administrators hide it with a warning, the reporter sees it hidden and the outcome (en reporter, zh admin)", async () => {
  const email = "reporter@example.com";
  const token = await registerAccepted(email);
  const page = await open({ locale: "en-US" });
  const admin = await open({ locale: "zh-CN" });
  try {
    await loginInUi(page, email);
    const reply = await ask(page, "What does hexagram one say?");
    for (const action of ["copy", "feedback-up", "report"]) assert.equal(await reply.locator(`[data-action=${action}]`).count(), 1, action);

    await reply.locator("button.report").click();
    const dialog = page.locator("dialog[data-dialog=report]");
    await dialog.locator("h2", { hasText: "Report this reply" }).waitFor();
    assert.deepEqual(await dialog.locator("input[type=radio]").evaluateAll((inputs) => inputs.map((i) => i.value)), ["illegal", "harmful", "wrong", "privacy", "other"]);
    for (const label of ["Illegal content", "Harmful or dangerous", "Wrong or misleading", "Private information", "Something else"]) {
      await dialog.locator(".report-reason strong", { hasText: label }).waitFor();
    }
    assert.equal(await dialog.locator("a[href='reports.html']").innerText(), "How reports are handled");
    await dialog.locator(".report-how", { hasText: `We answer within ${about.reportResponseDays} days.` }).waitFor();
    await dialog.locator("button[value=confirm]").click();
    await dialog.locator(".field-error", { hasText: "Please choose a reason." }).waitFor();
    await dialog.locator(".report-reason[data-reason=wrong]").click();
    const comment = "It calls the hexagram by the wrong name.";
    await dialog.locator("textarea").fill(comment);
    await dialog.locator(".report-counter", { hasText: `${1000 - comment.length} of 1000 characters left` }).waitFor();
    assert.equal(await dialog.locator("textarea").getAttribute("maxlength"), "1000");
    await shot(page, "trust-report-dialog-en");
    const [filed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/report")),
      dialog.locator("button[value=confirm]").click(),
    ]);
    assert.equal(filed.status(), 201);
    assert.deepEqual(filed.request().postDataJSON(), { reason: "wrong", comment });
    const messageId = await reply.getAttribute("data-id");
    assert.ok(filed.url().endsWith(`/messages/${messageId}/report`), filed.url());
    await reply.locator(".status.reported", { hasText: "Reported" }).waitFor();
    assert.equal(await reply.locator("button.report").count(), 0, "reported once: the action is gone");
    await page.locator(".toast", { hasText: "your report was sent" }).waitFor();
    const conversationId = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/chat\//, ""));
    const again = await api("POST", `/api/chat/conversations/${conversationId}/messages/${messageId}/report`, { token, body: { reason: "other" } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "already_reported");
    await page.reload();
    await page.locator(`.message.assistant[data-id="${messageId}"] .status.reported`).waitFor();
    assert.equal(await page.locator(`.message.assistant[data-id="${messageId}"] button.report`).count(), 0, "after a reload too");

    await openAccountPage(page);
    const mine = page.locator(".own-report").first();
    await mine.locator(".report-status", { hasText: "Under review" }).waitFor();
    await mine.locator(".report-reason-badge", { hasText: "Wrong or misleading" }).waitFor();
    await mine.locator(".report-due", { hasText: "To be answered by" }).waitFor();
    assert.match(await mine.locator(".report-excerpt").innerText(), /heard/);

    // The administrator (in Chinese): the queue, the report in context, the decision.
    await adminToken();
    await loginInUi(admin, ADMIN_EMAIL);
    await admin.click("#nav-admin");
    await admin.click("a[data-tab=reports]");
    const card = admin.locator(".admin-report", { hasText: email });
    await card.waitFor();
    await admin.locator(".count-open", { hasText: "待处理 1" }).waitFor();
    await admin.locator(".count-overdue", { hasText: "已超期 0" }).waitFor();
    await card.locator(".report-reason-badge", { hasText: "错误或误导" }).waitFor();
    await card.locator(".report-comment-text", { hasText: comment }).waitFor();
    await card.locator(".context-message[data-role=user] .context-text", { hasText: "What does hexagram one say?" }).waitFor();
    assert.match(await card.locator(".reported-reply").innerText(), /heard: “What does hexagram one say\?”/);
    await card.locator(".reply-state[data-withheld=none]", { hasText: "用户可见" }).waitFor();
    await card.locator(".report-facts time").first().waitFor();
    await shot(admin, "trust-admin-queue-zh");

    await card.locator(".outcome-actioned").click();
    await card.locator("input[name=hideReply]").check();
    await card.locator("select[name=userAction]").selectOption("warn");
    await card.locator("button.decide").click();
    await card.locator(".field-error", { hasText: "警告需要在留言中写明内容。" }).waitFor();
    const note = "Please do not try to steer the Oracle into naming things wrongly.";
    await card.locator("textarea[name=note]").fill(note);
    const [decided] = await Promise.all([
      admin.waitForResponse((r) => r.url().endsWith("/decision")),
      card.locator("button.decide").click(),
    ]);
    assert.equal(decided.status(), 200, await decided.text());
    assert.deepEqual(decided.request().postDataJSON(), { outcome: "actioned", hideReply: true, userAction: "warn", note });
    await admin.locator(".no-reports", { hasText: "没有待处理的举报。" }).waitFor();
    await admin.locator(".count-open", { hasText: "待处理 0" }).waitFor();
    await admin.selectOption("select[name=status]", "actioned");
    const done = admin.locator(".admin-report", { hasText: email });
    await done.locator(".reply-state[data-withheld=hidden]", { hasText: "已隐藏" }).waitFor();
    await done.locator(".outcome-warn", { hasText: note }).waitFor();
    await done.locator(".report-decision", { hasText: ADMIN_EMAIL }).waitFor();

    // The reporter: the reply hidden in the history, the outcome on the account page.
    await page.goto(`${stack.base}/#/chat/${encodeURIComponent(conversationId)}`);
    await page.reload();
    const hidden = page.locator(`.message.assistant[data-id="${messageId}"]`);
    await hidden.locator(".notice.hidden", { hasText: "This reply was removed after a report." }).waitFor();
    assert.ok(!(await hidden.innerText()).includes("heard"), "the words are gone");
    for (const action of ["copy", "feedback-up", "report"]) assert.equal(await hidden.locator(`[data-action=${action}]`).count(), 0, action);
    await shot(page, "trust-hidden-en");
    await openAccountPage(page);
    const outcome = page.locator(".own-report").first();
    await outcome.locator(".report-status", { hasText: "Action taken" }).waitFor();
    await outcome.locator(".outcome-hidden", { hasText: "The reply was hidden." }).waitFor();
    await outcome.locator(".outcome-warn", { hasText: `The administrators warned your account: ${note}` }).waitFor();
    await outcome.locator(".report-decided", { hasText: "Decided" }).waitFor();
    await shot(page, "trust-account-reports-en", { tall: true });
  } finally {
    await close(page);
    await close(admin);
  }
});

test("a report decided meanwhile by someone else says so; a restriction refuses the chat until a date, said on the account page (phone, zh and en)", async () => {
  const email = "restricted@example.com";
  const token = await registerAccepted(email);
  const turn = await chatTurn(token, "oracle", "Is this a question?");
  const filed = await api("POST", `/api/chat/conversations/${turn.conversationId}/messages/${turn.messageId}/report`, { token, body: { reason: "harmful" } });
  assert.equal(filed.status, 201, JSON.stringify(filed.body));
  const adminAuth = await adminToken();

  const admin = await open({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  const page = await open({ locale: "en-US", viewport: { width: 390, height: 844 } });
  try {
    await loginInUi(admin, ADMIN_EMAIL);
    await admin.goto(`${stack.base}/#/admin/reports`);
    const card = admin.locator(".admin-report", { hasText: email });
    await card.waitFor();
    await noSidewaysScroll(admin, "the report queue on a phone");
    await shot(admin, "trust-admin-queue-phone-zh", { tall: true });
    // Another administrator restricts the account for three days, while this page still offers the form.
    const other = await api("POST", `/api/admin/reports/${filed.body.report.id}/decision`, {
      token: adminAuth, body: { outcome: "actioned", userAction: "restrict", restrictDays: 3, note: "Three days off." },
    });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    await card.locator(".outcome-dismissed").click();
    const [late] = await Promise.all([
      admin.waitForResponse((r) => r.url().endsWith("/decision")),
      card.locator("button.decide").click(),
    ]);
    assert.equal(late.status(), 409);
    await admin.locator(".reports-message", { hasText: "另一位管理员已经处理了这条举报" }).waitFor();
    await admin.locator(".admin-report", { hasText: email }).waitFor({ state: "detached" }); // the queue, read again

    // The restricted account: the chat is refused until the date, in the reader's language.
    const until = other.body.report.restrictedUntil;
    assert.ok(until, JSON.stringify(other.body));
    // The date as the page writes it (the browser's own formatting, in its time zone: UTC).
    const dates = await page.evaluate((iso) => Object.fromEntries(["en", "zh-CN"].map((locale) => [locale,
      new Date(iso).toLocaleString(locale, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })])), until);
    const date = (locale) => dates[locale];
    await loginInUi(page, email);
    await ask(page, "May I ask again?", { status: "error" });
    await page.locator(".message.assistant").last().locator(".error", { hasText: `An administrator has restricted your account: you cannot chat until ${date("en")}.` }).waitFor();
    await shot(page, "trust-restricted-phone-en");
    await openAccountPage(page);
    await page.locator(".account-notice.restricted", { hasText: `you cannot chat until ${date("en")}` }).waitFor();
    await page.locator(".own-report .outcome-restrict", { hasText: `Your account cannot chat until ${date("en")}.` }).waitFor();
    await page.locator(".own-report .outcome-note", { hasText: "Three days off." }).waitFor();
    await page.locator(".terms-state", { hasText: `version ${VERSION}` }).waitFor();
    await noSidewaysScroll(page, "the account page on a phone");
    await shot(page, "trust-account-phone-en", { tall: true });
    await page.click("#lang-switch");
    await page.locator(".account-notice.restricted", { hasText: `${date("zh-CN")} 之前你不能使用对话` }).waitFor();
    await page.locator(".account-section.health h2", { hasText: "健康信息" }).waitFor();
    await page.locator(".account-section.reports h2", { hasText: "我的举报" }).waitFor();

    // An administrator lifts the restriction early from the users list: the chat works again.
    await admin.goto(`${stack.base}/#/admin`);
    const row = admin.locator("tr", { hasText: email });
    await row.locator(".badge.restricted", { hasText: "对话受限" }).waitFor();
    await row.locator("button.lift", { hasText: "解除限制" }).click();
    await admin.locator("dialog.modal h2", { hasText: `解除 ${email} 的对话限制？` }).waitFor();
    const [lifted] = await Promise.all([
      admin.waitForResponse((r) => r.url().endsWith("/lift-restriction")),
      admin.click("dialog.modal button[value=confirm]"),
    ]);
    assert.equal(lifted.status(), 200);
    await row.locator(".badge.restricted").waitFor({ state: "detached" });
    const again = await chatTurn(token, "oracle", "May I ask now?");
    assert.ok(again.messageId, JSON.stringify(again));
  } finally {
    await close(page);
    await close(admin);
  }
});
