// Pictures (issue 27) in headless Chromium: picked, pasted and dropped into the composer, shown
// at once with an upload bar, removed (and deleted) before sending, refused here when they are
// not pictures we take or too many; sent with a message, given to the model, shown in the
// history after a reload. Against `make dev`'s local directory (English, desktop; Chinese,
// phone) and against an S3-compatible server of the tests' own (s3s-fs, which checks the
// upload's signed policy): the browser uploads straight to it, a tampered or oversized upload is
// refused there, a file that is not the picture it claims is refused by the turn, and deleting
// the conversation deletes the objects. The TCM adviser's tongue photo: its guide (after the
// health consent where it is asked), the photo with its sentence, and what the photo showed.
// Screenshots: tests/e2e/screenshots/pictures-*.png, tongue-*.png.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { deflateSync } from "node:zlib";
import { close, closeBrowser, lastReply, launchBrowser, open, registerInUi, replyText, shot } from "./browser.mjs";
import { picturesOf } from "./fake-openai.mjs";
import { ROOT, freePort, startStack } from "./stack.mjs";

/** A real PNG of `size`×`size` pixels of one colour (the browser must be able to show it). */
function png(size, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "ascii");
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, tail]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => [r, g, b]).flat())]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: size }, () => row)));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", pixels), chunk("IEND", Buffer.alloc(0))]);
}

const TONGUE = png(48, [196, 98, 104]);
const LEAF = png(40, [88, 140, 96]);
const SKY = png(36, [96, 136, 196]);
const file = (name, buffer, mimeType = "image/png") => ({ name, mimeType, buffer });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let stack;

before(async () => {
  stack = await startStack();
  await launchBrowser(stack);
});

after(async () => {
  await closeBrowser();
  await stack?.stop();
});

/** Every file under `dir`, as paths relative to it (none when it does not exist). */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile() && !entry.name.startsWith("."))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}

/** Adds files through a DataTransfer dispatched as `kind` ("paste" on the message box, "drop" on the composer). */
async function transfer(page, kind, files) {
  await page.evaluate(({ kind, files }) => {
    const data = new DataTransfer();
    for (const { name, type, bytes } of files) data.items.add(new File([Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0))], name, { type }));
    if (kind === "paste") {
      document.querySelector(".composer textarea").dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    } else {
      const form = document.querySelector("form.composer");
      form.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
      form.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    }
  }, { kind, files: files.map(({ name, mimeType, buffer }) => ({ name, type: mimeType, bytes: buffer.toString("base64") })) });
}

const chips = (page) => page.locator(".picture-tray .picture-chip");

/** Waits until every picture waiting is uploaded. */
async function uploaded(page, count) {
  await page.waitForFunction((n) => {
    const all = [...document.querySelectorAll(".picture-tray .picture-chip")];
    return all.length === n && all.every((chip) => chip.dataset.state === "ready");
  }, count, { timeout: 15_000 });
}

/** Whether every picture shown in `locator` has loaded (a real image, not a broken one). */
const loaded = (locator) => locator.evaluateAll((images) => images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0));

