// The constitution self-assessment's answers and words, as plain data (no DOM, no i18n.js:
// unit-tested in Node): which questions apply to a person (one question is asked of women, one
// of men; the rest of everyone), their numbers, how many are answered, what goes to the server,
// the verdicts' tones and words, and the result's text alternative. `items`, `types` and
// `options` are those of GET /api/constitution/questionnaire.

export const SEXES = ["female", "male"];

/** Whether `value` is one of the five answers (1–5). */
export function isAnswer(value) {
  return Number.isInteger(value) && value >= 1 && value <= 5;
}

/** The questions asked of a person of `sex` (before a sex is chosen: those asked of everyone). */
export function applicableItems(items, sex) {
  return items.filter((item) => !item.sex || item.sex === sex);
}

/** How many questions a person answers: everyone's, and one of the questions that depend on sex. */
export function questionCount(items) {
  const common = items.filter((item) => !item.sex).length;
  return common + (items.some((item) => item.sex) ? 1 : 0);
}

/** The number each question shown has (1, 2, …), in the questionnaire's order: a Map id → n. */
export function numbers(items, sex) {
  return new Map(applicableItems(items, sex).map((item, index) => [item.id, index + 1]));
}

/** `{answered, total}`: the questions that apply answered so far, out of all a person answers. */
export function progress(items, draft) {
  const answered = applicableItems(items, draft.sex).filter((item) => isAnswer(draft.answers[item.id])).length;
  return { answered, total: questionCount(items) };
}

/**
 * The questions still to answer, in order: `[{id, number}]` (number null for the question that
 * waits for a sex to be chosen). Empty when the request may go.
 */
export function unanswered(items, draft) {
  const numbered = numbers(items, draft.sex);
  const open = applicableItems(items, draft.sex)
    .filter((item) => !isAnswer(draft.answers[item.id]))
    .map((item) => ({ id: item.id, number: numbered.get(item.id) }));
  if (!draft.sex && items.some((item) => item.sex)) open.push({ id: null, number: null });
  return open;
}

/** "3, 7, 12" (at most `max` numbers, then "…"). */
export function numberList(open, { max = 8, separator = ", " } = {}) {
  const shown = open.filter((entry) => entry.number).map((entry) => entry.number);
  return shown.slice(0, max).join(separator) + (shown.length > max ? `${separator}…` : "");
}

/**
 * The body of POST /api/constitution/assessments: `{sex, answers}` with exactly the questions
 * that apply to the sex chosen (an answer to the other sex's question, given before the sex was
 * changed, stays behind).
 */
export function submission(items, draft) {
  const answers = {};
  for (const item of applicableItems(items, draft.sex)) {
    if (isAnswer(draft.answers[item.id])) answers[item.id] = draft.answers[item.id];
  }
  return { sex: draft.sex, answers };
}

/** An empty draft: no sex chosen, nothing answered. */
export function emptyDraft() {
  return { sex: null, answers: {} };
}

/** A draft read back from storage, or an empty one when it is not one. */
export function cleanDraft(value) {
  const draft = emptyDraft();
  if (!value || typeof value !== "object") return draft;
  if (SEXES.includes(value.sex)) draft.sex = value.sex;
  for (const [id, answer] of Object.entries(value.answers ?? {})) {
    if (isAnswer(answer)) draft.answers[id] = answer;
  }
  return draft;
}

/** The tone a verdict is drawn in: "fit" (yes), "basically", "leaning" or "none". */
export function tone(verdict) {
  return verdict === "yes" ? "fit" : verdict === "basically" || verdict === "leaning" ? verdict : "none";
}

/** The key of a verdict's words under csVerdictLong ("balancedBasically", "leaning", …). */
export function verdictKey(type, verdict) {
  if (type === "balanced") return `balanced${verdict[0].toUpperCase()}${verdict.slice(1)}`;
  return verdict;
}

/** A score as shown: at most two decimals, no trailing zeros ("62.5", "40.63", "0"). */
export function formatScore(score) {
  const value = Number(score);
  if (!Number.isFinite(value)) return "";
  return String(Math.round(value * 100) / 100);
}

/** The types that fit (any verdict but "no"), highest score first, and the others in the scale's order. */
export function splitScores(scores) {
  const fits = scores.filter((score) => score.verdict !== "no");
  // Balanced leads when it fits; the biased types that fit follow, highest first.
  fits.sort((a, b) => (a.type === "balanced" ? -1 : b.type === "balanced" ? 1 : b.score - a.score));
  return { fits, others: scores.filter((score) => score.verdict === "no") };
}

/** A type's name in `language` ("zh" or "en"), from the questionnaire's types (its key if unknown). */
export function typeName(types, key, language) {
  const type = types.find((entry) => entry.key === key);
  return type ? (type[language] ?? type.en) : key;
}

/**
 * The chart's text alternative: every type with its score and verdict in words. `words` are the
 * language's strings (CONSTITUTION_STRINGS[language]).
 */
export function chartAlt(scores, types, words, language) {
  const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
  const list = scores.map((score) => fill(words.csChartAltItem, {
    name: typeName(types, score.type, language),
    score: formatScore(score.score),
    verdict: words.csVerdictLong[verdictKey(score.type, score.verdict)] ?? score.verdict,
  }));
  return fill(words.csChartAlt, { list: list.join(language === "zh" ? "；" : "; ") });
}
