// The browser helpers the e2e test files share: one headless Chromium per test file (each file
// runs in a process of its own), fresh contexts and pages on the stack of stack.mjs, screenshots
// into tests/e2e/screenshots/, and the steps every test repeats (register, log in, ask). A test
// file calls launchBrowser(stack) in its before() and closeBrowser() in its after().
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { ROOT, apiClient } from "./stack.mjs";

export const SHOTS = join(ROOT, "tests/e2e/screenshots");
export const PASSWORD = "a good password";
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

let browser;
let stack;
let api;
let defaults = {};

/**
 * Starts Chromium for the tests of this file against `theStack`. `timezoneId`: the pages' time
 * zone unless open() is told another (by default the machine's); `shotsCopy`: a directory every
 * screenshot is copied into too.
 */
export async function launchBrowser(theStack, { timezoneId, shotsCopy = null } = {}) {
  stack = theStack;
  api = apiClient(stack.base);
  defaults = { timezoneId, shotsCopy };
  mkdirSync(SHOTS, { recursive: true });
  if (shotsCopy) mkdirSync(shotsCopy, { recursive: true });
  // launch() gives the browser a fresh temporary user-data dir of its own, removed on close.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-quic", "--disable-sync"],
  });
  return browser;
}

export async function closeBrowser() {
  await browser?.close();
}

/** A fresh browser context (its own localStorage) and page on `base`; page errors fail the test. */
export async function open({ locale = "en-US", viewport = { width: 1280, height: 800 }, path = "/", base = stack.base, timezoneId = defaults.timezoneId } = {}) {
  const context = await browser.newContext({
    locale, viewport, ...(timezoneId ? { timezoneId } : {}), acceptDownloads: true, deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  page.on("dialog", (dialog) => {
    problems.push(`unexpected ${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.problems = problems;
  await page.goto(base + path);
  return page;
}

export async function close(page) {
  assert.deepEqual(page.problems, [], "no script errors or native dialogs");
  await page.context().close();
}

/**
 * A screenshot into tests/e2e/screenshots/ (and a copy at `copy`, and in launchBrowser's
 * `shotsCopy`). `tall`: the whole page, not just the screen: the page's own scroller (the app
 * fills the window) is let grow first.
 */
export async function shot(page, name, { tall = false, copy = null } = {}) {
  await page.evaluate(() => document.fonts.ready);
  if (tall) await page.evaluate(() => [document.documentElement, document.body].forEach((e) => (e.style.height = "auto")));
  await page.waitForTimeout(300); // let entrance animations settle
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: tall });
  if (copy) copyFileSync(path, copy);
  if (defaults.shotsCopy) copyFileSync(path, join(defaults.shotsCopy, `${name}.png`));
  if (tall) await page.evaluate(() => [document.documentElement, document.body].forEach((e) => (e.style.height = "")));
}

/** Registers `email` through the form on `base`; waits for the chat; returns the register request. */
export async function registerInUi(page, email, { base = stack.base } = {}) {
  await page.goto(`${base}/#/register`);
  await page.locator("form.auth-form").waitFor();
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", PASSWORD);
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/api/auth/register")),
    page.click("form.auth-form button[type=submit]"),
  ]);
  await page.locator(".composer textarea").waitFor();
  return request;
}

/** Fills the login form already shown and submits it; waits for nothing. */
export async function submitLogin(page, email, password = PASSWORD) {
  await page.locator("form.auth-form").waitFor();
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", password);
  await page.click("form.auth-form button[type=submit]");
}

/** Logs in through #/login and waits for the chat. */
export async function loginInUi(page, email, password = PASSWORD) {
  await page.goto(`${stack.base}/#/login`);
  await submitLogin(page, email, password);
  await page.locator(".composer textarea").waitFor();
}

/** Registers `email` through the API (`call`: another stack's client); returns the token, or null when `existing` and taken. */
export async function registerInApi(email, { existing = false, call = api } = {}) {
  const { status, body } = await call("POST", "/api/auth/register", { body: { email, password: PASSWORD } });
  if (existing && status === 409) return null;
  assert.equal(status, 201, JSON.stringify(body));
  return body.token;
}

export const lastReply = (page) => page.locator(".message.assistant").last();
export const replyText = (reply) => reply.locator(".content").innerText();

/** Types `text`, sends it with Enter, waits until the reply has finished; returns the reply. */
export async function ask(page, text, { status = "done" } = {}) {
  const before = await page.locator(".message.assistant").count();
  await page.fill(".composer textarea", text);
  await page.press(".composer textarea", "Enter");
  await page.locator(".message.assistant").nth(before).waitFor();
  const reply = lastReply(page);
  await page.waitForFunction(
    () => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status !== "streaming",
    null, { timeout: 30_000 });
  assert.equal(await reply.getAttribute("data-status"), status, await reply.textContent());
  await page.locator(".composer button.send:not([hidden])").waitFor();
  return reply;
}

/** Presses Tab (Shift+Tab with `back`) until `selector` has the focus; fails after `max` presses. */
export async function tabTo(page, selector, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  assert.fail(`the keyboard never reached ${selector}`);
}

/** The focused element shows it: :focus-visible, with an outline. */
export async function assertFocusVisible(page) {
  const { visible, outline } = await page.evaluate(() => ({
    visible: document.activeElement.matches(":focus-visible"),
    outline: getComputedStyle(document.activeElement).outlineStyle,
  }));
  assert.ok(visible && outline !== "none", `focus is visible (${visible}, outline ${outline})`);
}

/** The conversation id in the page's #/chat/<id> address. */
export const hashId = (page) => decodeURIComponent(new URL(page.url()).hash.replace(/^#\/chat\/?/, ""));
