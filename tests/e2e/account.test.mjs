// The accounts people run themselves, in headless Chromium against `make dev` with a real SMTP
// server (tests/smtp/smtp_sink.py) whose mail the tests read and whose links they follow: a
// password reset by mail, the address confirmation and its notice (optional, and required for
// chatting), a password change, the devices list, the data download and deleting the account,
// in English and in Chinese. Screenshots: tests/e2e/screenshots/account-*.png, and
// /tmp/account-page.png, /tmp/account-page-phone.png.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  ask, close, closeBrowser, launchBrowser, loginInUi, open, registerInApi, registerInUi, shot, submitLogin, PASSWORD,
} from "./browser.mjs";
import { apiClient, mailLink, startStack } from "./stack.mjs";

const NEW_PASSWORD = "a better password";
const CJK = /[\u4e00-\u9fff]/;

let stack;
let api;

before(async () => {
  stack = await startStack({ mail: { verification: "optional" } });
  api = apiClient(stack.base);
  await launchBrowser(stack);
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

// ------------------------------------------------------------------------------------ helpers

const login = (email, password, call = api) => call("POST", "/api/auth/login", { body: { email, password } });

/** The account page, reached the way a person does: the account menu's link. */
async function openAccountPage(page) {
  await page.click("#account-button");
  await page.click("#nav-account");
  await page.locator(".account-section.devices li.device").first().waitFor();
  assert.match(new URL(page.url()).hash, /^#\/account$/);
}

const isReset = (message) => /\/#\/reset\//.test(message.text ?? "");
const isVerify = (message) => /\/#\/verify\//.test(message.text ?? "");
const token = (page) => page.evaluate(() => localStorage.getItem("auth_token"));

// -------------------------------------------------------------------------------------- tests

test("forgot password: the mail's link sets a new password and logs in; the old password and the other sessions stop working", async () => {
  const email = "reset@example.com";
  await registerInApi(email);
  const other = (await login(email, PASSWORD)).body.token;
  const page = await open({ path: "/#/login" });
  await page.locator("form.auth-form").waitFor();
  await page.fill("input[name=email]", email);
  await page.click("a.forgot-link");
  await page.locator(".auth-title", { hasText: "Forgot your password?" }).waitFor();
  assert.equal(new URL(page.url()).hash, "#/forgot");
  assert.equal(await page.inputValue("#forgot-email"), email, "the address typed on the login page comes along");

  // The form's own check, then the API's answer, the same for any address.
  await page.fill("#forgot-email", "not an address");
  await page.click("form.forgot-form button[type=submit]");
  await page.locator("#forgot-email-error", { hasText: "valid email" }).waitFor();
  await page.fill("#forgot-email", email);
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/account/password/forgot")),
    page.click("form.forgot-form button[type=submit]"),
  ]);
  assert.equal(answer.status(), 202);
  await page.locator(".forgot-answer[role=status]", { hasText: `If an account exists for ${email}, a link to reset its password is on its way.` }).waitFor();
  assert.equal(await page.locator("form.forgot-form").isVisible(), false);
  await shot(page, "account-forgot-en");
  const unknown = await api("POST", "/api/account/password/forgot", { body: { email: "nobody-here@example.com" } });
  assert.deepEqual([unknown.status, unknown.body], [202, { accepted: true }], "no hint whether the address has an account");

  // The mail, in English, with the site's link.
  const mail = await stack.mail.next(email, { match: isReset });
  assert.doesNotMatch(mail.subject, CJK, `an English subject: ${mail.subject}`);
  const link = mailLink(mail, "reset");
  assert.ok(link.startsWith(`${stack.base}/#/reset/`), link);

  await page.goto(link);
  await page.locator(".auth-title", { hasText: "Choose a new password" }).waitFor();
  await page.fill("#reset-password", "short");
  await page.click("form.reset-form button[type=submit]");
  await page.locator("#reset-password-error", { hasText: "at least 8 characters" }).waitFor();
  await page.fill("#reset-password", NEW_PASSWORD);
  await page.fill("#reset-repeat", "something else");
  await page.click("form.reset-form button[type=submit]");
  await page.locator("#reset-repeat-error", { hasText: "not the same" }).waitFor();
  await page.fill("#reset-repeat", NEW_PASSWORD);
  await shot(page, "account-reset-en");
  await page.click("form.reset-form button[type=submit]");
  await page.locator(".composer textarea").waitFor();
  await page.locator(".toast", { hasText: "Your new password is set" }).waitFor();
  assert.match(new URL(page.url()).hash, /^#\/chat/);
  assert.equal(await page.locator("#who").textContent(), email);

  assert.equal((await login(email, PASSWORD)).status, 401, "the old password no longer works");
  assert.equal((await login(email, NEW_PASSWORD)).status, 200, "the new one does");
  assert.equal((await api("GET", "/api/auth/session", { token: other })).status, 401, "the other session has ended");
  assert.equal((await api("GET", "/api/auth/session", { token: await token(page) })).status, 200);

  // The link works once.
  const again = await open({ path: link.slice(stack.base.length) });
  await again.fill("#reset-password", "yet another password");
  await again.fill("#reset-repeat", "yet another password");
  await again.click("form.reset-form button[type=submit]");
  await again.locator(".link-dead", { hasText: "This link no longer works" }).waitFor();
  await again.click(".link-dead a[href='#/forgot']");
  await again.locator(".auth-title", { hasText: "Forgot your password?" }).waitFor();
  await close(again);
  await close(page);
});

test("optional confirmation: the notice shows until the mail's link is opened; a resent link replaces the first", async () => {
  const email = "verify@example.com";
  const page = await open();
  const request = await registerInUi(page, email);
  assert.equal(request.postDataJSON().locale, "en", "the account's mail language is the site's");
  const notice = page.locator("#verify-notice");
  await notice.locator(".verify-notice-text", { hasText: `Please confirm your email address, ${email}` }).waitFor();
  assert.equal(await notice.getAttribute("role"), "region");
  const first = await stack.mail.next(email, { match: isVerify });
  assert.doesNotMatch(first.subject, CJK);
  await shot(page, "account-notice-en");

  // "Send the confirmation mail again": a second mail, whose link replaces the first one's.
  const [sent] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/account/email/verification")),
    notice.locator("button.resend-verification").click(),
  ]);
  assert.equal(sent.status(), 202);
  await notice.locator(".verify-notice-result[role=status]", { hasText: `A new confirmation link is on its way to ${email}` }).waitFor();
  const second = await stack.mail.next(email, { match: isVerify });
  assert.notEqual(mailLink(second, "verify"), mailLink(first, "verify"));

  await openAccountPage(page);
  await page.locator(".address-state[data-verified=false]", { hasText: "Not confirmed" }).waitFor();
  await page.locator(".account-section.profile button.resend-verification").waitFor();

  // A link opened signed out (another browser, a mail scanner) does nothing on its own: it asks
  // to log in to the account first. Logged in, the button confirms; the first link no longer
  // works, said plainly, with a way on.
  const stale = await open({ path: mailLink(first, "verify").slice(stack.base.length) });
  await stale.locator(".verify-result .auth-lead", { hasText: "Log in to the account registered with this address first" }).waitFor();
  await stale.locator(".verify-not-mine a[href='#/forgot']").waitFor();
  await shot(stale, "account-verify-signed-out-en");
  assert.equal((await api("GET", "/api/account", { token: await token(page) })).body.emailVerified, false, "not confirmed on load");
  await stale.click("button.verify-sign-in");
  await submitLogin(stale, email);
  await stale.locator("button.verify-confirm", { hasText: `Confirm ${email}` }).click();
  await stale.locator(".verify-failed", { hasText: "This confirmation link no longer works" }).waitFor();
  await close(stale);

  // The newest link, opened in the same tab: a button confirms, and the notice is gone.
  await page.goto(mailLink(second, "verify"));
  await page.locator(".verify-result .auth-lead", { hasText: `Is ${email} your address?` }).waitFor();
  assert.equal((await api("GET", "/api/account", { token: await token(page) })).body.emailVerified, false, "not on load");
  await page.click("button.verify-confirm");
  await page.locator(".verify-done", { hasText: `Thank you: ${email} is confirmed.` }).waitFor();
  assert.equal(await notice.isVisible(), false, "the notice is gone");
  await shot(page, "account-verified-en");
  await page.click(".verify-result a[href='#/chat']");
  await page.locator(".composer textarea").waitFor();
  await page.reload();
  await page.locator(".composer textarea").waitFor();
  assert.equal(await notice.isVisible(), false, "still gone after a reload: the server knows");
  const { body } = await api("GET", "/api/account", { token: await token(page) });
  assert.equal(body.emailVerified, true);
  assert.ok(body.emailVerifiedAt);
  await openAccountPage(page);
  await page.locator(".address-state[data-verified=true]", { hasText: "Confirmed" }).waitFor();
  assert.equal(await page.locator("button.resend-verification").count(), 0);
  await close(page);
});

