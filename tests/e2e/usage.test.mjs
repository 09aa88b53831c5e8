// What tells people about use, in headless Chromium against `make dev` (the fake OpenAI
// upstream of fake-openai.mjs as the model): the quota line above the message box, thumbs up and
// down on replies with a comment, the search of one's own conversations, and the admin usage
// dashboard, whose tables must hold exactly the numbers this file's own traffic makes (every
// turn, registration, stop, model failure and rating below is counted in `ledger`). In English
// and Chinese, on a desktop and a 390×844 phone. Screenshots: tests/e2e/screenshots/usage-*.png
// (copied to $SHOTS_COPY when it is set).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  ask as askInUi, assertFocusVisible, close, closeBrowser, hashId, launchBrowser, loginInUi, open, registerInUi as registerPage,
  shot, tabTo, PASSWORD,
} from "./browser.mjs";
import { ADMIN_EMAIL, apiClient, startStack } from "./stack.mjs";

const QUOTA = 10; // CHAT_QUOTA_USER: messages per user per day in this run
const SHANGHAI = 480; // the admin's browser is in Asia/Shanghai

let stack;
let api;

before(async () => {
  stack = await startStack({ env: { CHAT_QUOTA_USER: `${QUOTA}/1d` } });
  api = apiClient(stack.base);
  // Pages are in UTC unless told otherwise; the screenshots are copied to $SHOTS_COPY when it is set.
  await launchBrowser(stack, { timezoneId: "UTC", shotsCopy: process.env.SHOTS_COPY || null });
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

// ------------------------------------------------------------------------ what this run did

/** Everything this file's traffic adds to the dashboard, counted as it is made. */
const ledger = {
  registrations: 0,
  users: new Map(), // id -> {id, email, messages, tokens}
  messages: { oracle: 0, tcm: 0 },
  replies: 0,
  prompt: 0,
  completion: 0,
  stopped: 0,
  modelErrors: 0,
  feedback: new Map(), // reply id -> {assistant, rating}
};

function registered(user) {
  ledger.registrations++;
  ledger.users.set(user.id, { id: user.id, email: user.email, messages: 0, tokens: 0, active: false });
  return user;
}

/** A turn of `user` with `assistant`: a new message (unless `message: false`), and its reply or failure. */
function counted(user, assistant, { message = true, reply = true, usage = null, stopped = false, failed = false } = {}) {
  const row = ledger.users.get(user.id);
  if (message) {
    ledger.messages[assistant]++;
    row.messages++;
    row.active = true;
  }
  if (failed) ledger.modelErrors++;
  if (reply && !failed) {
    ledger.replies++;
    if (stopped) ledger.stopped++;
    ledger.prompt += usage?.promptTokens ?? 0;
    ledger.completion += usage?.completionTokens ?? 0;
    row.tokens += (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0);
  }
}

// The fake model reports these tokens for every whole reply (checked on each API turn below).
const WHOLE = { promptTokens: 1, completionTokens: 2 };

// ------------------------------------------------------------------------------------ helpers

const tokenOf = (page) => page.evaluate(() => localStorage.getItem("auth_token"));

/** Registers through the form (browser.mjs); returns the user `{id, email, token}`, counted. */
async function registerInUi(page, email) {
  await registerPage(page, email);
  const token = await tokenOf(page);
  const { body } = await api("GET", "/api/auth/session", { token });
  return registered({ id: body.user.id, email, token });
}

async function registerInApi(email) {
  const { status, body } = await api("POST", "/api/auth/register", { body: { email, password: PASSWORD } });
  assert.equal(status, 201, JSON.stringify(body));
  return registered({ id: body.user.id, email, token: body.token });
}

/** A whole turn through the API (JSON): `{conversationId, messageId, userMessageId}`, counted. */
async function say(user, content, { type = "oracle", locale = "en", conversationId } = {}) {
  const { status, body } = await api("POST", "/api/chat", {
    token: user.token, body: { type, locale, messages: [{ role: "user", content }], ...(conversationId ? { conversationId } : {}) },
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.deepEqual(body.usage, WHOLE, "the tokens the fake model reports");
  counted(user, type, { usage: body.usage });
  return body;
}

/** A turn whose model fails (`[fail]`: 502 upstream_error): the message counts, and a model error. */
async function fail(user, content, { type = "oracle", locale = "en" } = {}) {
  const { status, body } = await api("POST", "/api/chat", { token: user.token, body: { type, locale, messages: [{ role: "user", content: `[fail] ${content}` }] } });
  assert.equal(status, 502, JSON.stringify(body));
  counted(user, type, { failed: true });
}

/** A streamed `[slow]` turn stopped after its first piece: the reply is saved as stopped. */
async function stopped(user, content, { type = "tcm", locale = "en" } = {}) {
  const response = await fetch(`${stack.base}/api/chat`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", Authorization: `Bearer ${user.token}` },
    body: JSON.stringify({ type, locale, stream: true, messages: [{ role: "user", content: `[slow] ${content}` }] }),
  });
  assert.equal(response.status, 200);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let asked = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (!asked && text.includes("event: delta")) {
      asked = true;
      const conversationId = JSON.parse(/event: start\r?\ndata: (.*)/.exec(text)[1]).conversationId;
      const stop = await api("POST", `/api/chat/conversations/${conversationId}/stop`, { token: user.token });
      assert.equal(stop.status, 200, JSON.stringify(stop.body));
    }
    if (/event: done\r?\ndata: .*\r?\n/.test(text)) break;
  }
  reader.cancel().catch(() => {});
  const done = JSON.parse(/event: done\r?\ndata: (.*)/.exec(text)[1]);
  assert.equal(done.finishReason, "stopped");
  counted(user, type, { stopped: true, usage: done.usage });
  return done;
}

/** Sends `text` (browser.mjs's ask); returns the reply, read again with its id. Counted when `user` is given. */
async function ask(page, text, { status = "done", user = null, type = "oracle" } = {}) {
  const before = await page.locator(".message.assistant").count();
  const reply = await askInUi(page, text, { status });
  if (status !== "done") return reply;
  if (user) counted(user, type, { usage: WHOLE });
  await page.locator(".message.assistant[data-id]").nth(before).waitFor(); // read again: it has its id
  return page.locator(".message.assistant").nth(before);
}

const quotaText = (page) => page.locator(".quota").innerText();
const noSideways = async (page) => {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
};

// -------------------------------------------------------------------------------------- quota

test("quota: a quiet count above the message box, a warning when few or none remain (with when the next frees), read again after every turn", async () => {
  const page = await open();
  const user = await registerInUi(page, "quota@example.com");
  const line = page.locator(".quota");
  await line.locator(".quota-text", { hasText: `${QUOTA} of ${QUOTA} messages left` }).waitFor();
  assert.equal(await quotaText(page), `${QUOTA} of ${QUOTA} messages left`, "nothing frees while nothing is used");
  assert.equal(await line.getAttribute("data-state"), "ok");
  assert.equal(await line.locator(".quota-warning").isVisible(), false);
  assert.equal(await line.locator(".quota-text").getAttribute("role"), null, "the quiet count is not announced at every turn");

  // After a turn (read again at its end): one fewer, and when it frees (a day after it was sent).
  const [quota] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/chat/quota")),
    ask(page, "What does the first hexagram say?", { user }),
  ]);
  const state = await quota.json();
  assert.equal(state.messages.remaining, QUOTA - 1);
  await line.locator(".quota-text", { hasText: `${QUOTA - 1} of ${QUOTA} messages left · next frees at ` }).waitFor();
  assert.match(await quotaText(page), /^9 of 10 messages left · next frees at (\w{3} \d{1,2}, )?\d{1,2}:\d{2}\s?[AP]M$/);

  // Few left (at most 5): a warning, announced.
  const id = hashId(page);
  for (let i = 0; i < 4; i++) await say(user, `Note ${i}`, { type: "tcm" });
  await ask(page, "And the second one?", { user });
  await line.locator(".quota-warning", { hasText: `Only 4 of ${QUOTA} messages left · next frees at ` }).waitFor();
  assert.equal(await line.getAttribute("data-state"), "low");
  assert.equal(await line.locator(".quota-warning").getAttribute("role"), "status");
  assert.equal(await line.locator(".quota-text").isVisible(), false);
  const tint = await line.locator(".quota-warning").evaluate((e) => getComputedStyle(e).backgroundColor);
  assert.notEqual(tint, "rgba(0, 0, 0, 0)", "a visible warning style");
  await shot(page, "usage-quota-low");

  // None left: the 429 reads the quota again, and the line says when the next one frees.
  for (let i = 4; i < 8; i++) await say(user, `Note ${i}`, { type: "tcm" });
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/chat")),
    page.waitForResponse((r) => r.url().endsWith("/api/chat/quota")),
    ask(page, "One more question", { status: "error" }),
  ]);
  assert.equal(refused.status(), 429);
  await line.locator(".quota-warning", { hasText: "No messages left for now: the next one frees at " }).waitFor();
  assert.equal(await line.getAttribute("data-state"), "empty");
  assert.match(await quotaText(page), /^No messages left for now: the next one frees at .+\d:\d{2}\s?[AP]M \(in (23 h( \d+ min)?|24 h)\)\.$/);
  await shot(page, "usage-quota-empty");

  // In Chinese, and on a phone.
  await page.click("#lang-switch");
  await line.locator(".quota-warning", { hasText: "消息额度已用完" }).waitFor();
  assert.match(await quotaText(page), /^消息额度已用完：.+（(23 小时( \d+ 分钟)?|24 小时)后）恢复 1 条。$/);
  await close(page);

  const phone = await open({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  await loginInUi(phone, user.email);
  await phone.goto(`${stack.base}/#/chat/${id}`);
  await phone.locator(".quota[data-state=empty] .quota-warning").waitFor();
  await noSideways(phone);
  const box = await phone.locator(".quota-warning").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, "the warning fits the phone");
  await shot(phone, "usage-quota-phone-zh");
  await close(phone);
});

