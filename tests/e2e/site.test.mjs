// The site in a real headless Chromium against `make dev`, with the fake-openai upstream
// (an OpenAI-compatible server that describes each request back, word by word).
// Screenshots of the main screens go to tests/e2e/screenshots/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const root = new URL("../..", import.meta.url).pathname;
const shots = join(root, "tests/e2e/screenshots");
const work = mkdtempSync(join(tmpdir(), "e2e-"));
const children = [];
let base;
let browser;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(command, args, env) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  const upstream = start(join(root, "target/debug/fake-openai"), [], { FAKE_OPENAI_DELAY_MS: "60" });
  const upstreamUrl = await new Promise((resolve, reject) => {
    upstream.stdout.once("data", (line) => resolve(String(line).trim()));
    upstream.once("exit", (code) => reject(new Error(`fake-openai exited with ${code}`)));
  });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const dev = start("make", ["--no-print-directory", "dev"], {
    PORT: String(port),
    DATABASE_URL: `sqlite://${work}/e2e.db?mode=rwc`,
    ADMIN_EMAILS: "admin@example.com",
    OPENAI_API_KEY: "e2e",
    OPENAI_BASE_URL: upstreamUrl,
    OPENAI_MODEL: "e2e-model",
    BCRYPT_COST: "4",
    RUST_LOG: "warn",
  });
  let log = "";
  dev.stderr.on("data", (chunk) => (log = (log + chunk).slice(-4000)));
  await until("make dev to answer /api/health", async () => (await fetch(`${base}/api/health`)).ok, 600_000).catch((error) => {
    throw new Error(`${error.message}\n${log}`);
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-quic", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ locale: "en-US", viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.on("dialog", (dialog) => dialog.accept(dialog.type() === "prompt" ? "My first reading" : undefined));
  await page.goto(base);
  return page;
}

async function signUp(page, email) {
  await page.click("text=Create account");
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", "a good password");
  await page.click("button[type=submit]");
  await page.waitForSelector(".composer textarea");
}

async function ask(page, text) {
  await page.fill(".composer textarea", text);
  await page.press(".composer textarea", "Enter");
  const reply = page.locator(".bubble.assistant").last();
  await reply.locator("text=heard:").waitFor();
  await page.waitForSelector(".composer button[type=submit]:not([hidden])");
  return reply;
}

test("a user registers, chats with streaming replies, switches assistant and language, and manages history", async () => {
  const page = await newPage();
  await page.waitForSelector("form.auth");
  await page.screenshot({ path: join(shots, "login-en.png") });

  // A wrong password shows the API's error, in words.
  await page.fill("input[name=email]", "nobody@example.com");
  await page.fill("input[name=password]", "wrong password");
  await page.click("button[type=submit]");
  await page.locator(".form-error", { hasText: "incorrect" }).waitFor();

  await signUp(page, "alice@example.com");
  assert.equal(await page.locator("#who").textContent(), "alice@example.com");
  assert.equal(await page.locator("#nav-admin").isHidden(), true, "no admin link for a USER");

  // The reply streams in: it is visible before it is complete.
  await page.fill(".composer textarea", "What does hexagram one mean?");
  await page.press(".composer textarea", "Enter");
  const reply = page.locator(".bubble.assistant").last();
  await reply.locator("strong", { hasText: "oracle" }).waitFor();
  const partial = await reply.textContent();
  await page.waitForSelector(".composer button[type=submit]:not([hidden])");
  const complete = await reply.textContent();
  assert.ok(complete.length > partial.length, `streamed: ${JSON.stringify(partial)} then ${JSON.stringify(complete)}`);
  assert.match(complete, /\(en\) heard: What does hexagram one mean\?/);
  // Markdown is rendered; the model's <script> is shown as text and never runs.
  assert.equal(await reply.locator("code").count(), 1);
  assert.equal(await reply.locator("script").count(), 0);
  assert.match(complete, /<script>window.__injected = true<\/script>/);
  assert.equal(await page.evaluate(() => window.__injected), undefined);
  await page.screenshot({ path: join(shots, "chat-en.png") });

  // The other assistant, then the other language: both reach the model.
  await page.click(".persona.tcm");
  assert.match(await (await ask(page, "How can I sleep better?")).textContent(), /tcm \(en\) heard/);
  await page.click("#lang");
  await page.waitForSelector(".persona.tcm.current");
  assert.equal(await page.locator(".composer button[type=submit]").textContent(), "发送");
  // The switch keeps the open conversation on screen and continues it.
  await page.locator(".bubble.user", { hasText: "How can I sleep better?" }).waitFor();
  assert.match(await (await ask(page, "秋天如何养肺？")).textContent(), /tcm \(zh\) heard: 秋天如何养肺？/);
  await page.screenshot({ path: join(shots, "chat-zh.png") });
  await page.click("#lang");
  await page.click("text=New chat");
  await ask(page, "A third question");

  // The sidebar lists the three conversations; reopening one restores it.
  await until("three conversations", async () => (await page.locator(".conversation-list li").count()) === 3, 10_000);
  await page.locator(".conversation-list li", { hasText: "What does hexagram one mean?" }).click();
  await page.locator(".bubble.user", { hasText: "What does hexagram one mean?" }).waitFor();
  assert.equal(await page.locator(".persona.oracle.current").count(), 1);
  assert.equal(await page.locator(".bubble").count(), 2);

  // Rename (the prompt answers "My first reading") and delete (confirmed).
  const item = page.locator(".conversation-list li.current");
  await item.hover();
  await item.locator("button[title=Rename]").click();
  await page.locator(".conversation-list li", { hasText: "My first reading" }).waitFor();
  const doomed = page.locator(".conversation-list li", { hasText: "How can I sleep better?" });
  await doomed.hover();
  await doomed.locator("button[title=Delete]").click();
  await until("the deletion", async () => (await page.locator(".conversation-list li").count()) === 2, 10_000);

  // Stop: the display stops at once.
  await page.click(".persona.oracle");
  await page.fill(".composer textarea", "Tell me a long story about the Receptive and the Creative");
  await page.press(".composer textarea", "Enter");
  await page.locator(".bubble.assistant").last().locator("strong").waitFor();
  await page.click("text=Stop");
  await page.locator(".bubble.assistant .status", { hasText: "Stopped" }).waitFor();

  // A phone-sized screen: the sidebar folds away behind the menu button.
  await page.setViewportSize({ width: 390, height: 844 });
  assert.equal(await page.locator("#menu").isVisible(), true);
  await page.screenshot({ path: join(shots, "chat-phone.png") });
  await page.click("#menu");
  await page.locator(".chat.open .sidebar").waitFor();
  await page.screenshot({ path: join(shots, "chat-phone-sidebar.png") });
  await page.context().close();
});

test("an admin bans a user and downloads the export; the banned user is logged out", async () => {
  const user = await newPage();
  await signUp(user, "bob@example.com");
  await ask(user, "Hello from Bob");

  const admin = await newPage();
  await signUp(admin, "admin@example.com");
  await admin.click("#nav-admin");
  await admin.fill("input[type=search]", "bob@");
  await admin.click("text=Filter");
  const row = admin.locator("tr[data-email='bob@example.com']");
  await row.waitFor();
  await admin.screenshot({ path: join(shots, "admin-users.png") });
  await row.locator("text=Ban").click();
  await row.locator("text=Banned").waitFor();

  await admin.click("button[data-tab=audit]");
  await admin.locator("td", { hasText: "banned bob@example.com" }).waitFor();
  await admin.screenshot({ path: join(shots, "admin-audit.png") });

  await admin.click("button[data-tab=export]");
  for (const format of ["json", "ndjson"]) {
    await admin.selectOption("select", format);
    const [download] = await Promise.all([admin.waitForEvent("download"), admin.click("text=Download")]);
    const text = readFileSync(await download.path(), "utf8");
    if (format === "json") {
      const { data } = JSON.parse(text);
      assert.ok(data.users.some((u) => u.email === "bob@example.com" && u.bannedAt));
      assert.ok(data.messages.some((m) => m.content === "Hello from Bob"));
      assert.ok(!text.includes("passwordHash") && !text.includes("$2b$"));
    } else {
      const lines = text.trim().split("\n").map((line) => JSON.parse(line));
      assert.ok(lines.some((l) => l.type === "message" && l.data.content === "Hello from Bob"));
    }
    assert.match(download.suggestedFilename(), new RegExp(`^export-.*\\.${format}$`));
  }

  // Bob's next call finds his session gone: back to the login page, told why.
  await user.fill(".composer textarea", "Am I still here?");
  await user.press(".composer textarea", "Enter");
  await user.waitForSelector("form.auth");
  await user.locator("#notice", { hasText: "session has ended" }).waitFor();
  await user.fill("input[name=email]", "bob@example.com");
  await user.fill("input[name=password]", "a good password");
  await user.click("button[type=submit]");
  await user.locator(".form-error", { hasText: "suspended" }).waitFor();
  await user.context().close();
  await admin.context().close();
});