test("required confirmation: the chat says it needs a confirmed address and offers a new link; confirmed, the chat answers", async () => {
  const strict = await startStack({ mail: { verification: "required" } });
  try {
    const email = "strict@example.com";
    const page = await open({ base: strict.base });
    await registerInUi(page, email, { base: strict.base });
    const notice = page.locator("#verify-notice.required");
    await notice.locator(".verify-notice-text", { hasText: `Confirm your email address, ${email}, to start chatting` }).waitFor();
    assert.equal(await notice.locator(".verify-notice-close").count(), 0, "a required notice cannot be put away");
    await strict.mail.next(email, { match: isVerify }); // the registration's mail

    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/chat")),
      ask(page, "May I ask already?", { status: "error" }),
    ]);
    assert.equal(refused.status(), 403);
    assert.equal((await refused.json()).error.code, "email_unverified");
    const reply = page.locator(".message.assistant").last();
    await reply.locator(".error", { hasText: "Confirm your email address to chat with the guides" }).waitFor();
    await shot(page, "account-required-en");
    await reply.locator("button.resend-verification").click();
    await page.locator(".toast", { hasText: `A new confirmation link is on its way to ${email}` }).waitFor();
    const mail = await strict.mail.next(email, { match: isVerify });

    await page.goto(mailLink(mail, "verify"));
    await page.click("button.verify-confirm");
    await page.locator(".verify-done", { hasText: `${email} is confirmed` }).waitFor();
    assert.equal(await page.locator("#verify-notice").isVisible(), false);
    await page.click(".verify-result a[href='#/chat']");
    await page.locator(".composer textarea").waitFor();
    const answered = await ask(page, "Now may I ask?");
    assert.match(await answered.locator(".content").innerText(), /heard: “Now may I ask\?”/);
    await close(page);
  } finally {
    await strict.stop();
  }
});