// ----------------------------------------------------------------------------------- feedback

test("feedback: thumbs on every reply, an optional comment, change and withdraw; stored, shown after a reload; by keyboard; in Chinese", async () => {
  const page = await open();
  const user = await registerInUi(page, "rater@example.com");
  for (let i = 0; i < 5; i++) await say(user, `Earlier thought ${i}`, { type: "tcm" }); // 5 left: the quota line warns
  const first = await ask(page, "Which hexagram speaks of patience?", { user });
  const second = await ask(page, "And which of courage?", { user });
  const id = hashId(page);
  const [firstId, secondId] = [await first.getAttribute("data-id"), await second.getAttribute("data-id")];
  for (const reply of [first, second]) {
    assert.equal(await reply.locator(".feedback[role=group]").getAttribute("aria-label"), "Rate this reply");
    assert.equal(await reply.locator("button.thumb-up").getAttribute("aria-pressed"), "false");
    assert.equal(await reply.locator("button.thumb-down").getAttribute("aria-label"), "Not helpful");
  }
  assert.equal(await page.locator(".message.user .feedback").count(), 0, "no thumbs on your own messages");
  const feedbackUrl = (messageId) => `/api/chat/conversations/${id}/messages/${messageId}/feedback`;
  const call = (messageId, method) => (r) => r.url().endsWith(feedbackUrl(messageId)) && r.request().method() === method;

  // Thumbs up: saved at once; the comment form opens, its box focused; Enter sends the comment.
  let [put] = await Promise.all([page.waitForResponse(call(firstId, "PUT")), first.locator("button.thumb-up").click()]);
  assert.equal(put.status(), 200);
  assert.deepEqual(put.request().postDataJSON(), { rating: "up" });
  // (Painted once the page has read the answer, a moment after it arrives.)
  await first.locator("button.thumb-up[aria-pressed=true]").waitFor();
  const form = first.locator("form.feedback-form");
  await form.waitFor();
  assert.equal(await form.locator("label").innerText(), "What helped? (optional)");
  assert.ok(await page.evaluate(() => document.activeElement.matches("textarea.feedback-input")), "the comment box has the focus");
  await page.keyboard.type("Clear and kind");
  [put] = await Promise.all([page.waitForResponse(call(firstId, "PUT")), page.keyboard.press("Enter")]);
  assert.deepEqual(put.request().postDataJSON(), { rating: "up", comment: "Clear and kind" });
  assert.equal((await put.json()).feedback.comment, "Clear and kind");
  await page.locator(".toast", { hasText: "Thank you for your feedback." }).waitFor();
  await form.waitFor({ state: "detached" });
  assert.equal(await first.locator("button.feedback-note").innerText(), "“Clear and kind”");
  assert.ok(await page.evaluate(() => document.activeElement.matches("button.thumb-up[aria-pressed=true]")), "the focus is back on the thumb");

  // Thumbs down by keyboard (from the message box, backwards), the comment skipped with Escape.
  await page.locator(".composer textarea").focus();
  await tabTo(page, `.message[data-id="${secondId}"] button.thumb-down`, { back: true });
  await assertFocusVisible(page);
  [put] = await Promise.all([page.waitForResponse(call(secondId, "PUT")), page.keyboard.press("Space")]);
  assert.deepEqual(put.request().postDataJSON(), { rating: "down" });
  await second.locator("form.feedback-form label", { hasText: "What fell short? (optional)" }).waitFor();
  await page.waitForFunction(() => document.activeElement.matches("textarea.feedback-input"));
  await page.keyboard.press("Escape");
  await second.locator("form.feedback-form").waitFor({ state: "detached" });
  assert.ok(await page.evaluate(() => document.activeElement.matches("button.thumb-down[aria-pressed=true]")));
  assert.equal(await second.locator("button.feedback-note").innerText(), "Add a comment");

  // What the server has shows after a reload.
  await page.reload();
  await page.locator(`.message[data-id="${secondId}"] button.thumb-down[aria-pressed=true]`).waitFor();
  assert.equal(await page.locator(`.message[data-id="${firstId}"] button.thumb-up`).getAttribute("aria-pressed"), "true");
  assert.equal(await page.locator(`.message[data-id="${firstId}"] button.feedback-note`).innerText(), "“Clear and kind”");
  let { body } = await api("GET", `/api/chat/conversations/${id}`, { token: user.token });
  const stored = (messageId) => body.messages.find((m) => m.id === messageId).feedback;
  assert.deepEqual([stored(firstId).rating, stored(firstId).comment], ["up", "Clear and kind"]);
  assert.deepEqual([stored(secondId).rating, stored(secondId).comment], ["down", null]);
  assert.ok(body.messages.filter((m) => m.role === "user").every((m) => m.feedback === null));

  // Change of mind: the other thumb (the form offered again, skipped by its button).
  const again = page.locator(`.message[data-id="${secondId}"]`);
  [put] = await Promise.all([page.waitForResponse(call(secondId, "PUT")), again.locator("button.thumb-up").click()]);
  assert.deepEqual(put.request().postDataJSON(), { rating: "up" });
  await again.locator("button.feedback-skip").click();
  assert.deepEqual(await again.locator("button.thumb").evaluateAll((b) => b.map((x) => x.getAttribute("aria-pressed"))), ["true", "false"]);

  // Withdraw: the pressed thumb again.
  const one = page.locator(`.message[data-id="${firstId}"]`);
  const [gone] = await Promise.all([page.waitForResponse(call(firstId, "DELETE")), one.locator("button.thumb-up").click()]);
  assert.equal(gone.status(), 204);
  await page.locator(".toast", { hasText: "Your rating is withdrawn." }).waitFor();
  assert.deepEqual(await one.locator("button.thumb").evaluateAll((b) => b.map((x) => x.getAttribute("aria-pressed"))), ["false", "false"]);
  assert.equal(await one.locator("button.feedback-note").count(), 0);
  await page.reload();
  await page.locator(`.message[data-id="${secondId}"] button.thumb-up[aria-pressed=true]`).waitFor();
  assert.equal(await page.locator(`.message[data-id="${firstId}"] button.thumb-up`).getAttribute("aria-pressed"), "false");
  ({ body } = await api("GET", `/api/chat/conversations/${id}`, { token: user.token }));
  assert.equal(stored(firstId), null, "withdrawn on the server");
  assert.equal(stored(secondId).rating, "up");
  ledger.feedback.set(secondId, { assistant: "oracle", rating: "up" });

  // The screenshot: the quota warning and a comment being written.
  await page.locator(`.message[data-id="${secondId}"] button.feedback-note`).click();
  await page.keyboard.type("Brave words, gently put");
  await page.locator(".messages").evaluate((m) => (m.scrollTop = m.scrollHeight));
  await page.locator(".quota[data-state=low]").waitFor();
  await shot(page, "usage-chat-feedback-en");

  // In Chinese.
  await page.click("#lang-switch");
  await page.locator(".feedback-form label", { hasText: "哪里有帮助？（可选）" }).waitFor();
  const zh = page.locator(`.message[data-id="${secondId}"]`);
  assert.equal(await zh.locator(".feedback").getAttribute("aria-label"), "评价这条回答");
  assert.equal(await zh.locator("button.thumb-up").getAttribute("aria-label"), "有帮助");
  assert.equal(await zh.locator("button.thumb-down").getAttribute("aria-label"), "没帮助");
  assert.equal(await zh.locator("textarea.feedback-input").inputValue(), "Brave words, gently put", "the draft survives the switch");
  await page.locator(".quota-warning", { hasText: "消息额度仅剩 3 条（共 10 条）" }).waitFor();
  await shot(page, "usage-chat-feedback-zh");
  await close(page);

  // A phone: the thumbs are thumb-sized and nothing scrolls sideways.
  const phone = await open({ viewport: { width: 390, height: 844 } });
  await loginInUi(phone, user.email);
  await phone.goto(`${stack.base}/#/chat/${id}`);
  await phone.locator(`.message[data-id="${secondId}"] button.thumb-up[aria-pressed=true]`).waitFor();
  await phone.locator(`.message[data-id="${secondId}"] button.feedback-note`).click();
  await phone.locator(".messages").evaluate((m) => (m.scrollTop = m.scrollHeight));
  await noSideways(phone);
  const thumb = await phone.locator(`.message[data-id="${secondId}"] button.thumb-up`).boundingBox();
  assert.ok(thumb.width >= 30 && thumb.height >= 30, "big enough for a thumb");
  await shot(phone, "usage-chat-feedback-phone");
  await close(phone);
});

