// The check every i18n-*.js file of the site passes (used by the *-unit tests): the same keys in
// Chinese and English, the same {placeholders}, nothing empty, and no key that another strings
// file, or i18n.js itself (the table they are all merged into), already defines.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const SITE = join(new URL("../..", import.meta.url).pathname, "frontend-dist");

/** Every key path of a strings object ("errors.terms_required", "reportReasons.wrong"). */
export function keyPaths(node, prefix = "") {
  return Object.entries(node).flatMap(([key, value]) => (value && typeof value === "object" && !Array.isArray(value)
    ? keyPaths(value, `${prefix}${key}.`)
    : [`${prefix}${key}`]));
}

/** Checks `strings` ({zh, en}) of `file` against `others`, the other files' strings objects. */
export function assertStrings(file, strings, others) {
  const zh = keyPaths(strings.zh).sort();
  const en = keyPaths(strings.en).sort();
  assert.deepEqual(zh, en, "the same keys in both languages");
  const get = (language, path) => path.split(".").reduce((node, part) => node[part], strings[language]);
  for (const path of zh) {
    const holes = (text) => [...String(text).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(holes(get("zh", path)), holes(get("en", path)), `the placeholders of ${path}`);
    assert.ok(String(get("zh", path)).trim() && String(get("en", path)).trim(), `${path} is not empty`);
  }
  // Merged into one table (i18n.js): a key of these must not replace another file's.
  const taken = new Set(others.flatMap((other) => keyPaths(other.en)));
  assert.deepEqual(en.filter((path) => taken.has(path)), [], `no key of ${file} is defined elsewhere`);
  // i18n.js's own keys: read from its source (importing it needs a DOM).
  const own = readFileSync(join(SITE, "i18n.js"), "utf8");
  for (const path of en.filter((p) => !p.includes("."))) {
    assert.doesNotMatch(own, new RegExp(`^\\s{4}${path}:`, "m"), `${path} is also in i18n.js`);
  }
}
