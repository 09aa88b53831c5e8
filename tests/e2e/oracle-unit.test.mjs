// Checks of issue 25's site pieces that need no browser and no server: the drawing of a
// hexagram (oracle-draw.js: bars bottom first, yang solid, yin broken, the changing lines'
// marks, the relating hexagram's values), the readings' calls of api.js (routes and bodies), and
// every text of i18n-oracle.js in both languages, clashing with no other text.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import { recordCalls } from "./fetch-record.mjs";
import { assertStrings } from "./i18n-check.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const SITE = join(ROOT, "frontend-dist");
const load = (file) => import(pathToFileURL(join(SITE, file)).href);
const api = await load("api.js");
const { BAR, drawingSize, hexagramBars, relatingValues } = await load("oracle-draw.js");
const { ORACLE_STRINGS } = await load("i18n-oracle.js");
const others = await Promise.all(["i18n-account.js", "i18n-admin.js", "i18n-usage.js", "i18n-trust.js"].map(load));

test("the bars of 泰 with lines 2 and 5 changing: bottom first, yang solid, yin broken, marks on the changing lines", () => {
  const bars = hexagramBars([7, 9, 7, 8, 6, 8]);
  assert.equal(bars.length, 6);
  assert.deepEqual(bars.map((bar) => bar.position), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(bars.map((bar) => bar.yang), [true, true, true, false, false, false]);
  assert.deepEqual(bars.map((bar) => bar.segments.length), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(bars.map((bar) => bar.changing), [false, true, false, false, true, false]);
  assert.deepEqual(bars.map((bar) => bar.mark), [null, "o", null, null, "x", null]);
  // The bottom line is drawn lowest; each line above the one before, none overlapping.
  const ys = bars.map((bar) => bar.y);
  assert.deepEqual([...ys].sort((a, b) => b - a), ys);
  for (let i = 1; i < 6; i++) assert.equal(ys[i - 1] - ys[i], BAR.height + BAR.gap);
  assert.equal(ys[0] + BAR.height, drawingSize().height);
  // A broken line's halves leave a gap in the middle and stay within the bar's width.
  const [left, right] = bars[3].segments;
  assert.ok(left.x + left.width < right.x);
  assert.equal(right.x + right.width, BAR.width);
});

test("the relating hexagram: 6 becomes yang, 9 becomes yin, the rest stay; six values or an error", () => {
  assert.deepEqual(relatingValues([7, 9, 7, 8, 6, 8]), [7, 8, 7, 8, 7, 8]); // 既济
  assert.deepEqual(relatingValues([6, 6, 6, 9, 9, 9]), [7, 7, 7, 8, 8, 8]);
  assert.deepEqual(relatingValues([7, 8, 7, 8, 7, 8]), [7, 8, 7, 8, 7, 8]);
  assert.throws(() => hexagramBars([7, 8, 7]));
});

test("the readings' calls go to the oracle's routes, with their bodies", async (t) => {
  const sent = recordCalls(t);
  await api.castReading({ question: "q", method: "coins", lines: [7, 7, 7, 7, 7, 7] });
  await api.castReading({ question: "q", method: "manual", lines: [7, 9, 7, 8, 6, 8] });
  await api.listReadings({ q: "泰", page: 2, pageSize: 10 });
  await api.listReadings();
  await api.getReading("a/b");
  await api.deleteReading("r1");
  await api.sendChatMessage({ type: "oracle", messages: [{ role: "user", content: "q" }], readingId: "r1" });
  assert.deepEqual(sent, [
    ["POST", "/api/oracle/readings", { question: "q", method: "coins" }],
    ["POST", "/api/oracle/readings", { question: "q", method: "manual", lines: [7, 9, 7, 8, 6, 8] }],
    ["GET", "/api/oracle/readings?q=%E6%B3%B0&page=2&pageSize=10", undefined],
    ["GET", "/api/oracle/readings", undefined],
    ["GET", "/api/oracle/readings/a%2Fb", undefined],
    ["DELETE", "/api/oracle/readings/r1", undefined],
    ["POST", "/api/chat", { type: "oracle", messages: [{ role: "user", content: "q" }], readingId: "r1" }],
  ]);
});

test("every text of i18n-oracle.js is in Chinese and in English, with the same placeholders, and clashes with no other text", () => {
  assertStrings("i18n-oracle.js", ORACLE_STRINGS, others.flatMap((module) => Object.values(module)));
});