test("feedback: a reply the client brought along is labelled as such and has no thumbs; the model's reply has them", async () => {
  const user = await registerInApi("bringer@example.com");
  const { status, body } = await api("POST", "/api/chat", { token: user.token, body: { type: "tcm", locale: "en", messages: [
    { role: "user", content: "A question from my old notes" },
    { role: "assistant", content: "An answer I kept from elsewhere" },
    { role: "user", content: "And what now?" },
  ] } });
  assert.equal(status, 200);
  // One message and one reply count, on the dashboard too: the brought ones are not turns.
  counted(user, "tcm", { usage: body.usage });
  const page = await open();
  await loginInUi(page, user.email);
  await page.goto(`${stack.base}/#/chat/${body.conversationId}`);
  const brought = page.locator(".message.assistant", { hasText: "An answer I kept from elsewhere" });
  await brought.locator(".from-client", { hasText: "Brought from a conversation you kept elsewhere" }).waitFor();
  assert.equal(await brought.locator(".feedback").count(), 0, "no thumbs on a reply the model did not write");
  const written = page.locator(`.message[data-id="${body.messageId}"]`);
  await written.locator("button.thumb-up").waitFor();
  assert.equal(await written.locator(".from-client").count(), 0);
  await close(page);
});

// ------------------------------------------------------------------------------------- search

