// A reply's versions in headless Chromium against `make dev` (the fake OpenAI upstream of
// fake-openai.mjs as the model): Stop keeps the partial reply, Regenerate writes a new version of
// the last reply, and editing a message makes a new branch; the arrows switch between versions,
// by mouse and by keyboard. Screenshots: tests/e2e/screenshots/chat-versions-*.png, chat-edit.png.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  assertFocusVisible, ask, close, closeBrowser, hashId, lastReply, launchBrowser, open, registerInUi, replyText, shot,
  submitLogin, tabTo,
} from "./browser.mjs";
import { apiClient, startStack } from "./stack.mjs";

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

// -------------------------------------------------------------------------------------- tests

test("Stop asks the server to stop: the partial reply stays, marked stopped (after a reload too), and the next message goes at once", async () => {
  const page = await open();
  await registerInUi(page, "dan@example.com");
  const token = await page.evaluate(() => localStorage.getItem("auth_token"));
  await ask(page, "First, a short question");
  const id = hashId(page);
  await page.fill(".composer textarea", "[slow] Tell me a long story about the Receptive and the Creative");
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/api/chat")),
    page.press(".composer textarea", "Enter"),
  ]);
  assert.equal(request.headers().accept, "text/event-stream");
  const stopped = lastReply(page);
  await stopped.locator(".content li").first().waitFor();
  // While a reply streams, the other messages' controls are off.
  assert.equal(await page.locator(".message.user").first().locator("button.edit").isDisabled(), true);
  assert.equal(await page.locator("button.regenerate").count(), 0, "no regenerate while streaming");

  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/chat/conversations/${id}/stop`)),
    page.locator(".composer button.stop").click(),
  ]);
  assert.equal(answer.request().method(), "POST");
  assert.equal(answer.status(), 200);
  assert.deepEqual(await answer.json(), { requested: 1, ended: 1 });
  await page.locator(".message.assistant[data-status=stopped] .status").getByText("Stopped", { exact: true }).waitFor();
  const text = await replyText(stopped);
  assert.ok(text.length > 0 && !text.includes("12. "), `a part of the reply: ${text}`);
  assert.ok(await page.locator(".composer button.send").isVisible());
  assert.equal(await page.locator(".composer button.stop").isVisible(), false);
  assert.equal(await stopped.locator(".caret").count(), 0);

  // The next message goes at once: the server freed the stream slot before it said `done`.
  const next = await ask(page, "And what comes after?");
  assert.match(await replyText(next), /heard: “And what comes after\?”/);
  await page.waitForTimeout(1200); // the stopped reply does not go on (the model wrote one piece per 200 ms)
  const shown = page.locator(".message.assistant").nth(1);
  assert.equal(await replyText(shown), text, "nothing more is shown");
  assert.equal(await shown.getAttribute("data-status"), "stopped");

  // Saved as far as it got, marked stopped; so it shows after a reload.
  const { body } = await api("GET", `/api/chat/conversations/${id}`, { token });
  assert.deepEqual(body.messages.map((m) => [m.role, m.stopped]),
    [["user", false], ["assistant", false], ["user", false], ["assistant", true], ["user", false], ["assistant", false]]);
  assert.ok(!body.messages[3].content.includes("12. "));
  await page.reload();
  await page.locator(".message.assistant").nth(2).waitFor();
  const again = page.locator(".message.assistant").nth(1);
  assert.equal(await again.getAttribute("data-status"), "stopped");
  assert.equal(await again.locator(".status").innerText(), "Stopped");
  assert.equal(await replyText(again), text);

  // If the server cannot be asked, the page at least stops listening, and says the reply goes on.
  await page.route("**/stop", (route) => route.fulfill({ status: 503, contentType: "application/json", body: '{"error":{"code":"database_unavailable","message":"x"}}' }));
  await page.fill(".composer textarea", "[slow] Once more, slowly");
  await page.press(".composer textarea", "Enter");
  await lastReply(page).locator(".content li").first().waitFor();
  await page.locator(".composer button.stop").click();
  await lastReply(page).locator(".status", { hasText: "still written and saved in the background" }).waitFor();
  assert.ok(await page.locator(".composer button.send").isVisible());
  await close(page);
});

test("Regenerate writes a new version of the last reply; the arrows switch between 1/2 and 2/2 (screenshots: en, zh, phone)", async () => {
  const page = await open();
  await registerInUi(page, "ivy@example.com");
  await ask(page, "Which hexagram speaks of patience?");
  const id = hashId(page);
  assert.equal(await page.locator(".versions").count(), 0, "one version: no arrows");
  const regenerate = lastReply(page).locator("button.regenerate");
  assert.equal(await regenerate.getAttribute("aria-label"), "Regenerate");
  // A reply preference given now goes with the new reply (and tells the two apart).
  await page.click(".hint-toggle");
  await page.fill(".hint-input", "Answer in one line");
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().includes(`/api/chat/conversations/${id}/messages/`) && r.url().endsWith("/regenerate")),
    regenerate.click(),
  ]);
  assert.equal(request.headers().accept, "text/event-stream");
  assert.deepEqual(request.postDataJSON(), { locale: "en", systemHint: "Answer in one line", stream: true });
  const reply = lastReply(page);
  await reply.locator(".version-count", { hasText: "2/2" }).waitFor();
  assert.equal(await page.locator(".message").count(), 2, "in place of the old reply");
  assert.match(await replyText(reply), /hint=Answer in one line/);
  assert.equal(await reply.locator(".version-next").isDisabled(), true);
  assert.equal(await reply.locator(".version-previous").getAttribute("aria-label"), "Previous version");

  await reply.locator(".version-previous").click();
  await reply.locator(".version-count", { hasText: "1/2" }).waitFor();
  assert.match(await replyText(lastReply(page)), /hint=none history=1/);
  assert.equal(await lastReply(page).locator(".version-previous").isDisabled(), true);
  await lastReply(page).locator(".version-next").click();
  await lastReply(page).locator(".version-count", { hasText: "2/2" }).waitFor();
  assert.match(await replyText(lastReply(page)), /hint=Answer in one line/);

  // A stopped reply after it, for the screenshots.
  await page.fill(".hint-input", "");
  await page.click(".hint-toggle");
  await page.fill(".composer textarea", "[slow] And what should I do while I wait?");
  await page.press(".composer textarea", "Enter");
  await lastReply(page).locator(".content li").nth(1).waitFor();
  assert.equal(await page.locator(".message.assistant").first().locator(".version-previous").isDisabled(), true, "no switching while a reply streams");
  await page.locator(".composer button.stop").click();
  await page.locator(".message.assistant[data-status=stopped] .status", { hasText: "Stopped" }).waitFor();
  await page.locator(".message.assistant").first().locator(".version-count", { hasText: "2/2" }).waitFor();
  assert.equal(await page.locator(".message.assistant").first().locator(".version-previous").isDisabled(), false);
  await page.locator(".message.assistant").last().locator("button.regenerate").waitFor();
  await shot(page, "chat-versions-en");

  await page.click("#lang-switch");
  await page.locator(".message.assistant[data-status=stopped] .status", { hasText: "已停止" }).waitFor();
  assert.equal(await page.locator(".message.assistant").first().locator(".version-previous").getAttribute("aria-label"), "上一版本");
  assert.equal(await page.locator(".message.assistant").first().locator(".version-next").getAttribute("aria-label"), "下一版本");
  assert.equal(await lastReply(page).locator("button.regenerate").getAttribute("aria-label"), "重新生成");
  assert.equal(await page.locator(".message.user").first().locator("button.edit").getAttribute("aria-label"), "编辑");
  await shot(page, "chat-versions-zh");
  await close(page);

  // A phone, in both languages: the same conversation, reloaded from the server.
  for (const [locale, stoppedLabel, name] of [["zh-CN", "已停止", "chat-versions-phone-zh"], ["en-US", "Stopped", "chat-versions-phone-en"]]) {
    const phone = await open({ locale, viewport: { width: 390, height: 844 } });
    await submitLogin(phone, "ivy@example.com");
    await phone.locator(".composer textarea").waitFor();
    await phone.goto(`${stack.base}/#/chat/${id}`);
    await phone.locator(".message.assistant[data-status=stopped] .status", { hasText: stoppedLabel }).waitFor();
    await phone.locator(".message.assistant").first().locator(".version-count", { hasText: "2/2" }).waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
    const arrows = await phone.locator(".message.assistant").first().locator(".version-previous").boundingBox();
    assert.ok(arrows.width >= 30 && arrows.height >= 30, "arrows big enough for a thumb");
    await phone.locator(".messages").evaluate((m) => (m.scrollTop = m.scrollHeight));
    await shot(phone, name);
    await close(phone);
  }
});