test("Pick, paste and drop pictures: previews with an upload bar, remove one, send them, the model sees them, the history shows them", async () => {
  const page = await open();
  await registerInUi(page, "pictures@example.com");
  const button = page.locator(".composer .attach-button");
  await button.waitFor();
  assert.equal(await button.getAttribute("aria-label"), "Add a picture");

  // A slow upload: the bar shows it, and the message waits for it.
  await page.route("**/api/attachments/local-upload", async (route) => {
    await sleep(700);
    await route.continue();
  });
  await page.setInputFiles(".composer input.picture-input", [file("tongue.png", TONGUE)]);
  await chips(page).first().waitFor();
  assert.equal(await chips(page).first().getAttribute("data-state"), "uploading");
  await page.fill(".composer textarea", "What do you see in my tongue?");
  assert.equal(await page.locator(".composer button.send").isDisabled(), true, "the message waits for its pictures");
  await shot(page, "pictures-uploading");
  await uploaded(page, 1);
  await page.unroute("**/api/attachments/local-upload");
  assert.equal(await page.locator(".composer button.send").isDisabled(), false);

  // Pasted into the message box, dropped on the composer.
  await transfer(page, "paste", [file("leaf.png", LEAF)]);
  await transfer(page, "drop", [file("sky.png", SKY)]);
  await uploaded(page, 3);
  assert.equal(await loaded(page.locator(".picture-tray img")), true);
  await shot(page, "pictures-composer");

  // Removed before sending: deleted on the server.
  const [deleted] = await Promise.all([
    page.waitForRequest((request) => request.method() === "DELETE" && /\/api\/attachments\/[^/]+$/.test(request.url())),
    chips(page).nth(1).locator(".picture-remove").click(),
  ]);
  assert.ok(deleted);
  assert.equal(await chips(page).count(), 2);

  // Refused here: not a picture we take, or one too many.
  await page.setInputFiles(".composer input.picture-input", [file("anim.gif", Buffer.from("GIF89a...."), "image/gif")]);
  await page.locator("#toasts").getByText("Only JPEG, PNG and WebP pictures can be added.").waitFor();
  await transfer(page, "drop", [file("a.png", LEAF), file("b.png", SKY), file("c.png", TONGUE)]);
  await page.locator("#toasts").getByText("At most 4 pictures per message.").waitFor();
  await uploaded(page, 4);
  await chips(page).nth(3).locator(".picture-remove").click();
  await chips(page).nth(2).locator(".picture-remove").click();
  await uploaded(page, 2);

  // Sent: shown above the message, given to the model, the tray empty again.
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/api/chat") && r.method() === "POST"),
    page.press(".composer textarea", "Enter"),
  ]);
  assert.equal(JSON.parse(request.postData()).attachments.length, 2);
  assert.equal(await chips(page).count(), 0);
  const sent = page.locator(".message.user").last().locator(".message-pictures img");
  assert.equal(await sent.count(), 2);
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status !== "streaming", null, { timeout: 30_000 });
  assert.match(await replyText(lastReply(page)), /pictures=2/);
  const asked = stack.upstream.requests.at(-1);
  const shown = picturesOf(asked.messages.at(-1).content);
  assert.equal(shown.length, 2);
  assert.ok(shown[0].startsWith("data:image/png;base64,"), "the local directory gives the model the picture itself");
  assert.deepEqual(Buffer.from(shown[0].split(",")[1], "base64"), TONGUE);

  // After a reload the history shows them, read from the server.
  await page.reload();
  const stored = page.locator(".message.user").last().locator(".message-pictures img");
  await stored.first().waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll(".message-pictures img")].every((image) => image.complete), null, { timeout: 10_000 });
  assert.equal(await loaded(stored), true, "the history's pictures load");
  assert.match(await stored.first().getAttribute("src"), /\/api\/attachments\/local-file\?key=/);
  await page.locator(".message.user").last().evaluate((element) => element.scrollIntoView({ block: "start" }));
  await shot(page, "pictures-history");
  // Two pictures sent, one removed: the removed one's file is gone.
  assert.equal(filesUnder(stack.uploads).length, 2, filesUnder(stack.uploads).join("\n"));
  await close(page);
});

test("图片 in Chinese on a phone: the button, the tray and the sent pictures fit", async () => {
  const page = await open({ locale: "zh-CN", viewport: { width: 390, height: 844 } });
  await registerInUi(page, "tupian@example.com");
  const button = page.locator(".composer .attach-button");
  await button.waitFor();
  assert.equal(await button.getAttribute("aria-label"), "添加图片");
  await page.setInputFiles(".composer input.picture-input", [file("舌头.png", TONGUE), file("叶子.png", LEAF)]);
  await uploaded(page, 2);
  await page.fill(".composer textarea", "请看看我的舌象");
  const overflow = await page.evaluate(() => document.querySelector(".composer-row").scrollWidth - document.querySelector(".composer-row").clientWidth);
  assert.ok(overflow <= 0, `the composer row overflows by ${overflow}px`);
  await shot(page, "pictures-composer-zh-phone");
  await page.press(".composer textarea", "Enter");
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status !== "streaming", null, { timeout: 30_000 });
  const sent = page.locator(".message.user").last().locator(".message-pictures img");
  assert.equal(await sent.count(), 2);
  assert.equal(await sent.first().getAttribute("alt"), "图片 1");
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(wide <= 0, `the page is ${wide}px wider than the phone`);
  await page.locator(".message.user").last().evaluate((element) => element.scrollIntoView({ block: "start" }));
  await shot(page, "pictures-sent-zh-phone");
  await close(page);
});

/** `target/debug/s3-server BUCKET ORIGIN`: resolves to `{origin, root, stop}` once it printed its address. */
function startS3(bucket, site) {
  const child = spawn(join(ROOT, "target/debug/s3-server"), [bucket, site], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`s3-server said nothing:\n${output}`)), 10_000);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const line = output.split("\n")[0];
      if (output.includes("\n")) {
        clearTimeout(timer);
        const [origin, root] = line.trim().split(" ");
        resolve({ origin, root, stop: () => child.kill("SIGTERM") });
      }
    });
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("exit", (code) => reject(new Error(`s3-server exited (${code}):\n${output}`)));
  });
}

