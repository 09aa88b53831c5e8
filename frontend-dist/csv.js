// CSV files of the dashboard's tables (RFC 4180): a header row, fields separated by commas,
// records ended by CRLF, and a field quoted (its quotes doubled) when it holds a comma, a quote
// or a line break. Text cells that a spreadsheet would run as a formula (=, +, -, @ or their
// full-width forms ＝ ＋ － ＠, which spreadsheets read as the same, after any leading spaces; or
// a tab or CR first: an address may start so) get a leading apostrophe. The file starts with a UTF-8 byte
// order mark, so spreadsheets read its Chinese correctly. No DOM at import time.
import { saveFile } from "./api-http.js";

/** How a cell that a spreadsheet would run as a formula starts (JS `\s` covers U+3000 and NBSP). */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/;

/** One field: numbers as they are, text quoted when it must be. */
export function csvField(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `rows` (the header first) as CSV text, every record ended by CRLF. */
export function toCsv(rows) {
  return rows.map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** The file: a Blob of `rows` as CSV (with the byte order mark). */
export function csvBlob(rows) {
  return new Blob(["\uFEFF", toCsv(rows)], { type: "text/csv;charset=utf-8" });
}

/** Hands `rows` as `filename` to the browser to save; resolves to `{blob, filename}`. */
export function downloadCsv(filename, rows) {
  return saveFile({ blob: csvBlob(rows), filename });
}
