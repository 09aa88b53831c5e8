// The constitution self-assessment (体质自评, issue 25) as people meet it, in headless Chromium
// against `make dev` started with HEALTH_CONSENT=required: from the TCM chat's header, the
// questionnaire answered in full (the sex first, one question chosen by it; sixty radio groups
// named by their questions; the keyboard; what is missing said and gone to; a language switch
// keeping the answers), the result (the summary, the chart's nine bars with the API's scores and
// verdicts, the verdicts in words, the types' descriptions, the text alternative, the note that
// the TCM adviser sees it, the disclaimer), in English and in Chinese; refused submissions (a
// network failure, a rate limit, the consent declined then given in the flow, a reload and the
// session's end between) losing no answer, and a logout clearing them; the history (newest first, opened, deleted after a deliberate confirmation,
// on the account page too, and with the consent's withdrawal); and a phone. Screenshots:
// tests/e2e/screenshots/constitution-*.png.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PASSWORD, close, closeBrowser, launchBrowser, loginInUi, open, shot } from "./browser.mjs";
import { apiClient, startStack } from "./stack.mjs";

let stack;
let api;
let questionnaire;

before(async () => {
  stack = await startStack({ env: { HEALTH_CONSENT: "required" } });
  api = apiClient(stack.base);
  await launchBrowser(stack, { timezoneId: "UTC" });
  const answer = await api("GET", "/api/constitution/questionnaire");
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  questionnaire = answer.body;
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

// ------------------------------------------------------------------------------------ helpers

/** Registers `email` through the API, with the consent to health information unless `consent` is false; returns the token. */
async function account(email, { consent = true } = {}) {
  const { status, body } = await api("POST", "/api/auth/register", { body: { email, password: PASSWORD } });
  assert.equal(status, 201, JSON.stringify(body));
  if (consent) assert.equal((await api("POST", "/api/account/health-consent", { token: body.token })).status, 200);
  return body.token;
}

const applicable = (sex) => questionnaire.items.filter((item) => !item.sex || item.sex === sex);

/**
 * Answers that make a mix of verdicts: the questions of qi stagnation alone "often" (4), of
 * damp-heat alone "sometimes" (3) or "rarely" (2), of the special type alone "rarely" (2), the
 * rest "never" (1).
 */
function mixed(item) {
  const only = item.counts.length === 1 ? item.counts[0].type : null;
  if (only === "qiStagnation") return 4;
  if (only === "dampHeat") return item.id.length % 2 ? 3 : 2;
  if (only === "special") return 2;
  return 1;
}

/** Checks the answer `pick(item)` of every question that applies to `sex` (the sex chosen first). */
async function answerAll(page, sex, pick = mixed, { from = 0 } = {}) {
  await page.check(`input[name=cs-sex][value=${sex}]`);
  for (const item of applicable(sex).slice(from)) await page.check(`input[name="cs-${item.id}"][value="${pick(item)}"]`);
}

/** Sends the questionnaire; resolves to the response of the POST. */
async function sendAnswers(page) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/constitution/assessments") && r.request().method() === "POST"),
    page.click("button.cs-submit"),
  ]);
  return response;
}

const checkedCount = (page) => page.evaluate(() => document.querySelectorAll(".cs-form input[type=radio]:checked").length);

const formatScore = (score) => String(Math.round(score * 100) / 100);

const noSidewaysScroll = async (page, what) => {
  const extra = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(extra <= 0, `${what}: no sideways scrolling (${extra}px too wide)`);
};

/** What the result's card shows: the chart's rows, the verdicts listed, the text alternative. */
async function shown(page) {
  return page.evaluate(() => {
    const card = document.querySelector(".cs-result");
    return {
      summary: card.querySelector(".cs-summary").textContent,
      date: card.querySelector(".cs-result-date time").getAttribute("datetime"),
      rows: [...card.querySelectorAll("svg.cs-chart g.cs-row")].map((row) => ({
        type: row.dataset.type,
        verdict: row.dataset.verdict,
        name: row.querySelector("text.name").textContent,
        score: row.querySelector("text.score").textContent,
        width: Number(row.querySelector("rect.bar").getAttribute("width")),
        thresholds: [...row.querySelectorAll("line.threshold")].map((line) => Number(line.dataset.value)),
      })),
      bars: card.querySelectorAll("svg.cs-chart rect.bar").length,
      label: card.querySelector("svg.cs-chart").getAttribute("aria-label"),
      alt: document.getElementById(card.querySelector("svg.cs-chart").getAttribute("aria-describedby"))?.textContent,
      listed: [...card.querySelectorAll(".cs-type")].map((li) => ({
        type: li.dataset.type, verdict: li.querySelector(".cs-verdict").textContent, about: li.querySelector(".cs-type-about")?.textContent ?? "",
      })),
      note: card.querySelector(".cs-adviser-note").textContent,
      disclaimer: card.querySelector(".cs-disclaimer").textContent,
    };
  });
}

