// Checks of the constitution self-assessment's site pieces (issue 25) that need no browser and
// no server: the questions that apply to a person and their numbers, the progress, what is still
// unanswered and what is sent (constitution-data.js); the chart's geometry (constitution-chart.js:
// nine bars on one scale, the thresholds at 60 for the balanced type and 30/40 for the others);
// the verdicts' tones and words and the chart's text alternative in both languages; the calls of
// api.js (routes, bodies, the withdrawal's deleteAssessments); and every text of
// i18n-constitution.js in both languages, clashing with no other text.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

import { recordCalls } from "./fetch-record.mjs";
import { assertStrings } from "./i18n-check.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const SITE = join(ROOT, "frontend-dist");
const load = (file) => import(pathToFileURL(join(SITE, file)).href);
const api = await load("api.js");
const data = await load("constitution-data.js");
const { CHART, chartLayout, scoreX, thresholds } = await load("constitution-chart.js");
const { CONSTITUTION_STRINGS } = await load("i18n-constitution.js");
const others = await Promise.all(["i18n-account.js", "i18n-admin.js", "i18n-usage.js", "i18n-trust.js", "i18n-oracle.js"].map(load));

const TYPES = ["balanced", "qiDeficiency", "yangDeficiency", "yinDeficiency", "phlegmDampness", "dampHeat", "bloodStasis", "qiStagnation", "special"];
const NAMES = {
  zh: ["平和质", "气虚质", "阳虚质", "阴虚质", "痰湿质", "湿热质", "血瘀质", "气郁质", "特禀质"],
  en: ["Balanced", "Qi deficiency", "Yang deficiency", "Yin deficiency", "Phlegm-dampness", "Damp-heat", "Blood stasis", "Qi stagnation", "Special diathesis"],
};
const types = TYPES.map((key, i) => ({ key, zh: NAMES.zh[i], en: NAMES.en[i], about: { zh: "…", en: "…" } }));

/** A questionnaire of the contract's shape: 59 questions for everyone, one for women and one for men (the 30th and 31st). */
function questionnaire() {
  const items = Array.from({ length: 59 }, (_, i) => ({ id: `q${i + 1}`, zh: `问${i + 1}？`, en: `Q${i + 1}?`, sex: null, counts: [{ type: "balanced", reversed: false }] }));
  items.splice(29, 0,
    { id: "female", zh: "女？", en: "F?", sex: "female", counts: [{ type: "dampHeat", reversed: false }] },
    { id: "male", zh: "男？", en: "M?", sex: "male", counts: [{ type: "dampHeat", reversed: false }] });
  return items;
}

/** Example A of the research note: basically balanced, leaning towards qi stagnation. */
const EXAMPLE_A = [
  ["balanced", 62.5, "basically"], ["qiDeficiency", 18.75, "no"], ["yangDeficiency", 21.43, "no"], ["yinDeficiency", 6.25, "no"],
  ["phlegmDampness", 6.25, "no"], ["dampHeat", 12.5, "no"], ["bloodStasis", 17.86, "no"], ["qiStagnation", 32.14, "leaning"], ["special", 7.14, "no"],
].map(([type, score, verdict]) => ({ type, raw: 0, items: 8, score, verdict }));

test("the questions that apply: everyone's, and the one for the sex chosen; numbered in order; sixty in all", () => {
  const items = questionnaire();
  assert.equal(items.length, 61);
  assert.equal(data.questionCount(items), 60);
  assert.equal(data.applicableItems(items, null).length, 59, "before a sex is chosen: everyone's questions");
  assert.deepEqual(data.applicableItems(items, "female").map((i) => i.id).filter((id) => !/^q/.test(id)), ["female"]);
  assert.deepEqual(data.applicableItems(items, "male").map((i) => i.id).filter((id) => !/^q/.test(id)), ["male"]);
  const female = data.numbers(items, "female");
  assert.equal(female.size, 60);
  assert.deepEqual([female.get("q29"), female.get("female"), female.get("q30"), female.get("q59")], [29, 30, 31, 60]);
  assert.equal(female.has("male"), false);
  const none = data.numbers(items, null);
  assert.deepEqual([none.get("q29"), none.get("q30")], [29, 30], "without a sex the numbers close up");
});

