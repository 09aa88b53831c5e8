// The oracle's readings (issue 25) as people meet them, in headless Chromium against `make dev`:
// casting with three coins (six lines drawn, the text alternative the server's summary, the
// governing texts), recording lines cast by hand (泰 becoming 既济, lines 2 and 5 changing, 六五
// the principal text), asking the oracle about the reading (the chat turn carries readingId; the
// card stays above the message after a reload), the journal (listed, searched, a reading deleted
// after a confirmation), in English and Chinese, and on a phone without sideways scrolling.
// Screenshots: tests/e2e/screenshots/oracle-*.png.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { close, closeBrowser, launchBrowser, open, registerInUi, shot } from "./browser.mjs";
import { apiClient, startStack } from "./stack.mjs";

let stack;
let api;

before(async () => {
  stack = await startStack();
  api = apiClient(stack.base);
  await launchBrowser(stack, { timezoneId: "UTC" });
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

const noSidewaysScroll = async (page, what) => {
  const extra = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(extra <= 0, `${what}: no sideways scrolling (${extra}px too wide)`);
};

const token = (page) => page.evaluate(() => localStorage.getItem("auth_token"));

/** Opens the casting dialog, fills it, casts; resolves to the reading the server answered. */
async function castInUi(page, { question, method = "coins", lines = null, typed = false }) {
  if (typed) await page.fill(".composer textarea", question);
  await page.click("#cast-button");
  const dialog = page.locator("dialog[data-dialog=cast]");
  await dialog.waitFor();
  if (typed) assert.equal(await dialog.locator("textarea[name=question]").inputValue(), question, "prefilled from the message box");
  else await dialog.locator("textarea[name=question]").fill(question);
  await dialog.locator(`input[name=method][value=${method}]`).check();
  if (lines) {
    for (const [index, value] of lines.entries()) await dialog.locator(`select[name=line-${index + 1}]`).selectOption(String(value));
  }
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/oracle/readings") && r.request().method() === "POST"),
    dialog.locator("button[type=submit]").click(),
  ]);
  assert.equal(response.status(), 201);
  const { reading } = await response.json();
  await dialog.waitFor({ state: "detached" });
  const card = page.locator(`.reading-card[data-reading-id="${reading.id}"]`);
  await card.waitFor();
  // The lines are drawn from the bottom up, one after another, then the words come.
  const delays = await card.evaluate((element) => [...element.querySelectorAll(".primary svg.hexagram g.bar")]
    .map((bar) => parseFloat(getComputedStyle(bar).animationDelay) || 0));
  if (await card.evaluate((element) => element.classList.contains("casting"))) {
    assert.deepEqual([...delays].sort((a, b) => a - b), delays, "bottom line first");
    assert.ok(delays[5] > delays[0]);
  }
  await page.waitForFunction((id) => !document.querySelector(`.reading-card[data-reading-id="${id}"].casting`), reading.id, { timeout: 5000 });
  return { reading, card };
}

/** What a card shows of its hexagrams. */
async function drawn(card) {
  return card.evaluate((element) => ({
    figures: [...element.querySelectorAll("svg.hexagram")].map((svg) => ({
      bars: svg.querySelectorAll("g.bar").length,
      changing: [...svg.querySelectorAll("g.bar.changing")].map((g) => Number(g.dataset.position)),
      marks: svg.querySelectorAll(".mark").length,
    })),
    label: element.querySelector("[role=img]")?.getAttribute("aria-label"),
    principal: element.querySelector(".governing li.principal .governing-text")?.textContent,
    texts: [...element.querySelectorAll(".governing li .governing-text")].map((li) => li.textContent),
    changingText: element.querySelector(".reading-changing")?.textContent,
    names: element.querySelector(".reading-hexagrams")?.textContent,
  }));
}

