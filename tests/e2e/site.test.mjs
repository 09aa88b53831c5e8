// The site in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against the whole app started with `make dev`, whose model is the fake OpenAI upstream of
// fake-openai.mjs. Screenshots of the main screens go to tests/e2e/screenshots/. A reply's
// versions (Stop, Regenerate, Edit) are in versions.test.mjs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  ask, close, closeBrowser, hashId, lastReply, launchBrowser, open, registerInApi, registerInUi, replyText, shot, submitLogin,
  PASSWORD,
} from "./browser.mjs";
import { TITLE_MODEL, TITLE_TEXT } from "./fake-openai.mjs";
import { ADMIN_EMAIL, apiClient, startStack } from "./stack.mjs";

const QUOTA = 80; // CHAT_QUOTA_USER: messages per user per day in this run

let stack;
let api;

before(async () => {
  stack = await startStack({ env: { CHAT_QUOTA_USER: `${QUOTA}/1d` } });
  api = apiClient(stack.base);
  await launchBrowser(stack);
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

// ------------------------------------------------------------------------------------ helpers

/** Records the length of the last reply's text at every DOM change (to see it grow). */
function recordGrowth(page) {
  return page.evaluate(() => {
    window.__growth = [];
    new MutationObserver(() => {
      const last = [...document.querySelectorAll(".message.assistant")].pop();
      if (last) window.__growth.push({ length: last.querySelector(".content").textContent.length, status: last.dataset.status });
    }).observe(document.querySelector(".messages"), { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

async function conversationsOf(token) {
  const { body } = await api("GET", "/api/chat/conversations?limit=50", { token });
  return body.conversations;
}

// -------------------------------------------------------------------------------------- tests

test("login and registration: validation, the API's errors in words, both languages", async () => {
  await registerInApi("taken@example.com");
  const page = await open({ locale: "en-US" });
  await page.locator("form.auth-form").waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "en", "English from navigator.language");
  assert.equal(await page.locator(".auth-title").innerText(), "Welcome back");
  assert.match(new URL(page.url()).hash, /^#\/login$/);
  await shot(page, "login-en");

  // The form's own checks, before any request.
  await page.click("form.auth-form button[type=submit]");
  await page.locator("#auth-email-error", { hasText: "valid email" }).waitFor();
  await page.locator("#auth-password-error", { hasText: "enter your password" }).waitFor();

  // Wrong credentials: the API's 401 invalid_credentials, in words.
  await page.fill("input[name=email]", "nobody@example.com");
  await page.fill("input[name=password]", "wrong password");
  await page.click("form.auth-form button[type=submit]");
  await page.locator(".form-error", { hasText: "The email or password is incorrect." }).waitFor();

  // Registration: too short a password is caught early; a taken email comes from the API.
  await page.click(".auth-tabs a[href='#/register']");
  await page.locator(".auth-title", { hasText: "Create your account" }).waitFor();
  await page.fill("input[name=email]", "taken@example.com");
  await page.fill("input[name=password]", "short");
  await page.click("form.auth-form button[type=submit]");
  await page.locator("#auth-password-error", { hasText: "at least 8 characters" }).waitFor();
  await page.fill("input[name=password]", PASSWORD);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/auth/register")),
    page.click("form.auth-form button[type=submit]"),
  ]);
  assert.equal(answer.status(), 409);
  await page.locator(".form-error", { hasText: "An account with this email already exists" }).waitFor();

  // The language switch: Chinese, remembered across a reload.
  await page.click("#lang-switch");
  await page.locator(".auth-title", { hasText: "创建账号" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
  await page.click(".auth-tabs a[href='#/login']");
  await page.reload();
  await page.locator(".auth-title", { hasText: "欢迎回来" }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem("lang")), "zh");
  await page.fill("input[name=email]", "nobody@example.com");
  await page.fill("input[name=password]", "wrong password");
  await page.click("form.auth-form button[type=submit]");
  await page.locator(".form-error", { hasText: "邮箱或密码不正确。" }).waitFor();
  await page.fill("input[name=password]", "");
  await page.locator(".form-error").evaluate((e) => (e.hidden = true));
  await shot(page, "login-zh");
  await close(page);

  // A Chinese browser starts in Chinese.
  const zh = await open({ locale: "zh-CN" });
  await zh.locator(".auth-title", { hasText: "欢迎回来" }).waitFor();
  // Any other path is the 404 page (the site routes with #hashes).
  const missing = await zh.goto(`${stack.base}/no/such/page`);
  assert.equal(missing.status(), 404);
  await zh.locator("h1", { hasText: "Page not found" }).waitFor();
  await zh.locator("a[href='/#/chat']").waitFor();
  await shot(zh, "not-found");
  await close(zh);
});

test("a user registers, chats with streamed replies, switches assistant and language, and manages history", async () => {
  const page = await open();
  await registerInUi(page, "carol@example.com");
  const token = await page.evaluate(() => localStorage.getItem("auth_token"));
  assert.ok(token, "the token is kept in localStorage under auth_token");
  assert.equal(await page.locator("#who").textContent(), "carol@example.com");
  assert.equal(await page.locator("#nav-admin").count(), 0, "no admin link for a USER");
  assert.equal(await page.locator(".persona.oracle").getAttribute("aria-pressed"), "true");
  await page.locator(".welcome h2", { hasText: "Be still, and ask" }).waitFor();
  await shot(page, "chat-welcome");

  // The reply streams in: the page shows it growing, piece by piece, before it is complete.
  await recordGrowth(page);
  let reply = await ask(page, "What does hexagram one mean?");
  const growth = await page.evaluate(() => window.__growth);
  const final = (await reply.locator(".content").textContent()).length;
  const partial = [...new Set(growth.filter((g) => g.status === "streaming" && g.length > 0 && g.length < final).map((g) => g.length))];
  assert.ok(partial.length >= 5, `seen growing while streaming: ${JSON.stringify(partial)} of ${final}`);
  let text = await replyText(reply);
  assert.match(text, /persona=oracle lang=en hint=none history=1/);
  assert.match(text, /heard: “What does hexagram one mean\?”/);
  // Markdown became markup; the model's <script> is text that never ran.
  assert.equal(await reply.locator("h3", { hasText: "Hexagram 1" }).count(), 1);
  assert.equal(await reply.locator("li strong", { hasText: "Judgment:" }).count(), 1);
  assert.equal(await reply.locator("blockquote").count(), 1);
  assert.equal(await page.locator(".messages script").count(), 0);
  assert.match(text, /<script>window.__injected = true<\/script>/);
  assert.equal(await page.evaluate(() => window.__injected), undefined);
  const oracleId = hashId(page);
  assert.ok(oracleId, "the new conversation's id is in the address");
  // Its title in the list: cut from the first message, then the one the title model wrote.
  await page.locator(`.conversation-list li[data-id="${oracleId}"].current`, { hasText: TITLE_TEXT.en }).waitFor();

  // A reply preference (systemHint) reaches the model; the conversation continues.
  await page.click(".hint-toggle");
  await page.fill(".hint-input", "Be brief");
  reply = await ask(page, "And for my work?");
  assert.match(await replyText(reply), /persona=oracle lang=en hint=Be brief history=3/);
  assert.equal(hashId(page), oracleId);
  const sent = stack.upstream.requests.at(-1);
  assert.match(sent.messages[0].content, /<user_hint>\nBe brief\n<\/user_hint>/);
  assert.equal(sent.model, "test-model");
  await page.click(".hint-toggle"); // fold the panel away; the chip shows the hint
  await page.locator(".hint-toggle.active", { hasText: "Be brief" }).waitFor();
  await shot(page, "chat-en");
  await page.click(".hint-toggle");
  await page.fill(".hint-input", "");
  await page.click(".hint-toggle");

  // The other assistant: a new conversation.
  await page.click(".persona.tcm");
  await page.locator(".welcome h2", { hasText: "In tune with the seasons" }).waitFor();
  assert.equal(new URL(page.url()).hash, "#/chat");
  reply = await ask(page, "How can I sleep better?");
  assert.match(await replyText(reply), /persona=tcm lang=en hint=none history=1/);
  const tcmId = hashId(page);
  assert.notEqual(tcmId, oracleId);

  // The other language: the interface and the replies, in the same conversation.
  await page.click("#lang-switch");
  await page.locator(".composer button.send", { hasText: "发送" }).waitFor();
  await page.locator(".message.user", { hasText: "How can I sleep better?" }).waitFor();
  assert.equal(await page.locator(".persona.tcm").getAttribute("aria-pressed"), "true");
  reply = await ask(page, "秋天如何养肺？");
  text = await replyText(reply);
  assert.match(text, /persona=tcm lang=zh hint=none history=3/);
  assert.equal(await reply.locator("li strong", { hasText: "饮食：" }).count(), 1);
  assert.equal(hashId(page), tcmId);
  await shot(page, "chat-zh");
  await page.click("#lang-switch");
  await page.locator(".composer button.send", { hasText: "Send" }).waitFor();

  // Reopening a conversation from the sidebar restores it, with its assistant.
  await page.locator(".conversation-list li").nth(1).waitFor();
  assert.deepEqual(await page.locator(".conversation-list li").evaluateAll((items) => items.map((li) => li.dataset.id)), [tcmId, oracleId]);
  await page.click(`.conversation-list li[data-id="${oracleId}"] a`);
  await page.locator(".message.user", { hasText: "What does hexagram one mean?" }).waitFor();
  assert.equal(await page.locator(".message").count(), 4);
  assert.equal(await page.locator(".persona.oracle").getAttribute("aria-pressed"), "true");
  assert.equal(hashId(page), oracleId);
  // …and so does a reload (the session comes back from the stored token).
  await page.reload();
  await page.locator(".message.user", { hasText: "And for my work?" }).waitFor();
  assert.equal(await page.locator(`.conversation-list li.current`).getAttribute("data-id"), oracleId);

  // Rename, in a dialog.
  const item = page.locator(`.conversation-list li[data-id="${oracleId}"]`);
  await item.hover();
  await item.locator("button[data-action=rename]").click();
  await page.locator("dialog.modal input").fill("My first reading");
  await page.click("dialog.modal button[value=confirm]");
  await item.locator(".title", { hasText: "My first reading" }).waitFor();
  assert.equal((await conversationsOf(token)).find((c) => c.id === oracleId).title, "My first reading");

  // Delete, confirmed in a dialog; cancelling first keeps it.
  const doomed = page.locator(`.conversation-list li[data-id="${tcmId}"]`);
  await doomed.hover();
  await doomed.locator("button[data-action=delete]").click();
  await page.click("dialog.modal button[value=cancel]");
  assert.equal(await doomed.count(), 1);
  await doomed.hover();
  await doomed.locator("button[data-action=delete]").click();
  await page.locator("dialog.modal h2", { hasText: "Delete this conversation?" }).waitFor();
  await page.click("dialog.modal button[value=confirm]");
  await doomed.waitFor({ state: "detached" });
  assert.deepEqual((await conversationsOf(token)).map((c) => c.id), [oracleId]);

  // A USER cannot reach the admin pages.
  await page.goto(`${stack.base}/#/admin`);
  await page.locator(".toast", { hasText: "Only administrators" }).waitFor();
  assert.match(new URL(page.url()).hash, /^#\/chat/);

  // Logging out forgets the token and says so.
  await page.click("#account-button");
  await page.click("[data-action=logout]");
  await page.locator(".auth-notice", { hasText: "You have logged out." }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem("auth_token")), null);
  assert.equal((await api("GET", "/api/auth/session", { token })).status, 401, "the session is over on the server too");
  await close(page);
});

test("The title the model writes appears in the list; the composer is free before it comes", async () => {
  const page = await open();
  await registerInUi(page, "kim@example.com");
  const titles = stack.upstream.titleRequests.length;
  await ask(page, "[slowtitle] What does the Creative teach?");
  const id = hashId(page);
  const title = page.locator(`.conversation-list li[data-id="${id}"] .title`);
  // `done` has come, the title not yet (it comes 3 s late on the same stream): the list shows
  // the first message, and the next message can go.
  await title.getByText("[slowtitle] What does the Creative teach?").waitFor();
  await ask(page, "And what does the Receptive teach?");
  await title.getByText(TITLE_TEXT.en, { exact: true }).waitFor({ timeout: 10_000 });
  assert.equal(stack.upstream.titleRequests.length, titles + 1, "one title request, for the first reply only");
  assert.ok(stack.upstream.titleRequests.every((r) => r.model === TITLE_MODEL));
  assert.ok(stack.upstream.requests.every((r) => r.model === "test-model"), "title requests are not counted as chat requests");

  // In Chinese, a Chinese title.
  await page.click("#lang-switch");
  await page.click(".new-chat");
  await ask(page, "乾卦是什么意思？");
  await page.locator(`.conversation-list li[data-id="${hashId(page)}"] .title`, { hasText: TITLE_TEXT.zh }).waitFor();
  await close(page);
});

test("model output cannot inject HTML or run script: <script>, <img onerror>, javascript: links", async () => {
  const page = await open();
  await registerInUi(page, "eve@example.com");
  const check = async () => {
    const reply = lastReply(page);
    await reply.locator(".content", { hasText: "Injection attempts follow" }).waitFor();
    const content = reply.locator(".content");
    for (const tag of ["script", "img", "iframe", "svg", "b", "object", "embed"]) {
      assert.equal(await content.locator(tag).count(), 0, `no <${tag}> from the model`);
    }
    const hrefs = await content.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href")));
    assert.deepEqual(hrefs, ["https://en.wikipedia.org/wiki/I_Ching"]);
    const attributes = await content.evaluate((root) => [...root.querySelectorAll("*")].flatMap((e) => [...e.attributes].map((a) => a.name)));
    assert.ok(attributes.every((name) => !name.startsWith("on")), `attributes: ${attributes}`);
    const text = await content.innerText();
    assert.match(text, /<script>window.__xss = "script"<\/script>/);
    assert.match(text, /<img src="x" onerror="window.__xss = 'img'">/);
    assert.match(text, /\[click me\]\(javascript:window.__xss='link'\)/);
    // Hover and click everything in the reply: nothing fires.
    for (const element of await content.locator("p").all()) await element.hover();
    await content.locator("p", { hasText: "click me" }).click();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await page.locator(".messages").evaluate((m) => (m.scrollTop = 0));
  };
  await ask(page, "[xss] show me everything");
  await check();
  await shot(page, "chat-xss");
  // The stored reply, rendered again from the history, is just as inert.
  await page.reload();
  await page.locator(".message.assistant").waitFor();
  await check();
  // Second line of defence: even markup that got into the page could not run script (CSP).
  const before = page.problems.length;
  await page.evaluate(() => {
    const box = document.createElement("div");
    box.innerHTML = '<img src="data:," onerror="window.__csp = 1"><a id="csp-link" href="javascript:window.__csp = 2">x</a>';
    document.body.append(box);
  });
  await page.click("#csp-link");
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.__csp), undefined);
  const refusals = page.problems.splice(before);
  assert.ok(refusals.length >= 1 && refusals.every((p) => p.startsWith("CSP:")), JSON.stringify(refusals));
  await close(page);
});

test("errors are shown plainly: a failing model (502) and the message quota (429, Retry-After)", async () => {
  const page = await open();
  await registerInUi(page, "frank@example.com");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/chat")),
    ask(page, "[fail] please answer", { status: "error" }),
  ]);
  assert.equal(response.status(), 502);
  assert.equal((await response.json()).error.code, "upstream_error");
  const reply = lastReply(page);
  await reply.locator(".error", { hasText: "The assistant cannot answer right now. Please try again shortly." }).waitFor();
  assert.equal(await reply.locator("button.retry").count(), 1);
  const id = hashId(page);
  assert.ok(id, "the saved turn's conversation is adopted (error.conversationId)");
  await page.locator(`.conversation-list li[data-id="${id}"]`).waitFor();

  // A 503 (no model configured), shown in words; Retry sends the same message again.
  await page.click(".new-chat");
  await page.route("**/api/chat", (route) => route.fulfill({
    status: 503, contentType: "application/json",
    body: JSON.stringify({ error: { code: "llm_not_configured", message: "the chat assistant is not configured" } }),
  }), { times: 1 });
  await ask(page, "Is anyone there?", { status: "error" });
  await lastReply(page).locator(".error", { hasText: "The assistant is not set up on this server yet." }).waitFor();
  await lastReply(page).locator("button.retry").click();
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status === "done");
  assert.match(await replyText(lastReply(page)), /heard: “Is anyone there\?”/);
  assert.equal(await page.locator(".message.user").count(), 1, "the retry did not repeat the question");
  // The network gone: said plainly too.
  await page.route("**/api/chat", (route) => route.abort("internetdisconnected"), { times: 1 });
  await ask(page, "Still there?", { status: "error" });
  await lastReply(page).locator(".error", { hasText: "Network error. Check your connection and try again." }).waitFor();

  // Use up the quota through the API, then try once more in the page.
  const token = await page.evaluate(() => localStorage.getItem("auth_token"));
  const used = 2; // the failed turn was charged (its message was saved), and the retried one
  for (let i = used; i < QUOTA; i++) {
    const { status, body } = await api("POST", "/api/chat", { token, body: { type: "tcm", locale: "en", messages: [{ role: "user", content: `note ${i}` }] } });
    assert.equal(status, 200, JSON.stringify(body));
  }
  await page.click(".new-chat");
  const [limited] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/chat")),
    ask(page, "One more question", { status: "error" }),
  ]);
  assert.equal(limited.status(), 429);
  const wait = Number(limited.headers()["retry-after"]);
  assert.ok(wait > 0, "Retry-After is set");
  const shown = await lastReply(page).locator(".error").innerText();
  assert.match(shown, /^You have used up your message allowance for now\. Please try again in \d+ (h|h \d+ min|min)\.$/);
  await shot(page, "chat-errors");

  // In Chinese too.
  await page.click("#lang-switch");
  await page.locator(".composer button.send", { hasText: "发送" }).waitFor();
  await ask(page, "再问一次", { status: "error" });
  assert.match(await lastReply(page).locator(".error").innerText(), /^你已用完当前的消息额度，请在 \d+ (小时|小时 \d+ 分钟|分钟)后再试。$/);
  await close(page);
});