/** The result's card against the assessment the API answered, in `language`. */
async function assertResult(page, assessment, language, words) {
  await page.locator(`.cs-result[data-id="${assessment.id}"]`).waitFor();
  const seen = await shown(page);
  assert.equal(seen.summary, assessment.summary[language]);
  assert.equal(seen.date, assessment.createdAt);
  assert.equal(seen.bars, 9, "nine bars");
  assert.deepEqual(seen.rows.map((row) => row.type), questionnaire.types.map((type) => type.key), "in the scale's order");
  for (const [index, score] of assessment.scores.entries()) {
    const row = seen.rows[index];
    const type = questionnaire.types.find((entry) => entry.key === score.type);
    assert.equal(row.name, type[language], `${score.type}: named`);
    assert.equal(row.score, formatScore(score.score), `${score.type}: its score`);
    assert.equal(row.verdict, score.verdict, `${score.type}: its verdict`);
    assert.ok(Math.abs(row.width - score.score * 3.6) < 0.05, `${score.type}: the bar's length (${row.width})`);
    assert.deepEqual(row.thresholds, score.type === "balanced" ? [60] : [30, 40], `${score.type}: its thresholds`);
    assert.ok(seen.alt.includes(`${type[language]} ${formatScore(score.score)}`), `the text alternative names ${score.type}`);
    const listed = seen.listed.find((entry) => entry.type === score.type);
    assert.equal(listed.verdict, words[score.verdict], `${score.type}: the verdict in words`);
    assert.equal(listed.about, type.about[language]);
  }
  return seen;
}

const WORDS = {
  en: { yes: "Yes", basically: "Basically", leaning: "Leaning", no: "No" },
  zh: { yes: "是", basically: "基本是", leaning: "倾向是", no: "否" },
};

// ------------------------------------------------------------------------------------ tests