test("casting with three coins (English): six lines appear, the card's text alternative is the server's summary, the governing texts shown", async () => {
  const page = await open({ locale: "en-US" });
  await registerInUi(page, "coins@example.com");
  assert.ok(await page.locator("#cast-button").isVisible(), "the cast button is there with the Oracle");
  // Empty question: the dialog says so and sends nothing.
  await page.click("#cast-button");
  const dialog = page.locator("dialog[data-dialog=cast]");
  await dialog.locator("button[type=submit]").click();
  assert.match(await dialog.locator(".field-error").innerText(), /write your question/);
  await shot(page, "oracle-cast-dialog-en");
  await dialog.locator("button[value=cancel]").click();
  await dialog.waitFor({ state: "detached" });

  const { reading, card } = await castInUi(page, { question: "Should I take the new post?", typed: true });
  assert.equal(await page.locator(".composer textarea").inputValue(), "", "the question left the message box");
  // The lines appear from the bottom, then stay.
  await page.waitForFunction((id) => {
    const bars = [...document.querySelectorAll(`.reading-card[data-reading-id="${id}"] svg.hexagram.primary, .reading-card[data-reading-id="${id}"] .primary svg.hexagram`)]
      .flatMap((svg) => [...svg.querySelectorAll("g.bar")]);
    return bars.length === 6 && bars.every((bar) => Number(getComputedStyle(bar).opacity) === 1);
  }, reading.id, { timeout: 5000 });
  const seen = await drawn(card);
  assert.equal(seen.figures.length, reading.relating ? 2 : 1);
  for (const figure of seen.figures) assert.equal(figure.bars, 6, "six bars in each hexagram");
  assert.deepEqual(seen.figures[0].changing, reading.changing, "the changing lines marked on the primary");
  assert.equal(seen.figures[0].marks, reading.changing.length);
  assert.equal(seen.label, reading.summary, "the text alternative is the summary");
  assert.ok(reading.governing.length > 0);
  assert.deepEqual(seen.texts, reading.governing.map((text) => text.text), "the governing texts, verbatim");
  assert.ok(seen.names.includes(reading.primary.name) && seen.names.includes(reading.primary.english));
  await shot(page, "oracle-card-coins-en");
  await close(page);
});

