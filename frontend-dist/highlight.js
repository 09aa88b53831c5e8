// Where a search's words are in a text, as the API matches them: Chinese (and any other script)
// as it is, Latin letters whatever their case. No DOM, so the tests can check it in Node.

const special = /[.*+?^${}()|[\]\\]/g;

/** `text` cut into `[{text, match}]` pieces, `match` true where `query` occurs. */
export function markParts(text, query) {
  const source = String(text ?? "");
  const needle = String(query ?? "").trim();
  if (!needle || !source) return source ? [{ text: source, match: false }] : [];
  const pattern = new RegExp(needle.replace(special, "\\$&"), "giu");
  const parts = [];
  let last = 0;
  for (const found of source.matchAll(pattern)) {
    if (!found[0]) break;
    if (found.index > last) parts.push({ text: source.slice(last, found.index), match: false });
    parts.push({ text: found[0], match: true });
    last = found.index + found[0].length;
  }
  if (last < source.length) parts.push({ text: source.slice(last), match: false });
  return parts;
}

/**
 * A snippet's text as it reads: the Markdown marks of a reply (`**`, `__`, backticks, a heading's
 * #s) left out and runs of spaces as one; `keep` (the text before the match) cut to its last
 * `keep` characters, with an ellipsis, so the match is never clipped away.
 */
export function plainSnippet(text, { keep = 0 } = {}) {
  let plain = String(text ?? "").replace(/\*\*|__|`+/g, "").replace(/(^|\s)#{1,6}(?=\s)/g, "$1").replace(/\s+/g, " ");
  if (keep) {
    const chars = [...plain];
    if (chars.length > keep) plain = `…${chars.slice(chars.length - keep).join("").replace(/^\S*\s(?=\S)/, (cut) => (cut.length < 12 ? "" : cut))}`;
  }
  return plain;
}
