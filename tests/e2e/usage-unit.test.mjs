// Checks of the usage features' helpers that need no browser and no server: the charts' ticks
// and label spacing, CSV quoting (RFC 4180), the dashboard's range and arithmetic, the search's
// highlighting, and the new API calls' routes and bodies.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const ROOT = new URL("../..", import.meta.url).pathname;
const load = (file) => import(pathToFileURL(join(ROOT, "frontend-dist", file)).href);
const charts = await load("charts.js");
const csv = await load("csv.js");
const data = await load("usage-data.js");
const { markParts, plainSnippet } = await load("highlight.js");
const api = await load("api.js");

test("axis ticks are round numbers from 0 past the largest value; counts step by whole numbers", () => {
  assert.deepEqual(charts.niceTicks(0), [0, 1], "an empty chart still has an axis");
  assert.deepEqual(charts.niceTicks(1), [0, 1]);
  assert.deepEqual(charts.niceTicks(3), [0, 1, 2, 3]);
  assert.deepEqual(charts.niceTicks(7), [0, 2, 4, 6, 8]);
  assert.deepEqual(charts.niceTicks(12), [0, 5, 10, 15], "no 2.5 steps for counts");
  assert.deepEqual(charts.niceTicks(100), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(charts.niceTicks(1234), [0, 250, 500, 750, 1000, 1250]);
  assert.deepEqual(charts.niceTicks(0.4, { integer: false }), [0, 0.1, 0.2, 0.3, 0.4]);
  for (const max of [1, 2, 5, 9, 17, 33, 99, 101, 999, 12345, 987654]) {
    const ticks = charts.niceTicks(max);
    assert.equal(ticks[0], 0);
    assert.ok(ticks.at(-1) >= max && ticks.length <= 7, `${max}: ${ticks}`);
    assert.ok(ticks.every(Number.isInteger), `${max}: whole numbers`);
    const step = ticks[1] - ticks[0];
    assert.ok(ticks.every((tick, i) => tick === i * step), `${max}: even steps`);
    assert.match(String(step), /^(1|2|5|25)0*$/, `${max}: a round step (${step})`);
  }
});

test("x labels are thinned so they never crowd; text widths count CJK as wide", () => {
  assert.equal(charts.labelEvery(30, 640), 3);
  assert.equal(charts.labelEvery(53, 640), 6);
  assert.equal(charts.labelEvery(7, 640), 1);
  assert.equal(charts.labelEvery(1, 10), 1);
  assert.equal(charts.labelEvery(30, 300, 60), 6);
  assert.equal(charts.textWidth("Nov 3", 10), 30);
  assert.equal(charts.textWidth("11月3日", 10), 38);
  assert.deepEqual(charts.chartSize(1000), { width: 900, height: 260 });
  assert.deepEqual(charts.chartSize(340), { width: 340, height: 230 }, "drawn at the phone's width: labels stay 12px");
  assert.deepEqual(charts.chartSize(0), { width: 640, height: 260 });
});

test("CSV: a header row, CRLF after every record, RFC 4180 quoting, no formulas, a BOM", async () => {
  assert.equal(csv.csvField("plain"), "plain");
  assert.equal(csv.csvField(12), "12");
  assert.equal(csv.csvField(0), "0");
  assert.equal(csv.csvField(null), "");
  assert.equal(csv.csvField("a,b"), '"a,b"');
  assert.equal(csv.csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csv.csvField("two\nlines"), '"two\nlines"');
  assert.equal(csv.csvField("cr\rhere"), '"cr\rhere"');
  assert.equal(csv.csvField("易者"), "易者");
  assert.equal(csv.csvField("=HYPERLINK(1)"), "'=HYPERLINK(1)", "a spreadsheet does not run it");
  assert.equal(csv.csvField("+1"), "'+1");
  assert.equal(csv.csvField("-x@example.com"), "'-x@example.com");
  assert.equal(csv.csvField("@home"), "'@home");
  assert.equal(csv.csvField("=a,b"), `"'=a,b"`);
  // Full-width forms, which spreadsheets read as the same signs, and signs after leading spaces.
  for (const sign of ["＝", "＋", "－", "＠"]) assert.equal(csv.csvField(`${sign}HYPERLINK(1)`), `'${sign}HYPERLINK(1)`, sign);
  assert.equal(csv.csvField(" =1+1"), "' =1+1");
  assert.equal(csv.csvField("\u3000＝1"), "'\u3000＝1");
  assert.equal(csv.csvField("a=b"), "a=b", "only a leading sign counts");
  assert.equal(csv.csvField(-3), "-3", "numbers stay numbers");
  const text = csv.toCsv([["Day", "易者", "TCM, adviser"], ["2026-12-01", 3, 0], ["2026-12-02", 1, 2]]);
  assert.equal(text, 'Day,易者,"TCM, adviser"\r\n2026-12-01,3,0\r\n2026-12-02,1,2\r\n');
  const blob = csv.csvBlob([["a"], ["b"]]);
  assert.equal(blob.type, "text/csv;charset=utf-8");
  const bytes = new Uint8Array(await blob.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 3)], [0xef, 0xbb, 0xbf], "UTF-8 byte order mark first");
  assert.equal(new TextDecoder().decode(bytes.slice(3)), "a\r\nb\r\n");
});