test("changing the password on the account page signs out the other devices, not this one", async () => {
  const email = "change@example.com";
  await registerInApi(email);
  const here = await open();
  await loginInUi(here, email);
  const there = await open();
  await loginInUi(there, email);
  await openAccountPage(here);
  await here.locator("h1", { hasText: "Your account" }).waitFor();

  await here.fill("#current-password", "not my password");
  await here.fill("#new-password", NEW_PASSWORD);
  await here.fill("#repeat-password", NEW_PASSWORD);
  const [refused] = await Promise.all([
    here.waitForResponse((r) => r.url().endsWith("/api/account/password")),
    here.click("form.password-form button[type=submit]"),
  ]);
  assert.equal(refused.status(), 403);
  await here.locator("#current-password-error", { hasText: "That password is not correct." }).waitFor();
  await here.fill("#current-password", PASSWORD);
  await here.fill("#repeat-password", "a different one");
  await here.click("form.password-form button[type=submit]");
  await here.locator("#repeat-password-error", { hasText: "not the same" }).waitFor();
  await here.fill("#repeat-password", NEW_PASSWORD);
  await here.click("form.password-form button[type=submit]");
  // Signed out: the other browser, and the session the API registration opened.
  await here.locator(".password-result[role=status]", { hasText: "Your password has been changed; 2 other devices were signed out." }).waitFor();
  assert.equal(await here.inputValue("#current-password"), "", "the form is emptied");

  // The other browser finds its session gone at its next call: back to login, told why.
  await there.click("#account-button");
  await there.click("#nav-account");
  await there.locator(".auth-notice", { hasText: "Your session has ended" }).waitFor();
  assert.equal(await token(there), null);
  // This one stays signed in, after a reload too.
  await here.reload();
  await here.locator(".account-section.devices li.device").first().waitFor();
  assert.equal(await here.locator("li.device").count(), 1);
  assert.equal((await login(email, PASSWORD)).status, 401);
  assert.equal((await login(email, NEW_PASSWORD)).status, 200);
  await close(there);
  await close(here);
});