test("English: from the TCM header, the questionnaire answered in full (keyboard, what is missing, a language switch), the result and its chart as the API scored it", async () => {
  const email = "constitution-en@example.com";
  const token = await account(email);
  const page = await open({ locale: "en-US" });
  try {
    await loginInUi(page, email);
    await page.click(".persona.tcm");
    const link = page.locator(".chat-head #constitution-link");
    await link.waitFor();
    assert.equal((await link.innerText()).trim(), "Constitution self-assessment");
    await link.click();
    await page.locator(".cs-intro").waitFor();
    await page.click("a.cs-start");
    await page.locator(".cs-question").first().waitFor();
    assert.equal(new URL(page.url()).hash, "#/constitution/new");
    assert.equal(await page.locator(".cs-recall").innerText(), questionnaire.recall.en);
    assert.match(await page.locator(".cs-sex").innerText(), /Your sex[\s\S]*only chooses one question/);
    // Before a sex is chosen, the sex's questions wait; the count says sixty all the same.
    assert.equal(await page.locator(".cs-questions > li:not([hidden])").count(), 59);
    assert.equal(await page.locator(".cs-count").innerText(), "0 of 60 answered");
    // Each question is a radio group named by its question, with the five answers.
    const first = questionnaire.items[0];
    const group = page.getByRole("group", { name: `1. ${first.en}` });
    assert.equal(await group.getByRole("radio").count(), 5);
    assert.deepEqual(await group.locator(".cs-option span").allInnerTexts(), questionnaire.options.map((option) => option.en));
    await shot(page, "constitution-form-en");

    // Sending too early says what is missing and goes there.
    await page.click("button.cs-submit");
    assert.equal(await page.locator(".cs-problem").innerText(), "Please choose your sex first (it chooses one of the questions).");
    assert.equal(await page.evaluate(() => document.activeElement?.name), "cs-sex");
    await page.keyboard.press("Space"); // the first of the group: female
    assert.equal(await page.locator(".cs-questions > li:not([hidden])").count(), 60);
    const female = questionnaire.items.find((item) => item.sex === "female");
    assert.equal(await page.locator(`.cs-questions > li[data-item="${female.id}"]`).isVisible(), true);
    // The keyboard: a radio group takes one Tab, the arrows choose within it.
    await page.focus(`input[name="cs-${first.id}"][value="1"]`);
    await page.keyboard.press("Space");
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.locator(`input[name="cs-${first.id}"]:checked`).getAttribute("value"), "2");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.name), `cs-${questionnaire.items[1].id}`);
    await page.click("button.cs-submit");
    assert.match(await page.locator(".cs-problem").innerText(), /^59 questions are still unanswered: 2, 3, 4/);
    assert.equal(await page.evaluate(() => document.activeElement?.name), `cs-${questionnaire.items[1].id}`, "the first one left has the focus");
    // The groups left are marked, in words too: their names say "(unanswered)" until answered.
    await page.getByRole("group", { name: `2. ${questionnaire.items[1].en} (unanswered)` }).waitFor();
    assert.equal(await page.locator(".cs-question.missing").count(), 59);

    // Half answered, the language switched: the answers stay, the questions are in Chinese.
    const half = applicable("female").slice(0, 30);
    for (const item of half.slice(1)) await page.check(`input[name="cs-${item.id}"][value="${mixed(item)}"]`);
    assert.equal(await page.locator(".cs-count").innerText(), "30 of 60 answered");
    await page.click("#lang-switch");
    await page.locator(".cs-count", { hasText: "已答 30 / 60" }).waitFor();
    assert.equal(await page.locator(".cs-question legend .cs-text").first().innerText(), first.zh);
    assert.equal(await checkedCount(page), 31, "thirty answers and the sex");
    await page.click("#lang-switch");
    await page.locator(".cs-count", { hasText: "30 of 60 answered" }).waitFor();

    await answerAll(page, "female", mixed, { from: 30 });
    await page.check(`input[name="cs-${first.id}"][value="${mixed(first)}"]`);
    assert.equal(await page.locator(".cs-count").innerText(), "All 60 questions answered.");
    const response = await sendAnswers(page);
    assert.equal(response.status(), 201);
    const sent = response.request().postDataJSON();
    assert.equal(sent.sex, "female");
    assert.deepEqual(Object.keys(sent.answers).sort(), applicable("female").map((item) => item.id).sort(), "the sixty that apply, no more");
    const { assessment } = await response.json();
    await page.waitForFunction((id) => location.hash === `#/constitution/${id}`, assessment.id);
    const seen = await assertResult(page, assessment, "en", WORDS.en);
    assert.equal(seen.label, "Transformed scores of the nine types (0–100)");
    assert.ok(seen.alt.startsWith("Transformed scores of the nine types, out of 100: Balanced"), seen.alt);
    assert.ok(seen.note.includes("The TCM adviser sees your latest result") && seen.note.includes("delete the result to stop that"), seen.note);
    assert.match(seen.disclaimer, /not a diagnosis[\s\S]*our own[\s\S]*ZYYXH\/T157-2009/);
    // The mix the answers were chosen for: qi stagnation yes, damp-heat leaning, balanced not.
    const verdict = (type) => assessment.scores.find((score) => score.type === type).verdict;
    assert.deepEqual([verdict("qiStagnation"), verdict("special"), verdict("balanced")], ["yes", "no", "no"]);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("cs-result-title")), true, "the focus on the result's heading");
    const stored = await api("GET", `/api/constitution/assessments/${assessment.id}`, { token });
    assert.deepEqual(stored.body.assessment.scores, assessment.scores);
    await page.evaluate(() => document.querySelector("details.cs-types.others")?.setAttribute("open", ""));
    await shot(page, "constitution-result-en", { tall: true });

    // Back in the TCM chat, the header names the latest result and opens it.
    await page.click(".cs-talk");
    await page.locator(".persona.tcm[aria-pressed=true]").waitFor();
    await page.locator(`#constitution-link[data-latest="${assessment.id}"]`).waitFor();
    assert.equal((await link.innerText()).trim(), `Your constitution: ${assessment.summary.en}`);
    await shot(page, "constitution-chat-en");
    await link.click();
    await page.locator(`.cs-result[data-id="${assessment.id}"]`).waitFor();
  } finally {
    await close(page);
  }
});