test("the dashboard's range: today at the browser's offset, rounded to whole hours", () => {
  const at = (iso) => Date.parse(iso);
  // 17:30 UTC is already tomorrow in Shanghai (+8).
  assert.deepEqual(data.usageQuery("30d", { now: at("2026-12-02T17:30:00Z"), offset: 480 }),
    { from: "2026-11-04", to: "2026-12-03", bucket: "day", utcOffsetMinutes: 480 });
  assert.deepEqual(data.usageQuery("30d", { now: at("2026-12-02T17:30:00Z"), offset: 0 }),
    { from: "2026-11-03", to: "2026-12-02", bucket: "day", utcOffsetMinutes: 0 });
  assert.deepEqual(data.usageQuery("90d", { now: at("2026-03-01T03:00:00Z"), offset: -300 }),
    { from: "2025-12-01", to: "2026-02-28", bucket: "day", utcOffsetMinutes: -300 });
  const year = data.usageQuery("1y", { now: at("2026-12-02T12:00:00Z"), offset: 60 });
  assert.deepEqual(year, { from: "2025-12-03", to: "2026-12-02", bucket: "week", utcOffsetMinutes: 60 });
  const days = (Date.parse(year.to) - Date.parse(year.from)) / 86400e3 + 1;
  assert.ok(days <= 366, `at most 366 days (${days})`);
  assert.equal(data.usageQuery("nonsense", { now: at("2026-12-02T12:00:00Z"), offset: 0 }).from, "2026-11-03");

  const zone = (minutesBehind) => ({ getTimezoneOffset: () => minutesBehind });
  assert.equal(data.browserOffset(zone(-480)), 480, "Shanghai");
  assert.equal(data.browserOffset(zone(-330)), 360, "India: +5:30 rounds to +6");
  assert.equal(data.browserOffset(zone(-345)), 360, "Nepal");
  assert.equal(data.browserOffset(zone(210)), -180, "Newfoundland: −3:30 rounds to −3");
  assert.equal(data.browserOffset(zone(0)), 0);
  assert.ok(Object.is(data.browserOffset(zone(0)), 0), "never -0");
  assert.equal(data.browserOffset(zone(-900)), 840, "kept within the API's range");
  assert.equal(data.offsetName(480), "+8");
  assert.equal(data.offsetName(-180), "−3");
  assert.equal(data.offsetName(0), "");
  assert.equal(data.addDays("2024-02-28", 1), "2024-02-29");
  assert.equal(data.addDays("2026-01-01", -1), "2025-12-31");
});

test("the dashboard's numbers: messages per assistant summed over languages, thumbs-up shares", () => {
  const report = {
    periods: [{ start: "2026-12-01", tokens: 5 }, { start: "2026-12-02", tokens: 7 }, { start: "2026-12-03" }],
    byAssistant: [
      { start: "2026-12-01", assistant: "oracle", language: "zh", messages: 2 },
      { start: "2026-12-01", assistant: "oracle", language: "en", messages: 3 },
      { start: "2026-12-01", assistant: "oracle", language: "unknown", messages: 1 },
      { start: "2026-12-02", assistant: "tcm", language: "en", messages: 4 },
      { start: "2026-11-30", assistant: "tcm", language: "en", messages: 9 }, // outside the periods
    ],
    feedback: [{ assistant: "oracle", up: 3, down: 1 }, { assistant: "tcm", up: 0, down: 0 }],
  };
  assert.deepEqual(data.messagesByAssistant(report), { oracle: [6, 0, 0], tcm: [0, 4, 0] });
  assert.deepEqual(data.feedbackShares(report), [
    { assistant: "oracle", up: 3, down: 1, share: 0.75 },
    { assistant: "tcm", up: 0, down: 0, share: null },
  ]);
  assert.deepEqual(data.feedbackShares({ feedback: [] }).map((row) => row.share), [null, null], "both assistants, always");
  assert.deepEqual(data.column(report, "tokens"), [5, 7, 0]);
  assert.equal(data.sum([1, 2, 3]), 6);
});