test("the devices list: two sessions, this one marked; signing out the other removes it; all others; then this one", async () => {
  const email = "devices@example.com";
  const here = await open();
  await registerInUi(here, email);
  const there = await open({ viewport: { width: 390, height: 844 } });
  await loginInUi(there, email);
  await openAccountPage(here);
  const rows = here.locator("li.device");
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  assert.deepEqual(await rows.evaluateAll((items) => items.map((li) => li.dataset.current)).then((c) => c.sort()), ["false", "true"]);
  const mine = here.locator("li.device[data-current=true]");
  await mine.locator(".badge.this-device", { hasText: "This device" }).waitFor();
  await mine.locator(".device-name", { hasText: "Chrome on Linux" }).waitFor();
  await mine.locator(".device-facts", { hasText: "signed in" }).waitFor();
  assert.equal(await mine.locator("button.sign-out").innerText(), "Sign out here");
  assert.equal(await here.locator("button.revoke-others").isDisabled(), false);

  // Sign out the other one: gone from the list, and that browser is logged out.
  const other = here.locator("li.device[data-current=false]");
  const otherId = await other.getAttribute("data-id");
  const [revoked] = await Promise.all([
    here.waitForResponse((r) => r.url().endsWith(`/api/account/sessions/${otherId}`)),
    other.locator("button.sign-out").click(),
  ]);
  assert.equal(revoked.request().method(), "DELETE");
  await here.locator(".devices-panel .panel-result", { hasText: "Signed out: Chrome on Linux." }).waitFor();
  await here.locator(`li.device[data-id="${otherId}"]`).waitFor({ state: "detached" });
  assert.equal(await rows.count(), 1);
  assert.equal(await here.locator("button.revoke-others").isDisabled(), true, "nothing else to sign out");
  await there.evaluate(() => (location.hash = "#/account"));
  await there.locator(".auth-notice", { hasText: "Your session has ended" }).waitFor();
  await close(there);

  // "Sign out all other devices", confirmed in a dialog.
  const apiToken = (await login(email, PASSWORD)).body.token;
  await here.reload();
  await rows.nth(1).waitFor();
  await here.click("button.revoke-others");
  await here.locator("dialog.modal h2", { hasText: "Sign out all other devices?" }).waitFor();
  await here.click("dialog.modal button[value=confirm]");
  await here.locator(".devices-panel .panel-result", { hasText: "Signed out 1 other device." }).waitFor();
  await here.waitForFunction(() => document.querySelectorAll("li.device").length === 1);
  assert.equal((await api("GET", "/api/auth/session", { token: apiToken })).status, 401);

  // This device: logged out, on the login page.
  const mineToken = await token(here);
  await here.locator("li.device[data-current=true] button.sign-out").click();
  await here.locator(".auth-notice", { hasText: "You have logged out." }).waitFor();
  assert.match(new URL(here.url()).hash, /^#\/login$/);
  assert.equal(await token(here), null);
  assert.equal((await api("GET", "/api/auth/session", { token: mineToken })).status, 401);
  await close(here);
});

test("download my data: JSON and NDJSON files hold the conversation and its messages", async () => {
  const page = await open();
  await registerInUi(page, "export-me@example.com");
  await ask(page, "Hello for the export");
  const conversationId = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/chat\/?/, ""));
  assert.ok(conversationId);
  await openAccountPage(page);
  for (const format of ["json", "ndjson"]) {
    await page.check(`.account-section.data input[value=${format}]`);
    const [download, response] = await Promise.all([
      page.waitForEvent("download"),
      page.waitForResponse((r) => r.url().includes("/api/account/export")),
      page.click("button.download-my-data"),
    ]);
    assert.equal(new URL(response.url()).searchParams.get("format"), format);
    assert.match(response.headers()["content-disposition"] ?? "", /attachment/);
    assert.ok(response.request().headers().authorization?.startsWith("Bearer "), "fetched with the bearer token");
    assert.match(download.suggestedFilename(), new RegExp(`\\.${format}$`));
    const text = readFileSync(await download.path(), "utf8");
    assert.ok(!text.includes("passwordHash") && !/\$2[aby]\$/.test(text), "no password hash");
    assert.ok(text.includes("export-me@example.com"), "the account");
    assert.ok(text.includes(conversationId), "the conversation");
    assert.ok(text.includes("Hello for the export"), "the user's message");
    assert.ok(text.includes("heard: “Hello for the export”"), "the reply");
    if (format === "json") JSON.parse(text);
    else text.trim().split("\n").forEach((line) => JSON.parse(line));
    await page.locator(".account-section.data .panel-result", { hasText: `Downloaded ${download.suggestedFilename()}` }).waitFor();
  }
  await close(page);
});

