// Checks that need no browser and no server: the vendored libraries are exactly the pinned npm
// packages, the Markdown renderer neutralises model output, api.js parses event streams and
// Content-Disposition correctly and sends the account calls where the contract says, the fake
// upstream speaks OpenAI's streaming format, and `make site-config` writes a usable config.js.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { TITLE_MODEL, TITLE_TEXT, XSS_REPLY, replyFor, startFakeOpenAI } from "./fake-openai.mjs";
import { vendoredFiles } from "./vendor.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const { renderMarkdown } = await import(pathToFileURL(join(ROOT, "frontend-dist/markdown.js")).href);
const api = await import(pathToFileURL(join(ROOT, "frontend-dist/api.js")).href);

test("frontend-dist/vendor/ holds exactly the pinned npm packages (npm run vendor --prefix tests/e2e)", () => {
  const files = vendoredFiles();
  assert.ok(files.length >= 5);
  for (const { source, target, content } of files) {
    let actual;
    try {
      actual = readFileSync(target);
    } catch {
      assert.fail(`${target} is missing: run npm run vendor --prefix tests/e2e`);
    }
    assert.ok(actual.equals(content), `${target} differs from ${source}: run npm run vendor --prefix tests/e2e`);
  }
});

test("model output cannot inject markup: scripts, event handlers and javascript: links stay text", () => {
  const html = renderMarkdown(XSS_REPLY);
  // No tag from the input survives as a tag; only the renderer's own tags appear.
  const tags = [...html.matchAll(/<([a-z0-9]+)/gi)].map((m) => m[1].toLowerCase());
  assert.deepEqual([...new Set(tags)].sort(), ["a", "p"]);
  assert.doesNotMatch(html, /<(script|img|iframe|svg|b)\b/i);
  // Attributes only appear inside the renderer's <a> tags, and only safe ones.
  for (const [, attributes] of html.matchAll(/<a ([^>]*)>/g)) {
    assert.match(attributes, /^href="https:\/\/[^"]+" target="_blank" rel="noopener noreferrer nofollow"$/);
  }
  assert.doesNotMatch(html, /href="(javascript|data|vbscript):/i);
  // The text is kept, escaped.
  assert.match(html, /&lt;script&gt;window.__xss = &quot;script&quot;&lt;\/script&gt;/);
  assert.match(html, /\[click me\]\(javascript:/);

  for (const [source, expected] of [
    ["[x](JaVaScRiPt:alert(1))", /^<p>\[x\]\(JaVaScRiPt:alert\(1\)\)<\/p>/],
    ["[x](  javascript:alert(1))", /^<p>\[x\]\(/],
    ["[x](vbscript:msgbox)", /^<p>\[x\]/],
    ["[x](/relative)", /^<p>\[x\]\(\/relative\)/],
    ["![t](https://tracker.example/p.png)", /^<p>!<a href="https:\/\/tracker.example\/p.png"/],
    ["<a href=x>y</a>", /^<p>&lt;a href=x&gt;y&lt;\/a&gt;<\/p>/],
    ["`<b>code</b>`", /<code>&lt;b&gt;code&lt;\/b&gt;<\/code>/],
    ["```\n<script>x</script>\n```", /<pre><code>&lt;script&gt;x&lt;\/script&gt;\n<\/code><\/pre>/],
    ["[ok](https://example.com/a?b=1&c=\"2\")", /href="https:\/\/example.com\/a\?b=1&amp;c=%222%22"/],
  ]) {
    assert.match(renderMarkdown(source), expected, source);
  }
});

test("Markdown of ordinary replies renders, Chinese emphasis included", () => {
  const html = renderMarkdown(replyFor([
    { role: "system", content: "你是一位中医养生顾问：学识扎实、语气温和、态度审慎。" },
    { role: "user", content: "秋天如何养肺？" },
  ]));
  assert.match(html, /<h3>秋季润肺养生<\/h3>/);
  assert.match(html, /<li><strong>饮食：<\/strong>多食梨/); // CommonMark alone leaves the ** here
  assert.match(html, /<blockquote>/);
  assert.match(html, /<code>persona=tcm lang=zh hint=none history=1<\/code>/);
  assert.match(html, /&lt;script&gt;window.__injected = true&lt;\/script&gt;/);
  assert.match(renderMarkdown("| a | b |\n|---|---|\n| 1 | 2 |"), /^<div class="table-wrap"><table>/);
});

function streamOf(chunks) {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

test("readEventStream: events split anywhere, CRLF, comments, multi-line data, split UTF-8", async () => {
  const text = ": keep-alive\r\n\r\nevent: start\r\ndata: {\"conversationId\":\"c1\"}\r\n\r\n"
    + "event: delta\ndata: {\"content\":\"乾为天\"}\n\nevent: delta\ndata: line one\ndata: line two\n\n"
    + "event: done\rdata: {\"messageId\":\"m1\"}\r\r";
  const bytes = new TextEncoder().encode(text);
  const expected = [
    { event: "start", data: '{"conversationId":"c1"}' },
    { event: "delta", data: '{"content":"乾为天"}' },
    { event: "delta", data: "line one\nline two" },
    { event: "done", data: '{"messageId":"m1"}' },
  ];
  // Every split point, including inside "\r\n" and inside a three-byte character.
  for (let cut = 1; cut < bytes.length; cut++) {
    const events = [];
    await api.readEventStream(streamOf([bytes.slice(0, cut), bytes.slice(cut)]), (event) => events.push(event));
    assert.deepEqual(events, expected, `split at byte ${cut}`);
  }
  const single = [];
  await api.readEventStream(streamOf([...bytes].map((b) => new Uint8Array([b]))), (event) => single.push(event));
  assert.deepEqual(single, expected, "one byte at a time");
  const unterminated = [];
  await api.readEventStream(streamOf(["event: delta\ndata: {\"content\":\"x\"}"]), (event) => unterminated.push(event));
  assert.deepEqual(unterminated, [{ event: "delta", data: '{"content":"x"}' }]);
});

test("a 503 overloaded is sent once more after its Retry-After; a second one is the caller's", async (t) => {
  const realFetch = globalThis.fetch;
  t.after(() => (globalThis.fetch = realFetch));
  const overloaded = () => new Response(JSON.stringify({ error: { code: "overloaded", message: "busy" } }), {
    status: 503, headers: { "Content-Type": "application/json", "Retry-After": "1" },
  });
  const calls = [];
  let answers = [overloaded(), new Response(JSON.stringify({ user: { id: "u" }, token: "t" }), { status: 201 })];
  globalThis.fetch = async (url, init) => {
    calls.push({ url, init, at: Date.now() });
    return answers.shift();
  };
  const registered = await api.register({ email: "burst@example.com", password: "a good password" });
  assert.equal(registered.token, "t");
  assert.equal(calls.length, 2);
  assert.equal(calls[1].init.body, calls[0].init.body, "the same request again");
  assert.ok(calls[1].at - calls[0].at >= 950, `waited the Retry-After: ${calls[1].at - calls[0].at} ms`);

  calls.length = 0;
  answers = [overloaded(), overloaded(), overloaded()];
  await assert.rejects(api.login({ email: "burst@example.com", password: "x" }), { status: 503, code: "overloaded" });
  assert.equal(calls.length, 2, "once more, not again and again");

  // Other 503s (the database) are the caller's at once.
  calls.length = 0;
  answers = [new Response(JSON.stringify({ error: { code: "database_unavailable", message: "down" } }), { status: 503 })];
  await assert.rejects(api.login({ email: "burst@example.com", password: "x" }), { code: "database_unavailable" });
  assert.equal(calls.length, 1);
});

/** Answers the next fetch with `chunks` as an event stream, each after `gap` ms; records the request. */
function fakeStream(chunks, { gap = 0 } = {}) {
  const sent = [];
  const encoder = new TextEncoder();
  globalThis.fetch = async (url, init) => {
    sent.push({ url, init });
    const body = new ReadableStream({
      async start(controller) {
        for (const chunk of chunks) {
          if (gap) await new Promise((resolve) => setTimeout(resolve, gap));
          controller.enqueue(encoder.encode(chunk));
        }
        controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
  };
  return sent;
}

test("streamed turns resolve at done (a title may follow), and fail plainly otherwise", async (t) => {
  const realFetch = globalThis.fetch;
  t.after(() => (globalThis.fetch = realFetch));
  const start = 'event: start\ndata: {"conversationId":"c1","userMessageId":"u1"}\n\n';
  const delta = (text) => `event: delta\ndata: ${JSON.stringify({ content: text })}\n\n`;
  const done = (reason) => `event: done\ndata: {"conversationId":"c1","messageId":"m1","usage":null,"finishReason":"${reason}"}\n\n`;
  const title = 'event: title\ndata: {"conversationId":"c1","title":"A title"}\n\n';

  // Resolved at `done`, before the title (which comes 200 ms later) has arrived.
  const events = [];
  let titled = null;
  const titleSeen = new Promise((resolve) => (titled = resolve));
  let sent = fakeStream([start + delta("Hel") + delta("lo") + done("completed"), title], { gap: 200 });
  const reply = await api.streamChatMessage({ type: "oracle", messages: [{ role: "user", content: "hi" }] }, {
    onStart: (event) => events.push(["start", event.userMessageId]),
    onDelta: (_piece, soFar) => events.push(["delta", soFar]),
    onTitle: (event) => { events.push(["title", event.title]); titled(); },
  });
  assert.deepEqual(reply, { conversationId: "c1", messageId: "m1", usage: null, finishReason: "completed", content: "Hello" });
  assert.deepEqual(events, [["start", "u1"], ["delta", "Hel"], ["delta", "Hello"]], "no title yet");
  await titleSeen;
  assert.deepEqual(events.at(-1), ["title", "A title"]);
  assert.equal(sent[0].url, "/api/chat");
  assert.equal(sent[0].init.headers.Accept, "text/event-stream");
  assert.equal(JSON.parse(sent[0].init.body).stream, true);

  // A reply thought through: `thinking` pieces first, handed over apart, and kept apart.
  sent = fakeStream([start, 'event: thinking\ndata: {"content":"Hm, "}\n\n', 'event: thinking\ndata: {"content":"so."}\n\n', delta("Yes."),
    'event: done\ndata: {"conversationId":"c1","messageId":"m2","usage":null,"finishReason":"completed","thinkingMs":1500}\n\n']);
  const thoughts = [];
  const thought = await api.streamChatMessage({ type: "oracle", messages: [{ role: "user", content: "hi" }], think: true }, {
    onThinking: (_piece, soFar) => thoughts.push(soFar),
  });
  assert.deepEqual(thoughts, ["Hm, ", "Hm, so."]);
  assert.deepEqual(thought, { conversationId: "c1", messageId: "m2", usage: null, finishReason: "completed", thinkingMs: 1500, content: "Yes.", thinking: "Hm, so." });
  assert.equal(JSON.parse(sent[0].init.body).think, true);

  // Regenerate and edit go to their own paths with the same events; a stopped reply says so.
  sent = fakeStream([start, delta("Part"), done("stopped")]);
  const stopped = await api.regenerateReply("c 1", "m/1", { locale: "en" });
  assert.equal(sent[0].url, "/api/chat/conversations/c%201/messages/m%2F1/regenerate");
  assert.deepEqual(JSON.parse(sent[0].init.body), { locale: "en", stream: true });
  assert.equal(stopped.finishReason, "stopped");
  assert.equal(stopped.content, "Part");
  sent = fakeStream([start, delta("Edited"), done("completed")]);
  await api.editMessage("c1", "u1", { content: "new text", locale: "zh-CN" });
  assert.equal(sent[0].url, "/api/chat/conversations/c1/messages/u1/edit");
  assert.deepEqual(JSON.parse(sent[0].init.body), { content: "new text", locale: "zh-CN", stream: true });

  // An error event, or an end before `done`, rejects with the conversation named.
  fakeStream([start, delta("x"), 'event: error\ndata: {"error":{"code":"upstream_stream_broken","message":"broke"}}\n\n']);
  await assert.rejects(api.streamChatMessage({ type: "oracle", messages: [] }), { code: "upstream_stream_broken", conversationId: "c1" });
  fakeStream([start, delta("x")]);
  await assert.rejects(api.streamChatMessage({ type: "oracle", messages: [] }), { code: "stream_incomplete", conversationId: "c1" });
});

test("ApiError carries status, code, message, retryAfter, conversationId and the body", () => {
  const body = { error: { code: "upstream_error", message: "the assistant is unavailable", conversationId: "c9" } };
  const error = new api.ApiError({ status: 502, body, retryAfter: 3 });
  assert.ok(error instanceof Error);
  assert.equal(error.name, "ApiError");
  assert.equal(error.status, 502);
  assert.equal(error.code, "upstream_error");
  assert.equal(error.message, "the assistant is unavailable");
  assert.equal(error.retryAfter, 3);
  assert.equal(error.conversationId, "c9");
  assert.equal(error.body, body);
  const bare = new api.ApiError({ status: 500, body: null });
  assert.equal(bare.code, "http_500");
  assert.equal(bare.message, "API Error: 500");
});

test("dispositionFilename reads Content-Disposition", () => {
  assert.equal(api.dispositionFilename('attachment; filename="export-20260101T000000Z.json"'), "export-20260101T000000Z.json");
  assert.equal(api.dispositionFilename("attachment; filename=export.ndjson"), "export.ndjson");
  assert.equal(api.dispositionFilename("attachment; filename=\"a.json\"; filename*=UTF-8''%E5%AF%BC%E5%87%BA.json"), "导出.json");
  assert.equal(api.dispositionFilename(null), null);
  assert.equal(api.dispositionFilename("inline"), null);
});

test("the account calls go to the contract's routes, with its bodies; its errors carry their codes", async (t) => {
  const realFetch = globalThis.fetch;
  t.after(() => (globalThis.fetch = realFetch));
  const sent = [];
  let answer = () => new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } });
  globalThis.fetch = async (url, init = {}) => {
    sent.push({ url, method: init.method ?? "GET", body: init.body === undefined ? undefined : JSON.parse(init.body) });
    return answer();
  };
  await api.forgotPassword("a@example.com");
  await api.resetPassword({ token: "t1", password: "new password" });
  await api.verifyEmail("t2");
  await api.getAccount();
  await api.updateAccount({ locale: "zh" });
  await api.sendVerification();
  await api.changePassword({ currentPassword: "old one", newPassword: "new one!" });
  await api.listSessions();
  await api.revokeSession("s/1");
  await api.revokeOtherSessions();
  await api.deleteAccount({ password: "pw" });
  await api.register({ email: "b@example.com", password: "password", locale: "en" });
  assert.deepEqual(sent.map(({ method, url, body }) => [method, url, body]), [
    ["POST", "/api/account/password/forgot", { email: "a@example.com" }],
    ["POST", "/api/account/password/reset", { token: "t1", password: "new password" }],
    ["POST", "/api/account/email/verify", { token: "t2" }],
    ["GET", "/api/account", undefined],
    ["PATCH", "/api/account", { locale: "zh" }],
    ["POST", "/api/account/email/verification", undefined],
    ["POST", "/api/account/password", { currentPassword: "old one", newPassword: "new one!" }],
    ["GET", "/api/account/sessions", undefined],
    ["DELETE", "/api/account/sessions/s%2F1", undefined],
    ["POST", "/api/account/sessions/revoke-others", undefined],
    ["POST", "/api/account/delete", { password: "pw" }],
    ["POST", "/api/auth/register", { email: "b@example.com", password: "password", locale: "en" }],
  ]);

  // The data download: the format in the query, the file named by Content-Disposition.
  sent.length = 0;
  answer = () => new Response('{"account":{}}', { headers: { "Content-Disposition": 'attachment; filename="my-data.ndjson"' } });
  const file = await api.fetchAccountExport({ format: "ndjson" });
  assert.equal(sent[0].url, "/api/account/export?format=ndjson");
  assert.equal(file.filename, "my-data.ndjson");
  assert.equal(await file.blob.text(), '{"account":{}}');

  // Errors: the code, and Retry-After for a 429.
  answer = () => new Response('{"error":{"code":"rate_limited","message":"slow down"}}', { status: 429, headers: { "Retry-After": "90" } });
  await assert.rejects(api.forgotPassword("a@example.com"), { status: 429, code: "rate_limited", retryAfter: 90 });
  answer = () => new Response('{"error":{"code":"invalid_link","message":"no"}}', { status: 400 });
  await assert.rejects(api.verifyEmail("t3"), { status: 400, code: "invalid_link" });
});

test("the fake upstream streams OpenAI chunks, a usage chunk, then [DONE]; and answers whole", async () => {
  const upstream = await startFakeOpenAI({ delayMs: 1 });
  try {
    const messages = [{ role: "system", content: 'You are "The Oracle", a calm guide to the I Ching.' }, { role: "user", content: "hello" }];
    const response = await fetch(`${upstream.baseUrl}/chat/completions`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ model: "m", stream: true, messages }),
    });
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const events = (await response.text()).trim().split("\n\n").map((block) => block.replace(/^data: /, ""));
    assert.equal(events.at(-1), "[DONE]");
    const chunks = events.slice(0, -1).map((data) => JSON.parse(data));
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    assert.ok(chunks.length > 20, "many small pieces");
    assert.equal(chunks[0].object, "chat.completion.chunk");
    assert.match(text, /persona=oracle lang=en hint=none history=1/);
    const whole = await (await fetch(`${upstream.baseUrl}/chat/completions`, {
      method: "POST", body: JSON.stringify({ messages: [...messages.slice(0, 1), { role: "user", content: "[fail]" }] }),
    })).json();
    assert.equal(whole.error.code, "test_failure");
    assert.equal(upstream.requests.length, 2);
  } finally {
    await upstream.close();
  }
});

test("the fake upstream answers the title model with a fixed title, recorded apart from chat requests", async () => {
  const upstream = await startFakeOpenAI({ delayMs: 1 });
  try {
    const ask = async (system) => (await (await fetch(`${upstream.baseUrl}/chat/completions`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: TITLE_MODEL, messages: [{ role: "system", content: system }, { role: "user", content: "User:\nhi\n\nAssistant:\nhello" }] }),
    })).json()).choices[0].message.content;
    assert.match(await ask("You write titles for conversations."), new RegExp(TITLE_TEXT.en));
    assert.match(await ask("你为对话起标题。"), new RegExp(TITLE_TEXT.zh));
    assert.equal(upstream.titleRequests.length, 2);
    assert.equal(upstream.requests.length, 0, "title requests are not chat requests");
  } finally {
    await upstream.close();
  }
});

test("make site-config writes config.js from API_BASE_URL, and rejects quotes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "site-config-"));
  try {
    mkdirSync(join(dir, "frontend-dist"));
    execFileSync("make", ["--no-print-directory", "-s", "-C", dir, "-f", join(ROOT, "Makefile"), "site-config", "API_BASE_URL=https://api.example.com/"]);
    const { config } = await import(pathToFileURL(join(dir, "frontend-dist/config.js")).href);
    assert.equal(config.apiBaseUrl, "https://api.example.com/");
    const bad = spawnSync("make", ["--no-print-directory", "-s", "-C", dir, "-f", join(ROOT, "Makefile"), "site-config", 'API_BASE_URL=x";alert(1);"']);
    assert.notEqual(bad.status, 0);
    // The committed file is the same-origin default.
    const committed = await import(pathToFileURL(join(ROOT, "frontend-dist/config.js")).href);
    assert.equal(committed.config.apiBaseUrl, "");
    assert.equal(api.API_BASE_URL, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
