// The usage dashboard's arithmetic, apart from its DOM so the tests can check it in Node: the
// range asked for (dates at the browser's offset, rounded to whole hours), and the report's
// numbers shaped for the charts (messages per assistant summed over the reply languages,
// thumbs-up shares).

export const ASSISTANTS = ["oracle", "tcm"];
/** The ranges offered: days back from today (today included) and the bucket. */
export const RANGES = {
  "30d": { days: 30, bucket: "day" },
  "90d": { days: 90, bucket: "day" },
  "1y": { days: 365, bucket: "week" },
};

/** The browser's UTC offset in minutes, rounded to whole hours, within what the API takes. */
export function browserOffset(date = new Date()) {
  const hours = Math.round(-date.getTimezoneOffset() / 60);
  return Math.min(840, Math.max(-720, hours * 60)) || 0;
}

/** "YYYY-MM-DD" of the day `ms` falls on at `offsetMinutes`. */
export function dayAt(ms, offsetMinutes) {
  return new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 10);
}

/** "YYYY-MM-DD" `days` after `day` (negative: before). */
export function addDays(day, days) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** The query for a range choice ("30d", "90d", "1y"): `{from, to, bucket, utcOffsetMinutes}`. */
export function usageQuery(choice, { now = Date.now(), offset = browserOffset(new Date(now)) } = {}) {
  const range = RANGES[choice] ?? RANGES["30d"];
  const to = dayAt(now, offset);
  return { from: addDays(to, 1 - range.days), to, bucket: range.bucket, utcOffsetMinutes: offset };
}

/** "UTC+8", "UTC−3:30", "UTC": an offset in minutes. */
export function offsetName(minutes) {
  if (!minutes) return "";
  const sign = minutes > 0 ? "+" : "−";
  const h = Math.floor(Math.abs(minutes) / 60);
  const m = Math.abs(minutes) % 60;
  return `${sign}${h}${m ? `:${String(m).padStart(2, "0")}` : ""}`;
}

/** Messages per period per assistant (summed over languages): `{oracle: [...], tcm: [...]}`, aligned with `periods`. */
export function messagesByAssistant(report) {
  const index = new Map(report.periods.map((period, i) => [period.start, i]));
  const out = Object.fromEntries(ASSISTANTS.map((assistant) => [assistant, report.periods.map(() => 0)]));
  for (const row of report.byAssistant ?? []) {
    const i = index.get(row.start);
    if (i === undefined) continue;
    out[row.assistant] ??= report.periods.map(() => 0);
    out[row.assistant][i] += row.messages;
  }
  return out;
}

/** The thumbs per assistant: `[{assistant, up, down, share}]` (`share` up/(up+down), null without ratings). */
export function feedbackShares(report) {
  const rows = new Map((report.feedback ?? []).map((row) => [row.assistant, row]));
  const names = [...new Set([...ASSISTANTS, ...rows.keys()])];
  return names.map((assistant) => {
    const { up = 0, down = 0 } = rows.get(assistant) ?? {};
    return { assistant, up, down, share: up + down ? up / (up + down) : null };
  });
}

/** A column of the periods: `key` of each (a number). */
export const column = (report, key) => report.periods.map((period) => Number(period[key] ?? 0));

/** The sum of numbers. */
export const sum = (values) => values.reduce((total, value) => total + value, 0);