test("On an S3-compatible bucket: the browser uploads straight to it, the bucket refuses a tampered or oversized upload, the turn refuses a false picture, deleting the conversation deletes the objects", async () => {
  const port = await freePort();
  const site = `http://127.0.0.1:${port}`;
  const s3 = await startS3("pictures", site);
  const bucketStack = await startStack({
    port,
    env: {
      STORAGE: "s3", STORAGE_BUCKET: "pictures", STORAGE_REGION: "us-east-1", STORAGE_ENDPOINT: s3.origin,
      STORAGE_PATH_STYLE: "true", STORAGE_ACCESS_KEY_ID: "test-s3-access-key", STORAGE_SECRET_ACCESS_KEY: "test-s3-secret-key",
    },
  });
  const objects = () => filesUnder(join(s3.root, "pictures"));
  try {
    const page = await open({ base: bucketStack.base });
    await registerInUi(page, "bucket@example.com", { base: bucketStack.base });
    await page.locator(".composer .attach-button").waitFor();
    const [upload] = await Promise.all([
      page.waitForRequest((request) => request.method() === "POST" && request.url().startsWith(s3.origin)),
      page.setInputFiles(".composer input.picture-input", [file("tongue.png", TONGUE)]),
    ]);
    assert.ok(upload.url().startsWith(`${s3.origin}/pictures`), "the picture goes to the bucket, not through the API");
    await uploaded(page, 1);
    assert.equal(objects().length, 1);
    assert.deepEqual(readFileSync(objects()[0]), TONGUE);

    const reply = await (async () => {
      await page.fill(".composer textarea", "Look at this");
      await page.press(".composer textarea", "Enter");
      await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status !== "streaming", null, { timeout: 30_000 });
      return lastReply(page);
    })();
    assert.match(await replyText(reply), /pictures=1/);
    // The model was given a signed link to the bucket, which reads the picture.
    const [link] = picturesOf(bucketStack.upstream.requests.at(-1).messages.at(-1).content);
    assert.ok(link.startsWith(`${s3.origin}/pictures/chat-img/`) && link.includes("X-Amz-Signature="), link);
    assert.deepEqual(Buffer.from(await (await fetch(link)).arrayBuffer()), TONGUE);
    const shown = page.locator(".message.user").last().locator(".message-pictures img");
    await page.reload();
    await shown.first().waitFor();
    await page.waitForFunction(() => [...document.querySelectorAll(".message-pictures img")].every((image) => image.complete), null, { timeout: 10_000 });
    assert.equal(await loaded(shown), true);
    assert.ok((await shown.first().getAttribute("src")).startsWith(s3.origin));
    await page.locator(".message.user").last().evaluate((element) => element.scrollIntoView({ block: "start" }));
    await shot(page, "pictures-bucket-history");

    // From the page itself: a form used for another key, or for more bytes than it allows, is refused by the bucket.
    const refused = await page.evaluate(async () => {
      const token = localStorage.getItem("auth_token");
      const ask = async (size) => (await fetch("/api/attachments", {
        method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ contentType: "image/png", size }),
      })).json();
      const post = async (upload, bytes, change = {}) => {
        const form = new FormData();
        for (const { name, value } of upload.fields) form.append(name, change[name] ?? value);
        form.append("file", new Blob([bytes], { type: "image/png" }));
        return (await fetch(upload.url, { method: "POST", body: form })).status;
      };
      const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3, 4]);
      const small = await ask(png.length);
      const otherKey = await post(small.upload, png, { key: "chat-img/not-mine.png" });
      const forged = await post(small.upload, png, { "x-amz-signature": "0".repeat(64) });
      const bigger = await post((await ask(4)).upload, png);
      return { otherKey, forged, bigger };
    });
    for (const [what, status] of Object.entries(refused)) assert.ok(status >= 400 && status < 500, `${what}: ${status}`);
    assert.equal(objects().length, 1, "nothing refused was stored");

    // A file that claims to be a PNG and is not: uploaded, then refused by the turn.
    await page.setInputFiles(".composer input.picture-input", [file("fake.png", Buffer.from("<svg>not a png at all</svg>"))]);
    await uploaded(page, 1);
    await page.fill(".composer textarea", "And this one?");
    await page.press(".composer textarea", "Enter");
    await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop()?.dataset.status === "error", null, { timeout: 30_000 });
    assert.match(await lastReply(page).locator(".message-foot .error").innerText(), /not the kind of picture it claims to be: send the message again with another picture/);
    await shot(page, "pictures-refused");

    // Deleting the conversation deletes its pictures from the bucket.
    const conversation = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/chat\/?/, ""));
    const status = await page.evaluate(async (id) => (await fetch(`/api/chat/conversations/${id}`, {
      method: "DELETE", headers: { Authorization: `Bearer ${localStorage.getItem("auth_token")}` },
    })).status, conversation);
    assert.equal(status, 204);
    const left = objects().map((path) => readFileSync(path).toString("latin1"));
    assert.ok(!left.some((bytes) => bytes.startsWith("\x89PNG")), "the sent picture is gone from the bucket");
    await close(page);
  } finally {
    await bucketStack.stop();
    s3.stop();
  }
});