test("progress, what is unanswered, and what is sent: only the questions that apply, the other sex's answer left behind", () => {
  const items = questionnaire();
  const draft = data.emptyDraft();
  assert.deepEqual(data.progress(items, draft), { answered: 0, total: 60 });
  const open = data.unanswered(items, draft);
  assert.equal(open.length, 60, "59 questions and the sex");
  assert.deepEqual(open.at(-1), { id: null, number: null });
  for (const item of items.filter((i) => !i.sex)) draft.answers[item.id] = 3;
  assert.deepEqual(data.progress(items, draft), { answered: 59, total: 60 });
  assert.deepEqual(data.unanswered(items, draft), [{ id: null, number: null }], "only the sex is left");
  draft.sex = "male";
  assert.deepEqual(data.unanswered(items, draft), [{ id: "male", number: 30 }]);
  draft.answers.male = 2;
  assert.deepEqual(data.unanswered(items, draft), []);
  assert.deepEqual(data.progress(items, draft), { answered: 60, total: 60 });
  // Changed to female: the men's answer stays in the draft but is not sent, and hers is missing.
  draft.sex = "female";
  assert.deepEqual(data.unanswered(items, draft), [{ id: "female", number: 30 }]);
  draft.answers.female = 5;
  const body = data.submission(items, draft);
  assert.equal(body.sex, "female");
  assert.equal(Object.keys(body.answers).length, 60);
  assert.equal(body.answers.female, 5);
  assert.equal("male" in body.answers, false, "the other sex's question is never sent");
  assert.equal(data.numberList([{ number: 3 }, { number: 7 }, { number: null }]), "3, 7");
  assert.equal(data.numberList(Array.from({ length: 12 }, (_, i) => ({ number: i + 1 })), { max: 3, separator: "、" }), "1、2、3、…");
});

test("a stored draft is taken only as far as it is valid", () => {
  assert.deepEqual(data.cleanDraft(null), { sex: null, answers: {} });
  assert.deepEqual(data.cleanDraft({ sex: "other", answers: { a: 1, b: 6, c: "3", d: 2.5, e: 5 } }), { sex: null, answers: { a: 1, e: 5 } });
  assert.deepEqual(data.cleanDraft({ sex: "female", answers: null }), { sex: "female", answers: {} });
  assert.equal(data.isAnswer(0), false);
  assert.equal(data.isAnswer(3), true);
});

test("verdicts: tones, the keys of their words, scores shown with at most two decimals, the types that fit first", () => {
  assert.deepEqual(["yes", "basically", "leaning", "no"].map(data.tone), ["fit", "basically", "leaning", "none"]);
  assert.equal(data.verdictKey("balanced", "basically"), "balancedBasically");
  assert.equal(data.verdictKey("balanced", "no"), "balancedNo");
  assert.equal(data.verdictKey("qiStagnation", "leaning"), "leaning");
  assert.deepEqual([62.5, 40.625, 39.29, 0, 100, 28.571].map(data.formatScore), ["62.5", "40.63", "39.29", "0", "100", "28.57"]);
  const { fits, others: rest } = data.splitScores(EXAMPLE_A);
  assert.deepEqual(fits.map((s) => s.type), ["balanced", "qiStagnation"]);
  assert.equal(rest.length, 7);
  assert.deepEqual(rest.map((s) => s.type), TYPES.filter((t) => t !== "balanced" && t !== "qiStagnation"), "the others in the scale's order");
  // Several biased types that fit: the highest first.
  const many = EXAMPLE_A.map((s) => (s.type === "qiDeficiency" ? { ...s, score: 40.63, verdict: "yes" } : s.type === "balanced" ? { ...s, verdict: "no" } : s));
  assert.deepEqual(data.splitScores(many).fits.map((s) => s.type), ["qiDeficiency", "qiStagnation"]);
  // Every verdict has its words in both languages.
  for (const language of ["zh", "en"]) {
    const words = CONSTITUTION_STRINGS[language];
    for (const verdict of ["yes", "basically", "leaning", "no"]) assert.ok(words.csVerdict[verdict], `${language} ${verdict}`);
    for (const [type, verdicts] of [["balanced", ["yes", "basically", "no"]], ["dampHeat", ["yes", "leaning", "no"]]]) {
      for (const verdict of verdicts) assert.ok(words.csVerdictLong[data.verdictKey(type, verdict)], `${language} ${type} ${verdict}`);
    }
  }
});

test("the chart: nine bars on one 0–100 scale, balanced first and set apart, thresholds at 60 and at 30/40, nothing overlapping", () => {
  const layout = chartLayout(EXAMPLE_A);
  assert.equal(layout.rows.length, 9);
  assert.deepEqual(layout.rows.map((row) => row.type), TYPES);
  assert.equal(layout.rows[0].barWidth, CHART.width * 0.625);
  assert.equal(layout.rows[7].barWidth, scoreX(32.14));
  assert.equal(scoreX(-3), 0);
  assert.equal(scoreX(140), CHART.width);
  assert.deepEqual(thresholds("balanced"), [60]);
  assert.deepEqual(thresholds("special"), [30, 40]);
  assert.deepEqual(layout.rows[0].marks.map((m) => [m.value, m.x]), [[60, CHART.width * 0.6]]);
  for (const row of layout.rows.slice(1)) assert.deepEqual(row.marks.map((m) => [m.value, m.x]), [[30, CHART.width * 0.3], [40, CHART.width * 0.4]]);
  assert.deepEqual(layout.rows.map((row) => row.tone), ["basically", "none", "none", "none", "none", "none", "none", "leaning", "none"]);
  // Each row below the one before; a name above its bar; marks a little beyond the bar.
  for (const [index, row] of layout.rows.entries()) {
    assert.ok(row.nameY < row.barY, "the name above the bar");
    for (const mark of row.marks) assert.ok(mark.y1 < row.barY && mark.y2 > row.barY + CHART.bar);
    if (index) assert.ok(row.top >= layout.rows[index - 1].barY + CHART.bar + 4, `row ${index} clear of the one above`);
  }
  assert.ok(layout.separator > layout.rows[0].barY + CHART.bar && layout.separator < layout.rows[1].top + 4, "the line that sets balanced apart");
  assert.equal(layout.rows[1].top - layout.rows[0].top, CHART.row + CHART.gap);
  assert.equal(layout.rows[2].top - layout.rows[1].top, CHART.row);
  assert.ok(layout.axis.y > layout.rows[8].barY + CHART.bar && layout.height > layout.axis.y);
  assert.deepEqual(layout.axis.ticks.map((tick) => tick.value), [0, 30, 40, 100]);
});