test("search highlighting: Latin letters in any case, Chinese as it is, special characters literally", () => {
  assert.deepEqual(markParts("My Insomnia and INSOMNIA", "insomnia"), [
    { text: "My ", match: false }, { text: "Insomnia", match: true }, { text: " and ", match: false }, { text: "INSOMNIA", match: true },
  ]);
  assert.deepEqual(markParts("经常失眠怎么办", "失眠"), [{ text: "经常", match: false }, { text: "失眠", match: true }, { text: "怎么办", match: false }]);
  assert.deepEqual(markParts("a.b(c)", ".b("), [{ text: "a", match: false }, { text: ".b(", match: true }, { text: "c)", match: false }]);
  assert.deepEqual(markParts("nothing here", "zzz"), [{ text: "nothing here", match: false }]);
  assert.deepEqual(markParts("text", "  "), [{ text: "text", match: false }]);
  assert.deepEqual(markParts("", "x"), []);
  // Snippets read as text: a reply's Markdown marks go, and the text before a match is kept short.
  assert.equal(plainSnippet("**The Oracle** heard: “Harmony” ### ䷀ Hexagram"), "The Oracle heard: “Harmony” ䷀ Hexagram");
  assert.equal(plainSnippet("C# and #tag `code`\n\nnext"), "C# and #tag code next");
  assert.equal(plainSnippet("short before ", { keep: 28 }), "short before ");
  const cut = plainSnippet("a very long sentence that goes on and on before the ", { keep: 28 });
  assert.ok(cut.startsWith("…") && cut.endsWith("before the ") && [...cut].length <= 29, cut);
  assert.equal(plainSnippet(null), "");
});

test("the quota, feedback, search and usage calls go to the contract's routes, with its bodies", async (t) => {
  const realFetch = globalThis.fetch;
  t.after(() => (globalThis.fetch = realFetch));
  const sent = [];
  let answer = () => new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } });
  globalThis.fetch = async (url, init = {}) => {
    sent.push({ url, method: init.method ?? "GET", body: init.body === undefined ? undefined : JSON.parse(init.body) });
    return answer();
  };
  await api.getQuota();
  await api.setFeedback("c 1", "m/1", { rating: "up" });
  await api.setFeedback("c1", "m1", { rating: "down", comment: "Too short" });
  await api.searchConversations("失眠 Sleep", { limit: 20 });
  await api.searchConversations("x", { cursor: "next page" });
  await api.getUsage({ from: "2026-11-03", to: "2026-12-02", bucket: "day", utcOffsetMinutes: 0 });
  await api.getUsage();
  answer = () => new Response(null, { status: 204 });
  assert.equal(await api.deleteFeedback("c1", "m1"), null);
  assert.deepEqual(sent.map(({ method, url, body }) => [method, url, body]), [
    ["GET", "/api/chat/quota", undefined],
    ["PUT", "/api/chat/conversations/c%201/messages/m%2F1/feedback", { rating: "up" }],
    ["PUT", "/api/chat/conversations/c1/messages/m1/feedback", { rating: "down", comment: "Too short" }],
    ["GET", "/api/chat/search?q=%E5%A4%B1%E7%9C%A0+Sleep&limit=20", undefined],
    ["GET", "/api/chat/search?q=x&cursor=next+page", undefined],
    ["GET", "/api/admin/usage?from=2026-11-03&to=2026-12-02&bucket=day&utcOffsetMinutes=0", undefined],
    ["GET", "/api/admin/usage", undefined],
    ["DELETE", "/api/chat/conversations/c1/messages/m1/feedback", undefined],
  ]);
  answer = () => new Response('{"error":{"code":"comment_too_long","message":"long"}}', { status: 422 });
  await assert.rejects(api.setFeedback("c1", "m1", { rating: "up", comment: "x".repeat(501) }), { status: 422, code: "comment_too_long" });
  answer = () => new Response('{"error":{"code":"invalid_query","message":"empty"}}', { status: 422 });
  await assert.rejects(api.searchConversations(" "), { status: 422, code: "invalid_query" });
});