test("search: English in any case and Chinese, snippets, the right conversation at the right message (another branch too), never another user's; more, stale answers, Escape", async () => {
  const alice = await registerInApi("alice@example.com");
  const bob = await registerInApi("bob@example.com");
  // A conversation whose first version speaks of a lotus; the edited one of a mountain.
  const lotus = await say(alice, "Tell me about the lotus pond");
  const edited = await api("POST", `/api/chat/conversations/${lotus.conversationId}/messages/${lotus.userMessageId}/edit`, {
    token: alice.token, body: { content: "Tell me about the mountain", locale: "en" },
  });
  assert.equal(edited.status, 200, JSON.stringify(edited.body));
  counted(alice, "oracle", { usage: edited.body.usage });
  const sleep = await say(alice, "My INSOMNIA keeps returning every night", { type: "tcm" });
  const diary = await say(alice, "A quiet question");
  assert.equal((await api("PATCH", `/api/chat/conversations/${diary.conversationId}`, { token: alice.token, body: { title: "Sleep diary" } })).status, 200);
  const zh = await say(alice, "最近失眠多梦，怎么办？", { type: "tcm", locale: "zh" });
  const bobs = await say(bob, "经常失眠，有哪些调理建议？", { type: "tcm", locale: "zh" });
  await say(bob, "Insomnia again, and a lotus too");

  const page = await open();
  await loginInUi(page, alice.email);
  const searches = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/chat/search?")) searches.push(new URL(r.url()).searchParams.get("q"));
  });
  const box = page.locator("#conversation-search");
  assert.equal(await box.getAttribute("aria-label"), "Search conversations");
  const panel = page.locator(".search-panel");
  const hits = page.locator(".search-hit");
  const settled = () => page.locator(".search-panel[data-state=loaded]").waitFor();

  // Typed a letter at a time, asked once (250 ms after the last key).
  await box.click();
  await page.keyboard.type("insomnia", { delay: 40 });
  await settled();
  assert.deepEqual(searches, ["insomnia"], "one request for the whole word");
  assert.equal(await page.locator(".conversation-list").isVisible(), false, "results instead of the list");
  assert.equal(await page.locator(".sidebar-title").innerText(), "SEARCH RESULTS");
  assert.deepEqual(await hits.evaluateAll((items) => items.map((li) => li.dataset.id)), [sleep.conversationId], "only alice's");
  assert.equal(await page.locator(".search-status[role=status]").innerText(), "1 conversation found");
  const hit = hits.first();
  assert.equal((await hit.locator(".snippet mark").innerText()).toLowerCase(), "insomnia");
  assert.match(await hit.locator(".snippet").innerText(), /INSOMNIA keeps returning/);
  assert.match(await hit.locator(".when").innerText(), /^TCM adviser · (just now|\d+ min ago) · 2 matches$/, "the question and the reply that quotes it");
  await shot(page, "usage-search-en");

  // Opening the hit: the conversation, scrolled to the message, briefly marked.
  const messageId = await hit.getAttribute("data-message-id");
  await hit.locator("a").click();
  await page.locator(`.message[data-id="${messageId}"].found`).waitFor();
  assert.equal(hashId(page), sleep.conversationId);
  assert.ok(await page.locator(`.message[data-id="${messageId}"]`).isVisible());
  assert.ok(await panel.isVisible(), "the results stay for the next hit");

  // Escape: back to the list, the box empty.
  await box.focus();
  await page.keyboard.press("Escape");
  await page.locator(".conversation-list").waitFor();
  assert.equal(await box.inputValue(), "");
  assert.equal(await panel.isVisible(), false);

  // Chinese, as a substring: alice's conversation, not bob's.
  await box.fill("失眠");
  await settled();
  assert.deepEqual(await hits.evaluateAll((items) => items.map((li) => li.dataset.id)), [zh.conversationId]);
  assert.equal(await hits.first().locator(".snippet mark").first().innerText(), "失眠");
  assert.ok(!(await hits.evaluateAll((items) => items.map((li) => li.dataset.id))).includes(bobs.conversationId));

  // A title match: the title marked.
  await box.fill("DIARY");
  await settled();
  assert.deepEqual(await hits.evaluateAll((items) => items.map((li) => li.dataset.id)), [diary.conversationId]);
  assert.equal(await hits.first().locator(".title mark").innerText(), "diary");
  assert.equal(await hits.first().locator(".snippet").count(), 0);
  assert.match(await hits.first().locator(".when").innerText(), /In the title$/);

  // A message on another branch: the site switches to it, then shows it.
  await box.fill("lotus");
  await settled();
  assert.deepEqual(await hits.evaluateAll((items) => items.map((li) => li.dataset.id)), [lotus.conversationId]);
  const offBranch = await hits.first().getAttribute("data-message-id");
  const [switched] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith(`/api/chat/conversations/${lotus.conversationId}/switch`)),
    hits.first().locator("a").click(),
  ]);
  assert.deepEqual(switched.postDataJSON(), { messageId: offBranch });
  await page.locator(`.message[data-id="${offBranch}"].found`).waitFor();
  assert.match(await page.locator(`.message[data-id="${offBranch}"]`).innerText(), /lotus/);
  await page.locator(".message.user .version-count", { hasText: "1/2" }).waitFor();

  // An answer to an older query that comes late is dropped.
  await page.route("**/api/chat/search?*", async (route) => {
    if (new URL(route.request().url()).searchParams.get("q") === "mountain") await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue().catch(() => {}); // aborted meanwhile
  });
  await Promise.all([page.waitForRequest((r) => r.url().includes("q=mountain")), box.fill("mountain")]);
  await box.fill("question");
  await settled();
  await page.waitForTimeout(1800);
  assert.deepEqual(await hits.evaluateAll((items) => items.map((li) => li.dataset.id)), [diary.conversationId], "the later query's results");
  await page.unroute("**/api/chat/search?*");

  // Nothing found; then bob sees only his own.
  await box.fill("zzzz");
  await settled();
  assert.equal(await page.locator(".search-status").innerText(), "No conversation contains “zzzz”.");
  assert.equal(await hits.count(), 0);
  await close(page);
  const other = await api("GET", "/api/chat/search?q=lotus", { token: bob.token });
  assert.deepEqual(other.body.hits.map((h) => h.conversation.id).length, 1, "bob's own lotus only");
  assert.notEqual(other.body.hits[0].conversation.id, lotus.conversationId);

  // More results: an account with many matching conversations (an administrator: no quota).
  const admin = await registerInApi(ADMIN_EMAIL);
  for (let i = 1; i <= 21; i++) await say(admin, `Harmony note ${i}`, { type: i % 3 ? "oracle" : "tcm" });
  const more = await open({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  const [quota] = await Promise.all([more.waitForResponse((r) => r.url().endsWith("/api/chat/quota")), loginInUi(more, ADMIN_EMAIL)]);
  assert.equal((await quota.json()).messages, null);
  assert.equal(await more.locator(".quota").isVisible(), false, "no quota line without a quota");
  await more.click("#menu-button");
  await more.locator("#conversation-search").fill("harmony");
  await more.locator(".search-panel[data-state=loaded]").waitFor();
  assert.equal(await more.locator(".search-hit").count(), 20);
  assert.equal(await more.locator(".search-status").innerText(), "已找到 20 个对话，还有更多");
  await more.locator("button.search-more", { hasText: "更多结果" }).click();
  await more.locator(".search-hit").nth(20).waitFor();
  assert.equal(await more.locator("button.search-more").isVisible(), false);
  assert.equal(await more.locator(".search-status").innerText(), "找到 21 个对话");
  await noSideways(more);
  await shot(more, "usage-search-phone-zh");
  await more.locator(".search-hit a").first().click();
  await more.locator(".message.user", { hasText: "Harmony note 21" }).waitFor();
  await more.waitForTimeout(300);
  assert.equal(await more.locator(".sidebar").isVisible(), false, "opening a hit closes the drawer");
  await close(more);
});