test("deleting the account: a dialog says what is lost and asks for the password; then logged out, and the address is free again", async () => {
  const email = "delete-me@example.com";
  const page = await open();
  await registerInUi(page, email);
  await ask(page, "Something to lose");
  const oldToken = await token(page);
  await openAccountPage(page);

  await page.click("button.delete-account");
  const modal = page.locator("dialog.modal");
  await modal.locator("h2", { hasText: "Delete your account for good?" }).waitFor();
  const said = await modal.locator(".modal-text").innerText();
  assert.match(said, new RegExp(`The account ${email} will be deleted`));
  assert.match(said, /all your conversations and every message in them/);
  assert.match(said, /This cannot be undone\./);
  assert.equal(await modal.locator("input[type=password]").getAttribute("autocomplete"), "current-password");
  await shot(page, "account-delete-dialog-en");
  await modal.locator("button[value=cancel]").click();
  await modal.waitFor({ state: "detached" });
  assert.equal((await api("GET", "/api/account", { token: oldToken })).status, 200, "cancelled: nothing happened");

  await page.click("button.delete-account");
  await modal.locator("input[type=password]").fill("wrong password");
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/account/delete")),
    modal.locator("button[value=confirm]").click(),
  ]);
  assert.equal(refused.status(), 403);
  await modal.locator(".field-error", { hasText: "That password is not correct." }).waitFor();
  assert.ok(await modal.isVisible(), "the dialog stays open");
  await modal.locator("input[type=password]").fill(PASSWORD);
  await modal.locator("button[value=confirm]").click();
  await page.locator(".auth-notice", { hasText: "Your account and all its conversations and messages have been deleted." }).waitFor();
  assert.match(new URL(page.url()).hash, /^#\/login$/);
  assert.equal(await token(page), null);
  assert.equal((await api("GET", "/api/auth/session", { token: oldToken })).status, 401);

  // The login fails; the same address registers again, with nothing of the old account.
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("form.auth-form button[type=submit]");
  await page.locator(".form-error", { hasText: "The email or password is incorrect." }).waitFor();
  await registerInUi(page, email);
  await page.locator(".conversation-list li.empty", { hasText: "No conversations yet" }).waitFor();
  await close(page);
});