test("Chinese: answered as a man (the women's question left out), the result in Chinese words: 是 / 倾向是 / 否, the types' names and descriptions", async () => {
  const email = "constitution-zh@example.com";
  await account(email);
  const page = await open({ locale: "zh-CN" });
  try {
    await loginInUi(page, email);
    await page.goto(`${stack.base}/#/constitution/new`);
    await page.locator(".cs-question").first().waitFor();
    assert.equal(await page.locator(".cs-recall").innerText(), questionnaire.recall.zh);
    await answerAll(page, "male");
    const male = questionnaire.items.find((item) => item.sex === "male");
    const female = questionnaire.items.find((item) => item.sex === "female");
    assert.equal(await page.locator(`.cs-questions > li[data-item="${female.id}"]`).isHidden(), true);
    assert.match(await page.locator(`.cs-question[data-item="${male.id}"] legend`).innerText(), new RegExp(`^\\d+\\. ${male.zh.replace(/[?？()（）]/g, ".")}$`));
    assert.equal(await page.locator(".cs-count").innerText(), "全部 60 题已答完。");
    await shot(page, "constitution-form-zh");
    const response = await sendAnswers(page);
    assert.equal(response.status(), 201);
    const sent = response.request().postDataJSON();
    assert.equal(sent.sex, "male");
    assert.equal(Object.keys(sent.answers).length, 60);
    assert.ok(male.id in sent.answers && !(female.id in sent.answers));
    const { assessment } = await response.json();
    const seen = await assertResult(page, assessment, "zh", WORDS.zh);
    assert.equal(assessment.sex, "male");
    assert.ok(seen.alt.startsWith("九种体质的转化分，满分 100：平和质"), seen.alt);
    assert.match(seen.note, /中医顾问会看到你最新的一次结果/);
    assert.match(seen.disclaimer, /不是诊断[\s\S]*ZYYXH\/T157-2009/);
    const verdicts = new Set(assessment.scores.map((score) => score.verdict));
    for (const wanted of ["yes", "no"]) assert.ok(verdicts.has(wanted), `a "${wanted}" among ${[...verdicts]}`);
    assert.equal(await page.locator(".cs-types.fits h3").innerText(), "与你相符的体质");
    assert.equal(await page.locator(".cs-types.others summary").innerText(), "其余体质（判定为否）");
    await shot(page, "constitution-result-zh", { tall: true });
  } finally {
    await close(page);
  }
});

test("a refused submission keeps every answer: a network failure, a rate limit, the consent declined and then given in the flow, a reload and the session's end between; a logout clears them", async () => {
  const email = "constitution-refused@example.com";
  const token = await account(email, { consent: false });
  const page = await open({ locale: "en-US" });
  try {
    await loginInUi(page, email);
    await page.goto(`${stack.base}/#/constitution/new`);
    await page.locator(".cs-question").first().waitFor();
    assert.match(await page.locator(".cs-consent-note").innerText(), /sending them first asks for your consent/);
    await answerAll(page, "female");
    assert.equal(await checkedCount(page), 61);

    // The network fails.
    await page.route("**/api/constitution/assessments", (route) => route.abort(), { times: 1 });
    await page.click("button.cs-submit");
    await page.locator(".cs-problem", { hasText: "Network error" }).waitFor();
    assert.match(await page.locator(".cs-problem").innerText(), /Your answers are all still here/);
    assert.equal(await checkedCount(page), 61);
    // Too many attempts (as the server words a 429 with Retry-After).
    await page.route("**/api/constitution/assessments", (route) => route.fulfill({
      status: 429, headers: { "Retry-After": "120", "Content-Type": "application/json" },
      body: JSON.stringify({ error: { code: "rate_limited", message: "Too many requests" } }),
    }), { times: 1 });
    await page.click("button.cs-submit");
    await page.locator(".cs-problem", { hasText: "Please try again in 2 min" }).waitFor();
    assert.equal(await checkedCount(page), 61);

    // The server wants the consent: asked for in place; declined, nothing is lost.
    const statuses = [];
    page.on("response", (r) => r.url().endsWith("/api/constitution/assessments") && r.request().method() === "POST" && statuses.push(r.status()));
    await page.click("button.cs-submit");
    const step = page.locator("dialog[data-dialog=health-consent]");
    await step.waitFor();
    assert.match(await step.locator(".consent-note").innerText(), /Your self-assessment answers are health information too/);
    await shot(page, "constitution-consent-en");
    await step.locator("button[value=cancel]").click();
    await step.waitFor({ state: "detached" });
    await page.locator(".cs-problem", { hasText: "Without your consent nothing was sent" }).waitFor();
    assert.equal(await checkedCount(page), 61);
    assert.equal(new URL(page.url()).hash, "#/constitution/new");

    // A reload keeps the answers too (this tab's session).
    await page.reload();
    await page.locator(".cs-question").first().waitFor();
    assert.equal(await checkedCount(page), 61, "the answers are back after a reload");
    assert.equal(await page.locator(".cs-count").innerText(), "All 60 questions answered.");

    // The session ends on the server meanwhile: logged in again in this tab, the answers are there.
    const session = await page.evaluate(() => localStorage.getItem("auth_token"));
    assert.equal((await api("POST", "/api/auth/logout", { token: session })).status, 200);
    await page.click("button.cs-submit");
    await page.locator("form.auth-form").waitFor();
    await loginInUi(page, email);
    await page.goto(`${stack.base}/#/constitution/new`);
    await page.locator(".cs-question").first().waitFor();
    assert.equal(await checkedCount(page), 61, "the answers survived the session's end");

    // Agreed: the same answers go, without answering anything again.
    await page.click("button.cs-submit");
    await step.waitFor();
    const [given] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/account/health-consent") && r.request().method() === "POST"),
      step.locator("button[value=confirm]").click(),
    ]);
    assert.equal(given.status(), 200);
    await page.locator(".cs-result").waitFor();
    assert.deepEqual(statuses, [403, 401, 403, 201], "refused for want of consent, for the ended session, for the consent again, then made");
    const list = await api("GET", "/api/constitution/assessments", { token });
    assert.equal(list.body.total, 1);
    assert.equal(Object.keys(list.body.assessments[0].answers).length, 60);
    // Made, the draft is gone: a new questionnaire starts empty.
    await page.goto(`${stack.base}/#/constitution/new`);
    await page.locator(".cs-question").first().waitFor();
    assert.equal(await checkedCount(page), 0);
    // Logging out on purpose takes unsent answers with it.
    await page.check("input[name=cs-sex][value=male]");
    await page.click("#account-button");
    await page.click("button.menu-item[data-action=logout]");
    await page.locator("form.auth-form").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("constitution_draft")), null);
    await loginInUi(page, email);
    await page.goto(`${stack.base}/#/constitution/new`);
    await page.locator(".cs-question").first().waitFor();
    assert.equal(await checkedCount(page), 0, "nothing kept after a logout");
  } finally {
    await close(page);
  }
});