test("Show your tongue: the guide, the photo with its sentence, and what the photo showed under it", async () => {
  const page = await open();
  await registerInUi(page, "tongue@example.com");
  await page.click(".persona.tcm");
  const entry = page.locator("#tongue-entry");
  await entry.waitFor();
  assert.match(await entry.innerText(), /Show your tongue/);
  await entry.click();
  const guide = page.locator("dialog[data-dialog=tongue]");
  await guide.waitFor();
  assert.equal(await guide.locator(".tongue-tips li").count(), 4);
  assert.match(await guide.innerText(), /Daylight by a window/);
  assert.match(await guide.innerText(), /not a diagnosis/);
  await shot(page, "tongue-guide");
  await guide.locator("input.tongue-input").setInputFiles([file("tongue.png", TONGUE)]);
  await guide.waitFor({ state: "detached" });
  await uploaded(page, 1);
  assert.equal(await page.inputValue(".composer textarea"), "Here is a photo of my tongue.");
  await page.press(".composer textarea", "Enter");
  const card = page.locator(".message.user").last().locator(".tongue-seen");
  await card.waitFor({ timeout: 30_000 });
  const text = await card.innerText();
  for (const expected of ["What the photo shows", "Colour", "pale", "white · thin · moist", "swollen", "slight", "An observation, not a diagnosis."]) {
    assert.ok(text.includes(expected), `${expected} in ${text}`);
  }
  assert.ok(!text.includes("tooth marks along the sides"), "the model's free text is never shown");
  assert.equal(stack.upstream.tongueRequests.length, 1, "the photo was observed once");
  const system = stack.upstream.requests.at(-1).messages[0].content;
  assert.match(system, /tongue photo/);
  await page.locator(".message.user").last().evaluate((element) => element.scrollIntoView({ block: "start" }));
  await shot(page, "tongue-seen");
  await close(page);
});

test("看舌象 in Chinese on a phone, where the health consent comes first", async () => {
  const consenting = await startStack({ env: { HEALTH_CONSENT: "required" } });
  try {
    const page = await open({ base: consenting.base, locale: "zh-CN", viewport: { width: 390, height: 844 } });
    await registerInUi(page, "shezhen@example.com", { base: consenting.base });
    await page.click(".persona.tcm");
    // Health information: the TCM adviser (and its tongue photo) come after the consent.
    const consent = page.locator("dialog[data-dialog=health-consent]");
    await consent.waitFor();
    assert.equal(await page.locator("#tongue-entry").count(), 0);
    await consent.locator("button[value=confirm]").click();
    await page.locator("#tongue-entry").click();
    const guide = page.locator("dialog[data-dialog=tongue]");
    await guide.waitFor();
    assert.match(await guide.innerText(), /窗边自然光/);
    await shot(page, "tongue-guide-zh-phone");
    await guide.locator("input.tongue-input").setInputFiles([file("舌头.png", TONGUE)]);
    await uploaded(page, 1);
    assert.equal(await page.inputValue(".composer textarea"), "这是我的舌头照片。");
    await page.press(".composer textarea", "Enter");
    const card = page.locator(".message.user").last().locator(".tongue-seen");
    await card.waitFor({ timeout: 30_000 });
    const text = await card.innerText();
    for (const expected of ["照片所见", "舌色", "淡白", "白苔 · 薄 · 润", "胖大", "这是观察，不是诊断。"]) {
      assert.ok(text.includes(expected), `${expected} in ${text}`);
    }
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(wide <= 0, `the page is ${wide}px wider than the phone`);
    await page.locator(".message.user").last().evaluate((element) => element.scrollIntoView({ block: "start" }));
    await shot(page, "tongue-seen-zh-phone");
    await close(page);
  } finally {
    await consenting.stop();
  }
});