test("Edit a message by keyboard: a new version of it with a new reply, its arrows bring the old branch back", async () => {
  const page = await open();
  await registerInUi(page, "judy@example.com");
  const token = await page.evaluate(() => localStorage.getItem("auth_token"));
  await ask(page, "First question");
  await ask(page, "Second question");
  const id = hashId(page);
  const first = page.locator(".message.user").first();

  // From the message box back to the first message's Edit button, with the keyboard only.
  await page.focus(".composer textarea");
  await tabTo(page, ".message.user:first-of-type button.edit", { back: true });
  assert.equal(await first.locator("button.edit").getAttribute("aria-label"), "Edit");
  await assertFocusVisible(page);
  await page.keyboard.press("Enter");
  const input = first.locator("textarea.edit-input");
  await input.waitFor();
  assert.equal(await input.inputValue(), "First question");
  assert.ok(await input.evaluate((e) => e === document.activeElement), "the text box has the focus");
  // Escape cancels: the message as it was, the focus back on Edit.
  await page.keyboard.type(" (changed my mind)");
  await page.keyboard.press("Escape");
  await first.locator(".content", { hasText: "First question" }).waitFor();
  assert.equal(await first.locator("textarea").count(), 0);
  assert.ok(await first.locator("button.edit").evaluate((e) => e === document.activeElement), "focus back on Edit");

  await page.keyboard.press("Enter");
  await input.waitFor();
  assert.equal(await input.inputValue(), "First question", "the cancelled draft is gone");
  assert.equal(await first.locator("button.save-edit").innerText(), "Save & send");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("Edited question");
  await page.keyboard.press("Tab"); // the focus on Cancel, for the screenshot
  assert.ok(await first.locator("button.cancel-edit").evaluate((e) => e === document.activeElement));
  await assertFocusVisible(page);
  await shot(page, "chat-edit");
  await page.keyboard.press("Shift+Tab");
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().includes(`/api/chat/conversations/${id}/messages/`) && r.url().endsWith("/edit")),
    page.keyboard.press("Control+Enter"),
  ]);
  assert.deepEqual(request.postDataJSON(), { content: "Edited question", locale: "en", stream: true });
  assert.equal(await page.locator(".message").count(), 2, "the branch after the edited message gives way");
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status === "done");
  await first.locator(".version-count", { hasText: "2/2" }).waitFor();
  assert.equal(await first.locator(".content").innerText(), "Edited question");
  assert.match(await replyText(lastReply(page)), /heard: “Edited question”/);
  assert.match(await replyText(lastReply(page)), /history=1/);

  // The arrows, by keyboard too: back to the first version and the branch that followed it.
  await page.focus(".composer textarea");
  await tabTo(page, ".message.user:first-of-type .version-previous", { back: true });
  await assertFocusVisible(page);
  await page.keyboard.press("Enter");
  await first.locator(".version-count", { hasText: "1/2" }).waitFor();
  assert.deepEqual(await page.locator(".message.user .content").allInnerTexts(), ["First question", "Second question"]);
  assert.equal(await page.locator(".message").count(), 4);
  assert.ok(await first.locator(".version-next").evaluate((e) => e === document.activeElement), "the focus stays on the arrows");
  await page.keyboard.press("Enter");
  await first.locator(".version-count", { hasText: "2/2" }).waitFor();
  assert.equal(await page.locator(".message").count(), 2);

  const { body } = await api("GET", `/api/chat/conversations/${id}`, { token });
  assert.deepEqual(body.messages.map((m) => [m.content.slice(0, 15), m.version, m.versions]), [["Edited question", 2, 2], [body.messages[1].content.slice(0, 15), 1, 1]]);
  await close(page);
});