test("the history: newest first, opened, deleted after a deliberate confirmation, on the account page too; the withdrawal deletes the rest when asked", async () => {
  const email = "constitution-history@example.com";
  const token = await account(email);
  const made = [];
  for (const pick of [() => 1, mixed, () => 3]) {
    const answers = Object.fromEntries(applicable("female").map((item) => [item.id, pick(item)]));
    const { status, body } = await api("POST", "/api/constitution/assessments", { token, body: { sex: "female", answers } });
    assert.equal(status, 201, JSON.stringify(body));
    made.unshift(body.assessment);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // each a second later than the one before
  }
  const page = await open({ locale: "en-US" });
  try {
    await loginInUi(page, email);
    await page.goto(`${stack.base}/#/constitution`);
    const entries = page.locator(".cs-history-card .cs-history-entry");
    await page.waitForFunction(() => document.querySelectorAll(".cs-history-card .cs-history-entry").length === 3);
    assert.deepEqual(await entries.evaluateAll((lis) => lis.map((li) => li.dataset.id)), made.map((a) => a.id), "newest first");
    assert.deepEqual(await page.locator(".cs-history-card .cs-history-summary").allInnerTexts(), made.map((a) => a.summary.en));
    assert.equal(await page.locator(".cs-history-card .cs-history-status").innerText(), "3 in all");
    await shot(page, "constitution-history-en");

    // Opened, then deleted from its page after a confirmation that starts on cancel.
    await entries.nth(1).locator("a.cs-open").click();
    await page.locator(`.cs-result[data-id="${made[1].id}"]`).waitFor();
    await page.click("button.cs-delete-result");
    const confirm = page.locator("dialog[data-dialog=delete-assessment]");
    await confirm.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.value), "cancel", "the focus starts on cancel");
    assert.match(await confirm.innerText(), new RegExp(made[1].summary.en.replace(/[()]/g, ".")));
    await confirm.locator("button[value=confirm]").click();
    await confirm.waitFor({ state: "detached" });
    await page.waitForFunction(() => location.hash === "#/constitution");
    await page.waitForFunction(() => document.querySelectorAll(".cs-history-card .cs-history-entry").length === 2);
    assert.equal((await api("GET", `/api/constitution/assessments/${made[1].id}`, { token })).status, 404);

    // The newest, deleted from the list: the confirmation says the adviser will see the one before.
    await entries.first().locator("button.cs-delete").click();
    await confirm.locator(".modal-text", { hasText: "It is your latest" }).waitFor();
    await confirm.locator("button[value=confirm]").click();
    await page.waitForFunction(() => document.querySelectorAll(".cs-history-card .cs-history-entry").length === 1);
    assert.deepEqual(await entries.evaluateAll((lis) => lis.map((li) => li.dataset.id)), [made[2].id]);

    // The TCM header names what is now the latest.
    await page.goto(`${stack.base}/#/chat`);
    await page.click(".persona.tcm");
    await page.locator(`#constitution-link[data-latest="${made[2].id}"]`).waitFor();

    // The account page lists it; the withdrawal, asked to, deletes it.
    await page.click("#account-button");
    await page.click("#nav-account");
    const section = page.locator(".account-section.constitution");
    await section.locator(`.cs-history-entry[data-id="${made[2].id}"]`).waitFor();
    assert.match(await section.locator(".section-lead").innerText(), /The TCM adviser sees the latest one/);
    await section.scrollIntoViewIfNeeded();
    await shot(page, "constitution-account-en");
    await page.click(".account-section.health button.withdraw-consent");
    const withdraw = page.locator("dialog[data-dialog=withdraw-consent]");
    await withdraw.waitFor();
    const box = withdraw.locator("input[name=deleteAssessments]");
    assert.equal(await box.isChecked(), false, "unticked unless asked");
    await box.check();
    await shot(page, "constitution-withdraw-en");
    const [withdrawn] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/api/account/health-consent") && r.request().method() === "DELETE"),
      withdraw.locator("button[value=confirm]").click(),
    ]);
    assert.match(withdrawn.url(), /deleteConversations=false&deleteAssessments=true$/);
    assert.equal((await withdrawn.json()).deletedAssessments, 1);
    await page.locator(".account-section.health .health-result", { hasText: "1 constitution self-assessment deleted." }).waitFor();
    await section.locator(".cs-history-status", { hasText: "No results yet." }).waitFor();
    assert.equal((await api("GET", "/api/constitution/assessments", { token })).body.total, 0);
  } finally {
    await close(page);
  }
});