test("lines cast by hand (Chinese): 泰 becoming 既济, lines 2 and 5 marked, 六五 the principal text; asking the oracle sends readingId; the journal lists, searches and deletes", async () => {
  const page = await open({ locale: "zh-CN" });
  await registerInUi(page, "manual@example.com");
  const { reading, card } = await castInUi(page, { question: "此事可行否？", method: "manual", lines: [7, 9, 7, 8, 6, 8] });
  assert.deepEqual(reading.lines, [7, 9, 7, 8, 6, 8]);
  assert.equal(reading.primary.name, "泰");
  assert.equal(reading.relating.name, "既济");
  const seen = await drawn(card);
  assert.deepEqual(seen.figures.map((f) => f.bars), [6, 6]);
  assert.deepEqual(seen.figures[0].changing, [2, 5]);
  assert.equal(seen.figures[0].marks, 2);
  assert.equal(seen.figures[1].marks, 0, "no marks on the relating hexagram");
  assert.match(seen.names, /泰[\s\S]*→[\s\S]*既济/);
  assert.equal(seen.changingText, "变爻：第2、5爻");
  assert.equal(seen.principal, "六五：帝乙归妹，以祉，元吉。");
  assert.equal(seen.label, reading.summary);
  await shot(page, "oracle-card-manual-zh");

  // Ask the oracle: the turn carries the reading's id and the question; the reply comes.
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/api/chat") && r.method() === "POST"),
    card.locator("button.ask-oracle").click(),
  ]);
  const body = request.postDataJSON();
  assert.equal(body.readingId, reading.id);
  assert.equal(body.messages[0].content, "此事可行否？");
  assert.equal(body.type, "oracle");
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status === "done", null, { timeout: 30_000 });
  const reply = await page.locator(".message.assistant").last().locator(".content").innerText();
  assert.match(reply, /易者[\s\S]*此事可行否？/);
  assert.match(reply, /persona=oracle lang=zh/);
  // The card stays, above the message that asked about it, without its ask button.
  const order = async () => page.evaluate(() => [...document.querySelectorAll(".messages-inner > *")].map((e) => (e.classList.contains("reading-card") ? "card" : e.classList.contains("user") ? "user" : e.classList.contains("assistant") ? "reply" : "other")));
  await page.waitForFunction(() => location.hash.startsWith("#/chat/") && document.querySelector(".message.assistant[data-id]"));
  assert.deepEqual((await order()).filter((x) => x !== "other"), ["card", "user", "reply"]);
  assert.equal(await page.locator(".reading-card .ask-oracle").count(), 0);
  const conversationId = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/chat\//, ""));
  const stored = await api("GET", `/api/oracle/readings/${reading.id}`, { token: await token(page) });
  assert.equal(stored.body.reading.conversationId, conversationId, "the reading is linked to the conversation");
  await shot(page, "oracle-asked-zh");

  // Reloaded, the conversation shows its reading again above the question.
  await page.reload();
  await page.locator(`.reading-card[data-reading-id="${reading.id}"]`).waitFor();
  await page.locator(".message.assistant").first().waitFor();
  assert.deepEqual((await order()).filter((x) => x !== "other"), ["card", "user", "reply"]);

  // Two more readings for the journal, one of them not 泰.
  const auth = await token(page);
  const other = await api("POST", "/api/oracle/readings", { token: auth, body: { question: "乾之问", method: "manual", lines: [7, 7, 7, 7, 7, 7] } });
  assert.equal(other.status, 201);
  const third = await api("POST", "/api/oracle/readings", { token: auth, body: { question: "再问泰", method: "manual", lines: [7, 7, 7, 8, 8, 8] } });
  assert.equal(third.status, 201);

  // The journal: newest first.
  await page.click("#journal-button");
  const journal = page.locator("dialog[data-dialog=journal]");
  await journal.waitFor();
  await page.waitForFunction(() => document.querySelectorAll(".journal-entry").length === 3);
  const questions = () => journal.locator(".journal-question").allInnerTexts();
  assert.deepEqual(await questions(), ["再问泰", "乾之问", "此事可行否？"]);
  assert.match(await journal.locator(".journal-entry").nth(2).locator(".journal-names").innerText(), /泰 Peace → 既济 After Completion/);
  assert.equal(await journal.locator(".journal-entry").nth(2).locator("svg.hexagram g.bar").count(), 6);
  assert.equal(await journal.locator(".journal-entry").nth(0).locator(".journal-open").count(), 0, "no conversation to open");
  await shot(page, "oracle-journal-zh");

  // Search 泰: the two readings with 泰.
  await journal.locator("input[name=q]").fill("泰");
  await page.waitForFunction(() => document.querySelectorAll(".journal-entry").length === 2);
  assert.deepEqual(await questions(), ["再问泰", "此事可行否？"]);

  // Delete one, after a confirmation that starts on cancel.
  const entry = journal.locator(".journal-entry").filter({ hasText: "再问泰" });
  await entry.locator(".journal-delete").click();
  const confirm = page.locator("dialog[data-dialog=delete-reading]");
  await confirm.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.value), "cancel", "the focus starts on cancel");
  await confirm.locator("button[value=confirm]").click();
  await confirm.waitFor({ state: "detached" });
  await page.waitForFunction(() => document.querySelectorAll(".journal-entry").length === 1);
  assert.deepEqual(await questions(), ["此事可行否？"]);
  assert.equal((await api("GET", `/api/oracle/readings/${third.body.reading.id}`, { token: auth })).status, 404);

  // Opening the linked conversation from the journal.
  await journal.locator(".journal-open").first().click();
  await journal.waitFor({ state: "detached" });
  await page.waitForFunction((id) => location.hash === `#/chat/${encodeURIComponent(id)}`, conversationId);
  await page.locator(`.reading-card[data-reading-id="${reading.id}"]`).waitFor();
  await close(page);
});