// ---------------------------------------------------------------------------------- dashboard

/** The body cells of a chart's table: numbers by row (`data-value`), text where there is none. */
function tableOf(page, chart) {
  return page.locator(`figure[data-chart=${chart}] table`).evaluate((table) => ({
    head: [...table.tHead.rows[0].cells].map((c) => c.textContent),
    rows: [...table.tBodies[0].rows].map((row) => [...row.cells].map((c) => (c.dataset.value !== undefined ? Number(c.dataset.value) : c.textContent))),
    foot: table.tFoot ? [...table.tFoot.rows[0].cells].map((c) => (c.dataset.value !== undefined ? Number(c.dataset.value) : c.textContent)) : null,
  }));
}

const dayAt = (ms, offset) => new Date(ms + offset * 60_000).toISOString().slice(0, 10);
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86400e3).toISOString().slice(0, 10);

test("the usage dashboard: SVG charts whose tables and CSV files hold exactly this run's numbers; a period of weeks; Ban from the top users; Chinese; a phone", async () => {
  // The rest of the traffic: a stopped reply and a failing model.
  const dan = await registerInApi("dan@example.com");
  const stop = await stopped(dan, "Tell me a long story", { type: "tcm" });
  await fail(dan, "please answer", { type: "oracle", locale: "zh" });
  await say(dan, "A last question", { type: "tcm" });
  const feedback = await api("PUT", `/api/chat/conversations/${stop.conversationId}/messages/${stop.messageId}/feedback`, {
    token: dan.token, body: { rating: "down", comment: "It stopped" },
  });
  assert.equal(feedback.status, 200, JSON.stringify(feedback.body));
  ledger.feedback.set(stop.messageId, { assistant: "tcm", rating: "down" });

  const page = await open({ timezoneId: "Asia/Shanghai" });
  await loginInUi(page, ADMIN_EMAIL);
  await page.click("#nav-admin");
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().includes("/api/admin/usage")),
    page.click("a[data-tab=usage]"),
  ]);
  const today = dayAt(Date.now(), SHANGHAI);
  const sent = Object.fromEntries(new URL(request.url()).searchParams);
  assert.deepEqual(sent, { from: addDays(today, -29), to: today, bucket: "day", utcOffsetMinutes: String(SHANGHAI) });
  assert.equal(new URL(page.url()).hash, "#/admin/usage");
  await page.locator("figure.chart-figure svg.chart").nth(4).waitFor();
  assert.equal(await page.locator("svg.chart").count(), 5);
  assert.equal(await page.locator("input[name=usage-range][value='30d']").isChecked(), true);
  await page.locator(".usage-span", { hasText: "by day, times in UTC+8" }).waitFor();

  // What this run should show.
  const messages = ledger.messages.oracle + ledger.messages.tcm;
  const tokens = ledger.prompt + ledger.completion;
  const active = [...ledger.users.values()].filter((u) => u.active).length;
  const ratings = (assistant, rating) => [...ledger.feedback.values()].filter((f) => f.assistant === assistant && f.rating === rating).length;
  const totals = await page.locator(".usage-total dd").evaluateAll((dds) => dds.map((dd) => Number(dd.dataset.value)));
  assert.deepEqual(totals, [messages, ledger.replies, tokens, active, ledger.registrations, ledger.stopped, ledger.modelErrors]);
  assert.ok(messages > 40 && ledger.stopped === 1 && ledger.modelErrors === 1, JSON.stringify(ledger));

  // The tables: 30 days, everything today (the last row), zeros before.
  const zeros = (rows, width) => rows.slice(0, -1).every((row) => row.slice(1, width + 1).every((n) => n === 0));
  const messagesTable = await tableOf(page, "messages");
  assert.deepEqual(messagesTable.head, ["Day", "The Oracle", "TCM adviser", "Total"]);
  assert.equal(messagesTable.rows.length, 30);
  assert.ok(zeros(messagesTable.rows, 3));
  assert.deepEqual(messagesTable.rows.at(-1).slice(1), [ledger.messages.oracle, ledger.messages.tcm, messages]);
  assert.deepEqual(messagesTable.foot, ["Total", ledger.messages.oracle, ledger.messages.tcm, messages]);
  const tokensTable = await tableOf(page, "tokens");
  assert.deepEqual(tokensTable.rows.at(-1).slice(1), [ledger.prompt, ledger.completion, tokens]);
  assert.ok(zeros(tokensTable.rows, 3));
  const usersTable = await tableOf(page, "users");
  assert.deepEqual(usersTable.rows.at(-1).slice(1), [active, ledger.registrations]);
  assert.deepEqual(usersTable.foot.slice(1), [active, ledger.registrations]);
  const problemsTable = await tableOf(page, "problems");
  assert.deepEqual(problemsTable.rows.at(-1).slice(1), [1, 1]);
  assert.ok(zeros(problemsTable.rows, 2));
  const feedbackTable = await tableOf(page, "feedback");
  const share = (up, down) => (up + down ? `${Math.round((100 * up) / (up + down))}%` : "—");
  assert.deepEqual(feedbackTable.rows, ["oracle", "tcm"].map((a) => [
    a === "oracle" ? "The Oracle" : "TCM adviser", ratings(a, "up"), ratings(a, "down"), share(ratings(a, "up"), ratings(a, "down")),
  ]));
  assert.deepEqual(feedbackTable.rows.map((row) => row.slice(1, 3)), [[1, 0], [0, 1]]);

  // The top users: by tokens, then messages (then id), with what each used.
  const expected = [...ledger.users.values()].filter((u) => u.messages || u.tokens)
    .sort((a, b) => b.tokens - a.tokens || b.messages - a.messages || (a.id < b.id ? -1 : 1)).slice(0, 10);
  const top = await page.locator("table.top-users tbody tr").evaluateAll((rows) => rows.map((row) => [
    row.dataset.email, ...[...row.querySelectorAll("td.num")].map((td) => Number(td.dataset.value))]));
  assert.deepEqual(top, expected.map((u) => [u.email, u.tokens, u.messages]));
  assert.equal(top[0][0], ADMIN_EMAIL, "the administrator wrote the most");

  // The charts: titled, described, labelled, a legend; their table reachable under "Show as table".
  const figure = page.locator("figure[data-chart=messages]");
  const svg = figure.locator("svg.chart");
  assert.equal(await svg.getAttribute("role"), "img");
  assert.equal(await page.locator(`#${await svg.getAttribute("aria-labelledby")}`).innerText(), "Messages by assistant");
  const description = await page.locator(`#${await svg.getAttribute("aria-describedby")}`).textContent();
  assert.equal(description, `Messages by assistant: ${messages} in all; the most, ${messages}, on ${new Intl.DateTimeFormat("en", { month: "short", day: "numeric", timeZone: "UTC" }).format(Date.parse(`${today}T00:00:00Z`))}.`);
  assert.deepEqual(await figure.locator(".chart-legend li").allInnerTexts(), ["The Oracle", "TCM adviser"]);
  assert.equal(await svg.locator(".series path").count(), 2, "a line per assistant");
  const ticks = await svg.locator(".grid text.tick").allTextContents();
  assert.ok(ticks.includes("0") && ticks.some((tick) => /^[A-Z][a-z]{2} \d{1,2}$/.test(tick)), ticks.join("|"));
  assert.deepEqual(await svg.locator("text.axis-label").allTextContents(), ["Day", "Messages"]);
  const { viewBox, drawn } = await svg.evaluate((s) => ({ viewBox: s.viewBox.baseVal.width, drawn: s.getBoundingClientRect().width }));
  assert.ok(Math.abs(viewBox - drawn) < 20, `drawn at its width (${viewBox} for ${drawn}px)`);
  assert.equal(await figure.locator("details table").isVisible(), false);
  await figure.locator("details summary", { hasText: "Show as table" }).click();
  assert.ok(await figure.locator("details table").isVisible());
  assert.equal(await page.locator("figure[data-chart=tokens] svg .series").count(), 2, "prompt and completion, stacked");
  assert.equal(await page.locator("figure[data-chart=feedback] svg .series").count(), 2);
  await figure.locator("details summary").click();
  await shot(page, "usage-dashboard-en", { tall: true });

  // CSV: a header row, a record per day, CRLF, the same numbers.
  const [download] = await Promise.all([page.waitForEvent("download"), figure.locator("button.download-csv").click()]);
  assert.equal(download.suggestedFilename(), `usage-messages-${addDays(today, -29)}-${today}.csv`);
  const csv = readFileSync(await download.path(), "utf8");
  assert.ok(csv.startsWith("\uFEFF"), "a byte order mark");
  const records = csv.slice(1).split("\r\n");
  assert.equal(records.pop(), "", "every record ends with CRLF");
  assert.equal(records.length, 31);
  assert.equal(records[0], "Day,The Oracle,TCM adviser,Total");
  assert.equal(records[1], `${addDays(today, -29)},0,0,0`);
  assert.equal(records[30], `${today},${ledger.messages.oracle},${ledger.messages.tcm},${messages}`);
  const [topFile] = await Promise.all([page.waitForEvent("download"), page.locator("button.download-csv[data-csv=top-users]").click()]);
  const topRecords = readFileSync(await topFile.path(), "utf8").slice(1).trimEnd().split("\r\n");
  assert.equal(topRecords[0], "Email,Tokens,Messages sent,Banned");
  assert.deepEqual(topRecords.slice(1).map((line) => line.split(",").slice(0, 3)), expected.map((u) => [u.email, String(u.tokens), String(u.messages)]));

  // Ban from the top users (and unban).
  const danRow = page.locator(`table.top-users tr[data-email="${dan.email}"]`);
  await danRow.locator("button.ban").click();
  await page.locator("dialog.modal h2", { hasText: `Ban ${dan.email}?` }).waitFor();
  await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/api/admin/users/${dan.id}/ban`)), page.click("dialog.modal button[value=confirm]")]);
  await danRow.locator(".status-pill.banned").waitFor();
  assert.equal((await api("GET", "/api/auth/session", { token: dan.token })).status, 401, "banned: the session is over");
  await danRow.locator("button.unban").click();
  await page.click("dialog.modal button[value=confirm]");
  await danRow.locator(".status-pill.active").waitFor();

  // The last year, by week: the same totals, a row per week (weeks start on Monday).
  const [yearly] = await Promise.all([
    page.waitForRequest((r) => r.url().includes("/api/admin/usage") && r.url().includes("bucket=week")),
    page.locator("label.range-choice", { hasText: "Last year (by week)" }).click(),
  ]);
  assert.equal(new URL(yearly.url()).searchParams.get("from"), addDays(today, -364));
  await page.locator(".usage-body[data-bucket=week]").waitFor();
  const weekly = await tableOf(page, "messages");
  assert.equal(weekly.head[0], "Week of");
  assert.ok(weekly.rows.length >= 53 && weekly.rows.length <= 54, `${weekly.rows.length} weeks`);
  assert.deepEqual(weekly.rows.at(-1).slice(1), [ledger.messages.oracle, ledger.messages.tcm, messages]);
  assert.deepEqual((await tableOf(page, "users")).foot.slice(1), [active, ledger.registrations]);
  assert.equal(await page.locator(".usage-body").getAttribute("data-to"), today);

  // In Chinese: titles, legends, axis labels, month and day names, the table.
  await page.click("#lang-switch");
  await page.locator("figure[data-chart=messages] .chart-title", { hasText: "各助手的消息数" }).waitFor();
  const zh = page.locator("figure[data-chart=messages]");
  assert.deepEqual(await zh.locator(".chart-legend li").allInnerTexts(), ["易者", "中医顾问"]);
  assert.ok((await zh.locator("svg .grid text.tick").allTextContents()).some((tick) => /^\d{1,2}月\d{1,2}日$/.test(tick)));
  assert.deepEqual(await zh.locator("svg text.axis-label").allTextContents(), ["周（起始日）", "消息数"]);
  assert.equal(await zh.locator("details summary").innerText(), "以表格显示");
  assert.deepEqual((await tableOf(page, "messages")).head, ["周起始日", "易者", "中医顾问", "合计"]);
  assert.equal(await page.locator("figure[data-chart=tokens] .chart-title").innerText(), "Token 用量");
  assert.deepEqual(await page.locator("figure[data-chart=problems] .chart-legend li").allInnerTexts(), ["被停止的回答", "模型错误"]);
  assert.equal(await page.locator(".usage-total[data-total=messages] dt").innerText(), "发送的消息");
  assert.match(await page.locator(".usage-span").innerText(), /^\d{4}年\d{1,2}月\d{1,2}日 至 \d{4}年\d{1,2}月\d{1,2}日，按周统计，时区 UTC\+8$/);
  await page.evaluate(() => document.getElementById("toasts")?.replaceChildren()); // the English ones of before
  await shot(page, "usage-dashboard-zh", { tall: true });
  await page.locator("label.range-choice", { hasText: "最近 30 天" }).click();
  await page.locator(".usage-body[data-bucket=day]").waitFor();
  await close(page);

  // A phone, in India (+5:30, sent as +6), in both languages.
  for (const [locale, name] of [["en-US", "usage-dashboard-phone-en"], ["zh-CN", "usage-dashboard-phone-zh"]]) {
    const phone = await open({ locale, viewport: { width: 390, height: 844 }, timezoneId: "Asia/Kolkata" });
    await loginInUi(phone, ADMIN_EMAIL);
    const [asked] = await Promise.all([
      phone.waitForRequest((r) => r.url().includes("/api/admin/usage")),
      phone.goto(`${stack.base}/#/admin/usage`),
    ]);
    assert.equal(new URL(asked.url()).searchParams.get("utcOffsetMinutes"), "360");
    await phone.locator("svg.chart").nth(4).waitFor();
    await noSideways(phone);
    const width = await phone.locator("figure[data-chart=messages] svg.chart").evaluate((s) => s.viewBox.baseVal.width);
    assert.ok(width < 390, `drawn for the phone's width (${width})`);
    const label = await phone.locator("figure[data-chart=messages] svg.chart text.tick").first().evaluate((t) => t.getBoundingClientRect().height);
    assert.ok(label >= 11, `labels stay readable (${label}px)`);
    await shot(phone, name, { tall: true });
    await close(phone);
  }
});