test("on a phone (Chinese): the questionnaire, its bar and the result fit without sideways scrolling; the answers are big enough to tap", async () => {
  const email = "constitution-phone@example.com";
  await account(email);
  const page = await open({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  try {
    await loginInUi(page, email);
    await page.click(".persona.tcm");
    await page.locator("#constitution-link").click();
    await page.click("a.cs-start");
    await page.locator(".cs-question").first().waitFor();
    await noSidewaysScroll(page, "the questionnaire");
    const boxes = await page.locator(".cs-question").first().locator(".cs-option span").evaluateAll((spans) => spans.map((s) => s.getBoundingClientRect().toJSON()));
    assert.equal(boxes.length, 5);
    assert.ok(boxes.every((b) => b.height >= 40 && b.width >= 48), `tap targets: ${JSON.stringify(boxes.map((b) => [b.width, b.height]))}`);
    assert.ok(new Set(boxes.map((b) => Math.round(b.top))).size === 1, "the five answers in one row");
    await answerAll(page, "female", mixed, { from: 20 });
    await page.click("button.cs-submit");
    await page.locator(".cs-problem", { hasText: "还有 20 道题没有回答" }).waitFor();
    const bar = await page.locator(".cs-bar").boundingBox();
    assert.ok(bar.y + bar.height <= 844 && bar.height < 844 / 3, `the bar stays in view and small (${JSON.stringify(bar)})`);
    await noSidewaysScroll(page, "the questionnaire with its message");
    await shot(page, "constitution-phone-form");
    await answerAll(page, "female");
    const response = await sendAnswers(page);
    assert.equal(response.status(), 201);
    await page.locator(".cs-result").waitFor();
    await noSidewaysScroll(page, "the result");
    const chart = await page.locator("svg.cs-chart").boundingBox();
    assert.ok(chart.x >= 0 && chart.x + chart.width <= 390, `the chart fits (${chart.x}, ${chart.width})`);
    await shot(page, "constitution-phone-result");
    await page.goto(`${stack.base}/#/constitution`);
    await page.locator(".cs-history-entry").first().waitFor();
    await noSidewaysScroll(page, "the history");
  } finally {
    await close(page);
  }
});
