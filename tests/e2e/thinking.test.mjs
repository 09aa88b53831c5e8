// "Think deeply" in headless Chromium against `make dev` with CHAT_THINKING=offered (the fake
// model of fake-openai.mjs thinks, as DashScope's Qwen3 does, only when a request says
// `enable_thinking: true`): the switch in the composer, the thinking open while it streams and
// folded once the answer begins, the history after a reload, the switch off again, in English
// and in Chinese on a phone; and no switch where the server does not offer it. Screenshots:
// tests/e2e/screenshots/thinking-*.png.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ask, close, closeBrowser, hashId, lastReply, launchBrowser, loginInUi, open, registerInApi, registerInUi, replyText, shot } from "./browser.mjs";
import { THINKING_TEXT, pieces } from "./fake-openai.mjs";
import { ADMIN_EMAIL, startStack } from "./stack.mjs";

let stack;

before(async () => {
  stack = await startStack({ env: { CHAT_THINKING: "offered" } });
  await launchBrowser(stack);
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

/** The chat requests the model received, newest last (title requests apart). */
const modelRequests = () => stack.upstream.requests;

test("Think deeply: the thinking shows while it streams, folds when the answer begins, stays in the history, and never goes back to the model", async () => {
  const page = await open();
  await registerInUi(page, "ponder@example.com");
  const toggle = page.locator(".composer .think-toggle");
  await toggle.waitFor();
  assert.equal(await toggle.locator(".think-label").innerText(), "Think deeply");
  assert.equal(await toggle.getAttribute("aria-pressed"), "false");
  await toggle.click();
  assert.equal(await toggle.getAttribute("aria-pressed"), "true");

  await page.fill(".composer textarea", "What does the hexagram say about waiting?");
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/api/chat")),
    page.press(".composer textarea", "Enter"),
  ]);
  assert.equal(JSON.parse(request.postData()).think, true);
  // While it thinks: open, labelled "Thinking… (n s)", its text growing.
  const thought = lastReply(page).locator("details.thought");
  await thought.locator(".thought-text").filter({ hasText: "First the question" }).waitFor();
  assert.equal(await thought.evaluate((details) => details.open), true);
  assert.match(await thought.locator("summary").innerText(), /^Thinking… \(\d+ s\)$/);
  await shot(page, "thinking-live");
  // The answer begins: the thinking folds, "Thought for n s".
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status !== "streaming", null, { timeout: 30_000 });
  assert.equal(await thought.evaluate((details) => details.open), false);
  assert.match(await thought.locator("summary").innerText(), /^Thought for \d+ s$/);
  assert.ok((await replyText(lastReply(page))).includes("heard"), "the answer is shown apart from the thinking");
  const asked = modelRequests().at(-1);
  assert.equal(asked.enable_thinking, true);
  // Opened, it reads what the model thought.
  await thought.locator("summary").click();
  assert.equal(await thought.locator(".thought-text").innerText(), THINKING_TEXT.en);
  await shot(page, "thinking-open");

  // After a reload the history shows it folded, with its time.
  const id = hashId(page);
  await page.reload();
  const stored = page.locator(".message.assistant").last().locator("details.thought");
  await stored.waitFor();
  assert.equal(await stored.evaluate((details) => details.open), false);
  assert.match(await stored.locator("summary").innerText(), /^Thought for \d+ s$/);
  assert.equal(hashId(page), id);

  // Switched off (remembered across the reload): no thinking, and the model never gets the old one back.
  assert.equal(await toggle.getAttribute("aria-pressed"), "true", "the switch is remembered");
  await toggle.click();
  const plain = await ask(page, "And after the waiting?");
  assert.equal(await plain.locator("details.thought").count(), 0);
  const next = modelRequests().at(-1);
  assert.equal(next.enable_thinking, false);
  assert.ok(!JSON.stringify(next.messages).includes("First the question"), "the thinking was sent back to the model");
  await close(page);
});

test("思考 in Chinese on a phone: the switch, the live label and the folded one", async () => {
  const page = await open({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  await registerInUi(page, "chensi@example.com");
  const toggle = page.locator(".composer .think-toggle");
  await toggle.waitFor();
  assert.equal(await toggle.locator(".think-label").innerText(), "深度思考");
  await toggle.click();
  await page.fill(".composer textarea", "等待之时，卦象怎么说？");
  await page.press(".composer textarea", "Enter");
  const thought = lastReply(page).locator("details.thought");
  await thought.locator(".thought-text").filter({ hasText: "先看问题本身" }).waitFor();
  assert.match(await thought.locator("summary").innerText(), /^正在思考……（\d+ 秒）$/);
  await shot(page, "thinking-live-zh-phone");
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status !== "streaming", null, { timeout: 30_000 });
  assert.match(await thought.locator("summary").innerText(), /^已深度思考（用时 \d+ 秒）$/);
  // The composer still fits the phone: nothing runs past the screen's edge.
  const overflow = await page.evaluate(() => document.querySelector(".composer-row").scrollWidth - document.querySelector(".composer-row").clientWidth);
  assert.ok(overflow <= 0, `the composer row overflows by ${overflow}px`);
  await thought.locator("summary").click();
  assert.equal(await thought.locator(".thought-text").innerText(), THINKING_TEXT.zh);
  await shot(page, "thinking-open-zh-phone");
  await close(page);
});

test("the usage dashboard splits the completion tokens into the answer's and the thinking's", async () => {
  // By now this run's replies thought twice: once in English, once in Chinese.
  const thought = pieces(THINKING_TEXT.en).length + pieces(THINKING_TEXT.zh).length;
  await registerInApi(ADMIN_EMAIL);
  const page = await open();
  await loginInUi(page, ADMIN_EMAIL);
  await page.click("#nav-admin");
  await page.click("a[data-tab=usage]");
  const figure = page.locator("figure[data-chart=tokens]");
  await figure.locator("svg.chart").waitFor();
  assert.equal(await figure.locator("svg .series").count(), 3, "prompt, answer and thinking, stacked");
  const table = await figure.locator("table").evaluate((element) => ({
    head: [...element.tHead.rows[0].cells].map((cell) => cell.textContent),
    foot: [...element.tFoot.rows[0].cells].map((cell) => (cell.dataset.value !== undefined ? Number(cell.dataset.value) : cell.textContent)),
  }));
  assert.deepEqual(table.head.slice(1), ["Prompt tokens", "Answer tokens", "Thinking tokens", "Total"]);
  const [prompt, answer, thinking, total] = table.foot.slice(1);
  assert.equal(thinking, thought);
  assert.equal(prompt + answer + thinking, total, "the parts add up to the total");
  await shot(page, "thinking-usage");
  await close(page);
});

test("Where thinking is off, there is no switch", async () => {
  const plain = await startStack();
  try {
    const page = await open({ base: plain.base });
    await registerInUi(page, "plain@example.com", { base: plain.base });
    // The page has learnt what the server offers before it decides.
    await page.waitForFunction(() => document.querySelector(".ai-disclosure")?.textContent.includes("model"), null, { timeout: 10_000 });
    assert.equal(await page.locator(".composer .think-toggle").isVisible(), false);
    const reply = await ask(page, "A plain question");
    assert.equal(await reply.locator("details.thought").count(), 0);
    assert.equal(plain.upstream.requests.at(-1).enable_thinking, undefined, "no switch is sent where thinking is off");
    await close(page);
  } finally {
    await plain.stop();
  }
});