test("the chart's text alternative names every type with its score and verdict, in Chinese and English", () => {
  const zh = data.chartAlt(EXAMPLE_A, types, CONSTITUTION_STRINGS.zh, "zh");
  assert.match(zh, /^九种体质的转化分，满分 100：平和质 62\.5 分，基本是平和质；气虚质 18\.75 分，否；/);
  assert.match(zh, /气郁质 32\.14 分，有此倾向；特禀质 7\.14 分，否。$/);
  const en = data.chartAlt(EXAMPLE_A, types, CONSTITUTION_STRINGS.en, "en");
  assert.match(en, /^Transformed scores of the nine types, out of 100: Balanced 62\.5, basically balanced; Qi deficiency 18\.75, no; /);
  assert.match(en, /Qi stagnation 32\.14, leaning towards it; Special diathesis 7\.14, no\.$/);
  assert.equal(data.typeName(types, "unknownType", "en"), "unknownType");
});

test("the self-assessment's calls go to the contract's routes; the withdrawal asks to delete the assessments only when told", async (t) => {
  const sent = recordCalls(t);
  await api.getQuestionnaire();
  await api.submitAssessment({ sex: "female", answers: { energy: 4 } });
  await api.listAssessments({ page: 2, pageSize: 5 });
  await api.listAssessments();
  await api.getAssessment("a/1");
  await api.deleteAssessment("a1");
  await api.withdrawHealthConsent();
  await api.withdrawHealthConsent({ deleteConversations: false, deleteAssessments: true });
  await api.withdrawHealthConsent({ deleteConversations: true, deleteAssessments: true });
  assert.deepEqual(sent, [
    ["GET", "/api/constitution/questionnaire", undefined],
    ["POST", "/api/constitution/assessments", { sex: "female", answers: { energy: 4 } }],
    ["GET", "/api/constitution/assessments?page=2&pageSize=5", undefined],
    ["GET", "/api/constitution/assessments", undefined],
    ["GET", "/api/constitution/assessments/a%2F1", undefined],
    ["DELETE", "/api/constitution/assessments/a1", undefined],
    ["DELETE", "/api/account/health-consent?deleteConversations=false", undefined],
    ["DELETE", "/api/account/health-consent?deleteConversations=false&deleteAssessments=true", undefined],
    ["DELETE", "/api/account/health-consent?deleteConversations=true&deleteAssessments=true", undefined],
  ]);
});

test("every text of i18n-constitution.js is in Chinese and in English, with the same placeholders, and clashes with no other text", () => {
  assertStrings("i18n-constitution.js", CONSTITUTION_STRINGS, others.flatMap((module) => Object.values(module)));
  // The disclaimer says what the site must: not a diagnosis, our own questions, the standard named.
  assert.match(CONSTITUTION_STRINGS.en.csDisclaimer, /not a diagnosis[\s\S]*our own[\s\S]*ZYYXH\/T157-2009/);
  assert.match(CONSTITUTION_STRINGS.zh.csDisclaimer, /不是诊断[\s\S]*自行撰写[\s\S]*ZYYXH\/T157-2009/);
  assert.match(CONSTITUTION_STRINGS.en.csAdviserNote, /TCM adviser sees your latest result[\s\S]*delete/);
});

test("the site links the stylesheet and keeps the self-assessment's files short", () => {
  assert.match(readFileSync(join(SITE, "index.html"), "utf8"), /<link rel="stylesheet" href="constitution.css">/);
  for (const file of ["constitution-data.js", "constitution-chart.js", "i18n-constitution.js", "api-constitution.js", "views/constitution.js", "views/constitution-result.js", "constitution.css"]) {
    const lines = readFileSync(join(SITE, file), "utf8").split("\n").length;
    assert.ok(lines <= 500, `${file} has ${lines} lines`);
  }
});