test("in Chinese: the account page, the notice, the links' pages, and a zh account's mail; switching language sets the mail's", async () => {
  const email = "zh-user@example.com";
  const page = await open({ locale: "zh-CN" });
  const request = await registerInUi(page, email);
  assert.equal(request.postDataJSON().locale, "zh");
  await page.locator("#verify-notice .verify-notice-text", { hasText: `请验证你的邮箱 ${email}` }).waitFor();
  await page.locator("#verify-notice button.resend-verification", { hasText: "重新发送验证邮件" }).waitFor();
  const verification = await stack.mail.next(email, { match: isVerify });
  assert.match(verification.subject, CJK, `a Chinese subject: ${verification.subject}`);
  assert.match(verification.text, CJK);

  await page.click("#account-button");
  await page.locator("#nav-account", { hasText: "账号设置" }).click();
  await page.locator(".account-section.devices li.device").first().waitFor();
  await page.locator("h1", { hasText: "我的账号" }).waitFor();
  for (const heading of ["邮箱地址", "修改密码", "已登录的设备", "下载我的数据", "删除账号"]) {
    await page.locator(".account-section h2", { hasText: heading }).waitFor();
  }
  await page.locator(".address-state", { hasText: "未验证" }).waitFor();
  await page.locator(".badge.this-device", { hasText: "当前设备" }).waitFor();
  await page.locator("label[for=current-password]", { hasText: "当前密码" }).waitFor();
  assert.equal(await page.inputValue("#account-locale"), "zh");
  await shot(page, "account-page-zh", { tall: true });
  await page.click("button.delete-account");
  await page.locator("dialog.modal h2", { hasText: "永久删除账号？" }).waitFor();
  await page.locator("dialog.modal .modal-text", { hasText: "此操作无法撤销。" }).waitFor();
  await page.locator("dialog.modal .modal-text", { hasText: "全部对话和其中的所有消息" }).waitFor();
  await page.click("dialog.modal button[value=cancel]");

  // The site's language is the mail's: switching it while signed in tells the server.
  const [patch] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/api/account") && r.method() === "PATCH"),
    page.click("#lang-switch"),
  ]);
  assert.deepEqual(patch.postDataJSON(), { locale: "en" });
  await page.locator("h1", { hasText: "Your account" }).waitFor();
  await page.waitForFunction(() => document.querySelector("#account-locale")?.value === "en");
  assert.equal((await api("GET", "/api/account", { token: await token(page) })).body.locale, "en");
  await page.locator("#verify-notice button.resend-verification").click();
  const english = await stack.mail.next(email, { match: isVerify });
  assert.doesNotMatch(english.subject, CJK, `now in English: ${english.subject}`);
  await page.click("#lang-switch");
  await page.locator("h1", { hasText: "我的账号" }).waitFor();
  await page.waitForFunction(() => document.querySelector("#account-locale")?.value === "zh");
  assert.equal((await api("GET", "/api/account", { token: await token(page) })).body.locale, "zh");

  // The links' pages in Chinese: confirm the address, then a password reset by mail.
  await page.goto(mailLink(english, "verify"));
  await page.locator("button.verify-confirm", { hasText: `确认邮箱 ${email}` }).click();
  await page.locator(".verify-done", { hasText: `邮箱 ${email} 已验证，谢谢！` }).waitFor();
  assert.equal(await page.locator("#verify-notice").isVisible(), false);
  await page.click("#account-button");
  await page.click("[data-action=logout]");
  await page.locator(".auth-notice", { hasText: "你已退出登录。" }).waitFor();
  await page.fill("input[name=email]", email);
  await page.locator("a.forgot-link", { hasText: "忘记密码？" }).click();
  await page.locator(".auth-title", { hasText: "忘记密码" }).waitFor();
  await page.click("form.forgot-form button[type=submit]");
  await page.locator(".forgot-answer", { hasText: `如果 ${email} 注册过账号，一封带有重置链接的邮件正在发往该邮箱。` }).waitFor();
  await shot(page, "account-forgot-zh");
  const reset = await stack.mail.next(email, { match: isReset });
  assert.match(reset.subject, CJK, `a Chinese subject: ${reset.subject}`);
  assert.match(reset.text, CJK);
  await page.goto(mailLink(reset, "reset"));
  await page.locator(".auth-title", { hasText: "设置新密码" }).waitFor();
  await page.fill("#reset-password", NEW_PASSWORD);
  await page.fill("#reset-repeat", "不一样的密码 again");
  await page.click("form.reset-form button[type=submit]");
  await page.locator("#reset-repeat-error", { hasText: "两次输入的密码不一致。" }).waitFor();
  await page.fill("#reset-repeat", NEW_PASSWORD);
  await page.click("form.reset-form button[type=submit]");
  await page.locator(".composer button.send", { hasText: "发送" }).waitFor();
  await page.locator(".toast", { hasText: "新密码已生效" }).waitFor();
  assert.equal((await login(email, NEW_PASSWORD)).status, 200);
  await close(page);
});

test("the account page on a desktop and a phone: everything fits (screenshots)", async () => {
  const email = "screens@example.com";
  const phone = await open({ viewport: { width: 390, height: 844 } });
  await registerInUi(phone, email);
  await ask(phone, "A question for the screenshots");
  const desk = await open();
  await loginInUi(desk, email);

  await openAccountPage(desk);
  await desk.locator("li.device").nth(1).waitFor();
  await desk.locator("#verify-notice .resend-verification").waitFor();
  await shot(desk, "account-page-en-screen");
  await shot(desk, "account-page-en", { tall: true, copy: "/tmp/account-page.png" });
  const wide = await desk.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wide <= 0, `desktop: no sideways scrolling (${wide}px too wide)`);

  await openAccountPage(phone);
  await phone.locator("li.device").nth(1).waitFor();
  const narrow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(narrow <= 0, `phone: no sideways scrolling (${narrow}px too wide)`);
  for (const selector of ["button.download-my-data", "button.delete-account", "form.password-form button[type=submit]", "button.revoke-others"]) {
    const box = await phone.locator(selector).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${selector} fits the screen`);
  }
  await shot(phone, "account-page-phone-screen");
  await shot(phone, "account-page-phone", { tall: true, copy: "/tmp/account-page-phone.png" });
  await close(phone);
  await close(desk);
});