test("on a phone (English): the cast button, the dialog, the card and the journal fit without sideways scrolling", async () => {
  const page = await open({ locale: "en-US", viewport: { width: 390, height: 844 } });
  await registerInUi(page, "phone@example.com");
  await noSidewaysScroll(page, "the chat");
  assert.ok(await page.locator("#cast-button").isVisible());
  await page.click("#cast-button");
  const dialog = page.locator("dialog[data-dialog=cast]");
  await dialog.waitFor();
  await dialog.locator("textarea[name=question]").fill("How should I meet the change at work, which has been coming for months?");
  await dialog.locator("input[name=method][value=manual]").check();
  await noSidewaysScroll(page, "the casting dialog");
  await shot(page, "oracle-phone-dialog");
  for (const [index, value] of [7, 9, 7, 8, 6, 8].entries()) await dialog.locator(`select[name=line-${index + 1}]`).selectOption(String(value));
  await dialog.locator("button[type=submit]").click();
  await dialog.waitFor({ state: "detached" });
  const card = page.locator(".reading-card");
  await card.waitFor();
  await page.waitForTimeout(1500);
  await noSidewaysScroll(page, "the reading's card");
  const box = await card.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the card fits (${box.x}, ${box.width})`);
  await shot(page, "oracle-phone-card");
  await card.locator("button.ask-oracle").click();
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status === "done", null, { timeout: 30_000 });
  await noSidewaysScroll(page, "the conversation");
  await shot(page, "oracle-phone-asked");
  await page.click("#menu-button");
  await page.click("#journal-button");
  await page.locator(".journal-entry").first().waitFor();
  await noSidewaysScroll(page, "the journal");
  await shot(page, "oracle-phone-journal");
  await close(page);
});

test("keyboard: the cast button, the dialog and the card's ask button are reachable; reduced motion draws at once", async () => {
  const page = await open({ locale: "en-US" });
  await page.emulateMedia({ reducedMotion: "reduce" });
  await registerInUi(page, "keys@example.com");
  await page.focus(".composer textarea");
  await page.keyboard.type("A question typed first");
  await page.keyboard.press("Shift+Tab");
  for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement?.id === "cast-button")); i++) await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "cast-button");
  await page.keyboard.press("Enter");
  const dialog = page.locator("dialog[data-dialog=cast]");
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.name), "question", "the focus starts on the question");
  for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement?.type === "submit")); i++) await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cast", "Tab reaches the cast button of the dialog");
  await page.keyboard.press("Enter");
  await dialog.waitFor({ state: "detached" });
  const card = page.locator(".reading-card");
  await card.waitFor();
  assert.ok(!(await card.evaluate((e) => e.querySelector("svg.hexagram.casting") !== null) && await card.evaluate((e) => Number(getComputedStyle(e.querySelector("g.bar")).opacity) < 1)),
    "with reduced motion the lines are there at once");
  assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("ask-oracle")), true, "the focus goes to the ask button");
  await close(page);
});

test("the TCM adviser's header names the solar term the server computed, with a seasonal note, in both languages; the Oracle's does not", async () => {
  const season = (await api("GET", "/api/chat/season")).body;
  assert.ok(season.current?.name && season.next?.name, JSON.stringify(season));
  const page = await open({ locale: "en-US" });
  try {
    await registerInUi(page, "season@example.com");
    assert.equal(await page.locator(".season-line").count(), 0, "the Oracle's header has no season");
    await page.click(".persona.tcm");
    const line = page.locator(".chat-head .season-line");
    await line.locator(".season-name", { hasText: `Solar term: ${season.current.name} · ${season.current.english}` }).waitFor();
    assert.ok((await line.locator(".season-note").innerText()).trim().length > 10, "a seasonal note");
    await shot(page, "season-tcm-en");
    await page.click("#lang-switch");
    await page.locator(".chat-head .season-line .season-name", { hasText: `节气：${season.current.name}` }).waitFor();
    await page.click(".persona.oracle");
    await page.locator(".chat-head .season-line").waitFor({ state: "detached" });
  } finally {
    await close(page);
  }
});