test("an admin finds and bans a user, reads the audit log, downloads exports; the banned user is logged out", async () => {
  const user = await open();
  await registerInUi(user, "bob@example.com");
  await ask(user, "Hello from Bob");

  const admin = await open();
  await registerInUi(admin, ADMIN_EMAIL);
  await admin.click("#nav-admin");
  await admin.locator(".admin h1", { hasText: "Administration" }).waitFor();
  await admin.locator("tr[data-email]").first().waitFor();
  await admin.fill("input[name=q]", "bob@");
  await admin.press("input[name=q]", "Enter");
  await admin.locator(".panel-summary", { hasText: "1 user" }).waitFor();
  const row = admin.locator("tr[data-email='bob@example.com']");
  await row.locator(".status-pill.active").waitFor();
  await admin.fill("input[name=q]", "");
  await admin.press("input[name=q]", "Enter");
  await admin.locator(`tr[data-email='${ADMIN_EMAIL}']`).waitFor();
  await shot(admin, "admin-users");

  await row.locator("button.ban").click();
  await admin.locator("dialog.modal h2", { hasText: "Ban bob@example.com?" }).waitFor();
  await admin.click("dialog.modal button[value=confirm]");
  await row.locator(".status-pill.banned", { hasText: "Banned" }).waitFor();
  await row.locator("button.unban").waitFor();

  // The audit log, filtered by action.
  await admin.click("a[data-tab=audit]");
  await admin.locator("tr[data-action]").first().waitFor();
  await admin.selectOption("select[name=action]", "ban");
  await admin.locator(".panel-summary", { hasText: "1 entry" }).waitFor();
  await admin.locator("tr[data-action=ban] td", { hasText: "bob@example.com" }).waitFor();
  await admin.selectOption("select[name=action]", "");
  await admin.locator("tr[data-action=register]").first().waitFor();
  await shot(admin, "admin-audit");
  // Actors are named by email; choosing one filters by that account's id.
  const actor = admin.locator("tr[data-action=ban] button[data-actor-id]", { hasText: ADMIN_EMAIL });
  const actorId = await actor.getAttribute("data-actor-id");
  await actor.click();
  assert.equal(await admin.inputValue("input[name=actorId]"), actorId);
  await admin.locator(".panel-summary", { hasText: "2 entries" }).waitFor();
  const actions = await admin.locator("tr[data-action]").evaluateAll((rows) => rows.map((row) => row.dataset.action));
  assert.deepEqual(actions, ["ban", "register"]);
  // Each row names the address it is about in a column of its own; choosing one filters by it.
  await admin.click(".filters button.button.ghost");
  await admin.waitForFunction(() => document.querySelectorAll("tr[data-action]").length > 2);
  await admin.locator("tr[data-action=ban] button.log-subject", { hasText: "bob@example.com" }).click();
  assert.equal(await admin.inputValue("input[name=subject]"), "bob@example.com");
  await admin.waitForFunction(() => document.querySelectorAll("tr[data-action]").length === 2);
  await admin.locator(".panel-summary", { hasText: "2 entries" }).waitFor();
  const about = await admin.locator("tr[data-action]").evaluateAll((rows) => rows.map((row) => row.dataset.action));
  assert.deepEqual(about, ["ban", "register"]);

  // Exports: JSON and NDJSON, saved through a Blob; their content checked.
  await admin.click("a[data-tab=export]");
  for (const format of ["json", "ndjson"]) {
    await admin.check(`input[name=format][value=${format}]`);
    const [download] = await Promise.all([admin.waitForEvent("download"), admin.click("button.download")]);
    assert.match(download.suggestedFilename(), new RegExp(`^export-\\d{8}T\\d{6}Z\\.${format}$`));
    const text = readFileSync(await download.path(), "utf8");
    assert.ok(!text.includes("passwordHash") && !/\$2[aby]\$/.test(text), "no password hashes");
    if (format === "json") {
      const { data } = JSON.parse(text);
      const bob = data.users.find((u) => u.email === "bob@example.com");
      assert.ok(bob?.bannedAt, "bob is banned in the export");
      assert.ok(data.messages.some((m) => m.content === "Hello from Bob" && m.role === "USER"));
      assert.ok(data.conversations.some((c) => c.userId === bob.id));
      assert.ok(data.auditLogs.some((l) => l.action === "ban"));
    } else {
      const records = text.trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual([...new Set(records.map((r) => r.type))].sort(), ["auditLog", "conversation", "message", "user"]);
      assert.ok(records.some((r) => r.type === "message" && r.data.content === "Hello from Bob"));
      assert.ok(records.some((r) => r.type === "user" && r.data.email === "bob@example.com" && r.data.bannedAt));
    }
    await admin.locator(".export-result", { hasText: `export-` }).waitFor();
  }
  await shot(admin, "admin-export");

  // Bob's next call finds his session gone: back to the login page, told why.
  await user.fill(".composer textarea", "Am I still here?");
  const [refused] = await Promise.all([
    user.waitForResponse((r) => r.url().endsWith("/api/chat")),
    user.press(".composer textarea", "Enter"),
  ]);
  assert.equal(refused.status(), 401);
  await user.locator(".auth-notice", { hasText: "Your session has ended" }).waitFor();
  assert.match(new URL(user.url()).hash, /^#\/login$/);
  assert.equal(await user.evaluate(() => localStorage.getItem("auth_token")), null);
  await submitLogin(user, "bob@example.com");
  await user.locator(".form-error", { hasText: "This account has been suspended" }).waitFor();
  await shot(user, "login-banned");

  // Unbanned, Bob is back.
  await admin.click("a[data-tab=users]");
  await row.locator("button.unban").click();
  await admin.click("dialog.modal button[value=confirm]");
  await row.locator(".status-pill.active").waitFor();
  await user.click("form.auth-form button[type=submit]");
  await user.locator(".composer textarea").waitFor();
  await close(user);
  await close(admin);
});

test("long histories page: more conversations, earlier messages", async () => {
  const token = await registerInApi("henry@example.com");
  const say = async (content, conversationId) => {
    const { status, body } = await api("POST", "/api/chat", {
      token, body: { type: "oracle", locale: "en", messages: [{ role: "user", content }], ...(conversationId ? { conversationId } : {}) },
    });
    assert.equal(status, 200, JSON.stringify(body));
    return body.conversationId;
  };
  const long = await say("Question 1");
  for (let i = 2; i <= 30; i++) await say(`Question ${i}`, long);
  for (let i = 1; i <= 34; i++) await say(`Topic ${i}`);
  await say("Question 31", long); // the long one is the newest again

  const page = await open();
  await submitLogin(page, "henry@example.com");
  await page.locator(".composer textarea").waitFor();
  await page.locator(".conversation-list li").nth(29).waitFor();
  assert.equal(await page.locator(".conversation-list li").count(), 30);
  await page.click("button.load-more");
  await page.locator(".conversation-list li").nth(34).waitFor();
  assert.equal(await page.locator("button.load-more").isVisible(), false, "no more to load");

  await page.click(`.conversation-list li[data-id="${long}"] a`);
  await page.locator(".message.user", { hasText: "Question 31" }).waitFor();
  assert.equal(await page.locator(".message").count(), 50, "the newest 50 messages");
  await page.click("button.load-earlier");
  await page.locator(".message.user .content").getByText("Question 1", { exact: true }).waitFor();
  assert.equal(await page.locator(".message").count(), 62);
  assert.equal(await page.locator(".message").first().innerText(), "Question 1");
  assert.equal(await page.locator("button.load-earlier").count(), 0);
  // A reply read again from the server (its newest page) keeps the earlier pages shown.
  await ask(page, "Question 32");
  await page.locator(".message.user[data-id]", { hasText: "Question 32" }).waitFor(); // read again: it has its id
  assert.equal(await page.locator(".message").count(), 64);
  assert.equal(await page.locator(".message").first().innerText(), "Question 1");
  assert.equal(await page.locator("button.load-earlier").count(), 0);
  await close(page);
});

test("a phone-sized screen (390×844): one column, the conversation list in a drawer", async () => {
  const page = await open({ viewport: { width: 390, height: 844 } });
  await shot(page, "login-phone");
  await registerInUi(page, "grace@example.com");
  await page.locator(".welcome .suggestion").first().waitFor();
  await shot(page, "chat-phone-welcome");
  await ask(page, "What does hexagram one mean?");
  const first = hashId(page);
  await page.click(".persona.tcm");
  await ask(page, "How can I sleep better?");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
  const sidebar = page.locator(".sidebar");
  assert.equal(await sidebar.isVisible(), false, "the list is folded away");
  const composer = await page.locator(".composer-box").boundingBox();
  assert.ok(composer.x >= 0 && composer.x + composer.width <= 390 && composer.y + composer.height <= 844, "the composer is on screen");
  const send = await page.locator(".composer button.send").boundingBox();
  assert.ok(send.width >= 40 && send.height >= 36, "a thumb-sized send button");
  await shot(page, "chat-phone");

  await page.click("#menu-button");
  await page.locator(".conversation-list li").nth(1).waitFor();
  await page.waitForTimeout(300); // the drawer slides in
  const box = await sidebar.boundingBox();
  assert.ok(box.x >= 0 && box.width <= 390, "the drawer fits");
  await shot(page, "chat-phone-drawer");
  await page.locator(`.conversation-list li[data-id="${first}"] a`).click();
  await page.locator(".message.user", { hasText: "What does hexagram one mean?" }).waitFor();
  await page.waitForTimeout(300);
  assert.equal(await sidebar.isVisible(), false, "choosing a conversation closes the drawer");
  await close(page);

  await registerInApi(ADMIN_EMAIL, { existing: true });
  const admin = await open({ viewport: { width: 390, height: 844 } });
  await submitLogin(admin, ADMIN_EMAIL);
  await admin.locator(".composer textarea").waitFor();
  await admin.click("#nav-admin");
  await admin.locator("tr[data-email='grace@example.com']").waitFor();
  const wide = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wide <= 0, `admin: no sideways scrolling (${wide}px too wide)`);
  await shot(admin, "admin-phone");
  await close(admin);
});
