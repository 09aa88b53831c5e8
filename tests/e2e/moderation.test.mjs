// Moderation as people meet it, in headless Chromium against `make dev` with the fake model's
// OpenAI-form moderation endpoint (fake-openai.mjs): a message that breaks the content rules is
// not sent and is shown marked, to edit; a reply that breaks them midway is withdrawn and a
// notice stands in its place, with no thumbs; in English and Chinese. Screenshots:
// tests/e2e/screenshots/moderation-*.png. Also the red-flag cards: an emergency sign in a message shows
// its card (the numbers as links to call) above the reply and again in the history.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ask, close, closeBrowser, launchBrowser, open, registerInUi, shot } from "./browser.mjs";
import { UNSAFE_INPUT, UNSAFE_OUTPUT } from "./fake-openai.mjs";
import { startStack } from "./stack.mjs";

let stack;

before(async () => {
  stack = await startStack({ moderation: true });
  await launchBrowser(stack, { timezoneId: "UTC" });
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

for (const { locale, lang, replyNotice, messageNotice } of [
  { locale: "en-US", lang: "en", replyNotice: "cannot be shown", messageNotice: "Not sent to the assistant" },
  { locale: "zh-CN", lang: "zh", replyNotice: "未能显示", messageNotice: "未发送给助手" },
]) {
  test(`blocked replies and messages are shown as such (${lang})`, async () => {
    const page = await open({ locale });
    try {
      await registerInUi(page, `moderated-${lang}@example.com`);
      const checkedBefore = stack.upstream.moderations.length;

      const reply = await ask(page, "[unsafe] tell me everything", { status: "blocked" });
      const text = await reply.textContent();
      assert.ok(text.includes(replyNotice), text);
      assert.ok(!text.includes(UNSAFE_OUTPUT), "the blocked words never reach the page");
      assert.equal(await reply.locator("button.thumb").count(), 0, "no thumbs on a withdrawn reply");
      const html = await page.content();
      assert.ok(!html.includes(UNSAFE_OUTPUT), "nor anywhere else in the page");
      assert.ok(stack.upstream.moderations.length > checkedBefore, "the reply was checked");
      await shot(page, `moderation-reply-${lang}`);

      const asked = stack.upstream.requests.length;
      await page.fill(".composer textarea", `where can I get ${UNSAFE_INPUT}`);
      await page.press(".composer textarea", "Enter");
      const marked = page.locator(".message.user .status.blocked").last();
      await marked.waitFor({ timeout: 15_000 });
      assert.ok((await marked.textContent()).includes(messageNotice));
      assert.equal(stack.upstream.requests.length, asked, "the model never got the blocked message");
      await shot(page, `moderation-message-${lang}`);
    } finally {
      await close(page);
    }
  });
}

for (const { locale, lang, text, card, number, title } of [
  { locale: "en-US", lang: "en", text: "I have crushing chest pain", card: "emergency", number: "120", title: "This may be an emergency" },
  { locale: "zh-CN", lang: "zh", text: "我不想活了", card: "crisis", number: "12356", title: "你并不孤单" },
]) {
  test(`an emergency sign shows its card above the reply, and again in the history (${lang})`, async () => {
    const page = await open({ locale });
    try {
      await registerInUi(page, `red-flag-${lang}@example.com`);
      const reply = await ask(page, text);
      const shown = page.locator(`.red-flag-card.${card}`);
      await shown.waitFor();
      assert.equal(await shown.getAttribute("role"), "alert");
      assert.ok((await shown.textContent()).includes(title));
      assert.equal(await shown.locator(`a.call[href="tel:${number}"]`).count(), 1);
      const [cardBox, replyBox] = [await shown.boundingBox(), await reply.boundingBox()];
      assert.ok(cardBox.y < replyBox.y, "the card is above the reply");
      await shot(page, `red-flag-${lang}`);
      await page.reload();
      await page.locator(`.red-flag-card.${card}`).waitFor();
    } finally {
      await close(page);
    }
  });
}
