// Markdown for the assistants' replies, rendered so that model output can never inject HTML:
// markdown-it (vendored from npm into vendor/, see tests/e2e/vendor.mjs) with
// `html: false`, so every `<`, `>` and `&` in the text is escaped; links only to http(s) and
// mailto (no javascript:, data:, vbscript:, relative or protocol-less tricks); no images (no
// remote loads or tracking pixels from a reply). Links open in a new tab without an opener.
import cjkFriendly from "./vendor/markdown-it-cjk-friendly/index.js";
import MarkdownIt from "./vendor/markdown-it/markdown-it.min.js";

const md = new MarkdownIt({ html: false, linkify: true, breaks: true, typographer: false });
// `**饮食：**多吃梨` is bold, as Chinese writers (and models) expect; plain CommonMark says no.
md.use(cjkFriendly);
md.disable(["image"]);

const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i;
md.validateLink = (url) => SAFE_LINK.test(String(url).trim());

const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("target", "_blank");
  tokens[idx].attrSet("rel", "noopener noreferrer nofollow");
  return defaultLinkOpen(tokens, idx, options, env, self);
};
// Wide tables scroll inside the reply instead of widening the page.
md.renderer.rules.table_open = () => '<div class="table-wrap"><table>\n';
md.renderer.rules.table_close = () => "</table></div>\n";

/** HTML for a reply. Safe to assign to innerHTML: no markup of the input survives as markup. */
export function renderMarkdown(source) {
  return md.render(String(source ?? ""));
}

/** Plain text with the five HTML specials escaped. */
export function escapeHtml(text) {
  return md.utils.escapeHtml(String(text ?? ""));
}
